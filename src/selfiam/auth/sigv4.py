"""AWS Signature Version 4 verification, exactly as botocore signs IAM and STS requests.

Two steps, with the key lookup in between (the caller owns it):

1. ``parse_auth`` reads the Authorization header (or the presigned ``X-Amz-*``
   query parameters) into a ``SigV4Credential``, rejecting malformed ones with
   AWS's IncompleteSignature / SignatureDoesNotMatch messages;
2. the caller finds the access key and derives its signing key
   (``derive_signing_key``, cacheable per key, date, region and service);
3. ``verify`` rebuilds the canonical request and string to sign and compares
   signatures in constant time. The clock is passed in, never read here.

A credential scope must name a service selfiam answers (``iam`` or ``sts``) and a
region of one of AWS's partitions as botocore's ``endpoints.json`` lists them (aws,
aws-cn, aws-us-gov, the ISO partitions...): both are checked while parsing, before
any signing key is derived, so a request cannot make the server derive (or cache)
keys for scopes it invents. Pseudo-regions such as ``aws-global`` are refused, as
AWS refuses them.

Like AWS for every service but S3, a signature is valid for 15 minutes either
side of its X-Amz-Date, presigned or not: STS and IAM ignore X-Amz-Expires
(aws-sdk-go#2167; EKS tokens presigned with X-Amz-Expires=0 or 60 work for the
full 15 minutes), so selfiam does too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache, cached_property
from urllib.parse import quote, unquote_plus

from selfiam.domain.errors import (
    IncompleteSignature,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
)

__all__ = [
    "ALGORITHM",
    "HttpRequest",
    "SigV4Credential",
    "derive_signing_key",
    "parse_auth",
    "regions",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICES = frozenset({"iam", "sts"})
MAX_SKEW = timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_BASIC_FORMAT = "%Y%m%dT%H%M%SZ"
_BASIC_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
)


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request that SigV4 covers.

    ``path`` is the path as sent on the wire (still percent-encoded) and
    ``query_string`` the raw query without ``?``. ``headers`` may be any mapping;
    a Starlette ``Headers`` keeps repeated headers, which are then signed joined
    with commas as SigV4 requires.
    """

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes = b""

    @cached_property
    def _header_index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            index.setdefault(name.lower(), []).append(value)
        return index

    def header(self, name: str) -> str | None:
        """The first value of a header, looked up case-insensitively."""
        values = self._header_index.get(name.lower())
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return self._header_index.get(name.lower(), [])

    @cached_property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The decoded query parameters, in order, repeats kept (form rules: ``+`` is a space)."""
        pairs = []
        for part in self.query_string.split("&"):
            if part:
                key, _, value = part.partition("=")
                pairs.append((unquote_plus(key), unquote_plus(value)))
        return pairs


@dataclass(frozen=True)
class SigV4Credential:
    """What a request claims: who signed it, for which scope, and the signature."""

    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    amz_date: datetime  # the request's timestamp (X-Amz-Date or Date), aware UTC
    security_token: str | None = field(default=None, repr=False)
    presigned: bool = False
    expires: int | None = None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@cache
def regions() -> frozenset[str]:
    """Every region of every partition in botocore's ``endpoints.json``, loaded once."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


# --- parse ----------------------------------------------------------------------------------


def parse_auth(req: HttpRequest) -> SigV4Credential:
    """Read the request's SigV4 authentication, without checking the signature.

    Raises MissingAuthenticationToken when the request carries none,
    IncompleteSignature when it is malformed and SignatureDoesNotMatch when its
    scope cannot be right (wrong terminator, service, or date), as AWS does.
    """
    header = req.header("Authorization")
    if header is not None and header.strip():
        return _parse_header(req, header)
    if "X-Amz-" in req.query_string:
        query = dict(req.query_pairs)
        if any(
            name in query for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
        ):
            return _parse_presigned(query)
    raise MissingAuthenticationToken("Request is missing Authentication Token")


def _parse_header(req: HttpRequest, header: str) -> SigV4Credential:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals:
            raise IncompleteSignature(
                f"'{part}' not a valid key=value pair (missing equal-sign) in Authorization "
                f"header: '{header}'."
            )
        fields[name.strip()] = value.strip()
    amz_date = req.header("X-Amz-Date")
    date_header = req.header("Date")
    problems = [
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if amz_date is None and date_header is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    if problems:
        raise IncompleteSignature("".join(problems) + f"Authorization={header}")
    if amz_date is not None:
        when, source = _basic_date(amz_date), amz_date
    else:
        assert date_header is not None
        when, source = _http_date(date_header), date_header
    return _credential(
        fields["Credential"],
        fields["SignedHeaders"],
        fields["Signature"],
        when,
        source,
        security_token=req.header("X-Amz-Security-Token"),
        presigned=False,
        expires=None,
    )


def _parse_presigned(query: Mapping[str, str]) -> SigV4Credential:
    missing = [name for name in _PRESIGN_PARAMS if not query.get(name)]
    if missing:
        listed = ", ".join(f"'{name}'" for name in missing)
        raise IncompleteSignature(
            f"AWS query-string parameters must include {listed}. Re-examine the query-string parameters."
        )
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'")
    expires: int | None = None
    raw_expires = query.get("X-Amz-Expires")
    if raw_expires is not None:
        if not (raw_expires.isascii() and raw_expires.isdigit()):
            raise IncompleteSignature(
                f"X-Amz-Expires must be a non-negative integer number of seconds, got '{raw_expires}'."
            )
        expires = int(raw_expires)
    return _credential(
        query["X-Amz-Credential"],
        query["X-Amz-SignedHeaders"],
        query["X-Amz-Signature"],
        _basic_date(query["X-Amz-Date"]),
        query["X-Amz-Date"],
        security_token=query.get("X-Amz-Security-Token"),
        presigned=True,
        expires=expires,
    )


def _credential(
    credential: str,
    signed_headers: str,
    signature: str,
    when: datetime,
    date_source: str,
    *,
    security_token: str | None,
    presigned: bool,
    expires: int | None,
) -> SigV4Credential:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != "aws4_request":
        raise SignatureDoesNotMatch(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )
    if service not in SERVICES:
        # Both services are served here; name the one most requests are for.
        raise SignatureDoesNotMatch("Credential should be scoped to correct service: 'iam'. ")
    if region not in regions():
        raise SignatureDoesNotMatch(
            f"Credential should be scoped to a valid region, not '{region}'. "
        )
    request_day = f"{when.year:04d}{when.month:02d}{when.day:02d}"
    if date != request_day:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{request_day}', from '{date_source}'."
        )
    # Each name once (a client never repeats one): repeats would multiply the canonical
    # request's size by the headers' size. A client that did repeat one gets a mismatch.
    names = tuple(
        dict.fromkeys(name.strip().lower() for name in signed_headers.split(";") if name.strip())
    )
    if "host" not in names:
        raise IncompleteSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    return SigV4Credential(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=names,
        signature=signature,
        amz_date=when,
        security_token=security_token,
        presigned=presigned,
        expires=expires,
    )


