"""How large a Query request may be, and AWS's errors for one that is larger.

Every bound keeps a request's cost linear in its own size and small (DESIGN rule 8):

* the body: ``MAX_BODY_BYTES``. The largest input of any operation served here is a
  131,072-character policy document, 393,216 bytes once fully percent-encoded; a
  larger body is refused from its Content-Length, or as soon as more arrives, before
  the rest is read;
* the request's head (request line and headers), query string included:
  ``MAX_HEAD_BYTES``, enforced by ``protocol.BoundedHeadProtocol`` before the app is
  called, and for the query string by the endpoint too (SDKs send Query operations
  as POST; a presigned URL is a few hundred bytes);
* ``MAX_HEADERS`` header lines: SigV4 joins the values of every signed header, so the
  header count times the SignedHeaders list would otherwise grow quadratically;
* ``MAX_PARAMETERS`` parameters (counted before they are decoded): each costs a dict
  entry and a path in the parameter trie;
* ``MAX_NAME_PARTS`` dot-separated parts in a parameter's name (the deepest input of
  the IAM and STS models, ``A.member.1.B.member.2``, has six): each part is a trie node;
* ``MAX_INDEX_DIGITS`` digits in a list position (``member.N``): Python parses a
  decimal string in quadratic time, and refuses one of more than 4,300 digits.
"""

from __future__ import annotations

from selfiam.domain.errors import AwsError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADERS",
    "MAX_HEAD_BYTES",
    "MAX_INDEX_DIGITS",
    "MAX_NAME_PARTS",
    "MAX_PARAMETERS",
    "InvalidQueryParameter",
    "RequestEntityTooLarge",
    "RequestHeaderSectionTooLarge",
    "check_parameter_count",
]

MAX_BODY_BYTES = 512 * 1024
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
MAX_PARAMETERS = 2_000
MAX_NAME_PARTS = 8
MAX_INDEX_DIGITS = 9


class RequestEntityTooLarge(AwsError):
    """AWS's common error for a request entity larger than the service accepts."""

    code = "RequestEntityTooLargeException"
    status = 413
    sender_fault = True


class InvalidQueryParameter(AwsError):
    """AWS's common error: "The AWS query string is malformed or does not adhere to AWS
    standards." """

    code = "InvalidQueryParameter"
    status = 400
    sender_fault = True


def body_too_large() -> RequestEntityTooLarge:
    return RequestEntityTooLarge(
        f"The request entity is too large: at most {MAX_BODY_BYTES} bytes are accepted."
    )


def query_too_large() -> RequestEntityTooLarge:
    return RequestEntityTooLarge(
        f"The query string is too large: at most {MAX_HEAD_BYTES} bytes are accepted."
    )


class RequestHeaderSectionTooLarge(AwsError):
    """The code AWS (S3) answers a request whose header section is too large with."""

    code = "RequestHeaderSectionTooLarge"
    status = 400
    sender_fault = True


def too_many_headers() -> RequestHeaderSectionTooLarge:
    return RequestHeaderSectionTooLarge(
        f"Your request has too many headers: at most {MAX_HEADERS} are accepted."
    )


def check_parameter_count(query_string: str, body: bytes) -> None:
    """Refuse a request with more than MAX_PARAMETERS ``&``-separated fields in all."""
    count = query_string.count("&") + 1 if query_string else 0
    count += body.count(b"&") + 1 if body else 0
    if count > MAX_PARAMETERS:
        raise InvalidQueryParameter(f"The request has more than {MAX_PARAMETERS} parameters.")


def name_too_deep(name: str) -> InvalidQueryParameter:
    return InvalidQueryParameter(
        f"Parameter name '{name[:128]}' has more than {MAX_NAME_PARTS} dot-separated parts."
    )


def index_too_long(name: str) -> InvalidQueryParameter:
    return InvalidQueryParameter(
        f"Parameter name '{name[:128]}' has a list position of more than {MAX_INDEX_DIGITS} digits."
    )