def _basic_date(value: str) -> datetime:
    # A regex and the constructor: strptime is an order of magnitude slower.
    match = _BASIC_DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        return datetime(*map(int, match.groups()), tzinfo=UTC)  # type: ignore[misc]
    except ValueError:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def _http_date(value: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise IncompleteSignature(f"Date must be in RFC 1123 format. Got '{value}'.") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- verify ---------------------------------------------------------------------------------


def verify(req: HttpRequest, cred: SigV4Credential, signing_key: bytes, now: datetime) -> None:
    """Check the request's signature and freshness; return quietly if both hold.

    Raises SignatureDoesNotMatch (AWS's wording; never the expected signature)
    when the signature differs or the timestamp is more than 15 minutes away
    from ``now``, and IncompleteSignature when a signed header is absent.
    """
    _check_time(cred.amz_date, now)
    body_hash = hashlib.sha256(req.body).hexdigest()
    declared = _declared_payload_hash(req, cred)
    # A declared hash is what gets signed: it must describe the body we will act
    # on, so an unsigned body is only accepted when it is empty.
    if declared not in (None, body_hash) and not (declared == UNSIGNED_PAYLOAD and not req.body):
        raise SignatureDoesNotMatch(_MISMATCH)
    candidates = [declared or body_hash]
    if cred.presigned and declared is None and not req.body:
        # botocore presigns IAM/STS over the empty body's hash; S3-style signers
        # use UNSIGNED-PAYLOAD. Both describe an empty body.
        candidates.append(UNSIGNED_PAYLOAD)
    stem = _canonical_stem(req, cred)
    for payload_hash in candidates:
        canonical = f"{stem}\n{payload_hash}"
        string_to_sign = (
            f"{ALGORITHM}\n{cred.amz_date.strftime(_BASIC_FORMAT)}\n{cred.scope}\n"
            f"{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
        )
        expected = hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode("ascii"), cred.signature.encode("utf-8", "replace")):
            return
    raise SignatureDoesNotMatch(_MISMATCH)


def _check_time(signed_at: datetime, now: datetime) -> None:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now.astimezone(UTC)
    if now - MAX_SKEW <= signed_at <= now + MAX_SKEW:
        return
    stamp = signed_at.strftime(_BASIC_FORMAT)
    if signed_at < now - MAX_SKEW:
        raise SignatureDoesNotMatch(
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_BASIC_FORMAT)} ({now.strftime(_BASIC_FORMAT)} - 15 min.)"
        )
    if signed_at > now + MAX_SKEW:
        raise SignatureDoesNotMatch(
            f"Signature not yet current: {stamp} is still later than "
            f"{(now + MAX_SKEW).strftime(_BASIC_FORMAT)} ({now.strftime(_BASIC_FORMAT)} + 15 min.)"
        )


def _declared_payload_hash(req: HttpRequest, cred: SigV4Credential) -> str | None:
    declared = req.header("X-Amz-Content-Sha256")
    if declared is None and cred.presigned:
        declared = dict(req.query_pairs).get("X-Amz-Content-Sha256")
    return declared.strip() if declared is not None else None


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _canonical_stem(req: HttpRequest, cred: SigV4Credential) -> str:
    """The canonical request up to (not including) the payload hash line."""
    pairs = req.query_pairs
    if cred.presigned:
        pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    query = "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in pairs))
    lines = []
    for name in cred.signed_headers:
        values = req.header_values(name)
        if not values:
            raise IncompleteSignature(
                f"'{name}' is named as a SignedHeader, but it does not exist in the HTTP request."
            )
        lines.append(f"{name}:" + ",".join(" ".join(v.split()) for v in values))
    headers = "\n".join(lines)
    return (
        f"{req.method.upper()}\n{_canonical_path(req.path)}\n{query}\n{headers}\n\n"
        f"{';'.join(cred.signed_headers)}"
    )


def _canonical_path(path: str) -> str:
    """botocore's URI normalisation (dot segments and repeated slashes removed), then encoded again."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normalised = "/" + "/".join(segments) if path.startswith("/") else "/".join(segments)
    if path.endswith("/") and segments:
        normalised += "/"
    return quote(normalised, safe="/~")
