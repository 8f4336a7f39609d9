"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence
from starlette.datastructures import Headers

from selfiam.auth.sigv4 import (
    HttpRequest,
    SigV4Credential,
    derive_signing_key,
    parse_auth,
    verify,
)
from selfiam.domain.errors import (
    IncompleteSignature,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
)

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEBYaDH+session/token=="
SIGNED_AT = datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC)
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
ENDPOINTS = {"iam": "https://iam.amazonaws.com/", "sts": "https://sts.amazonaws.com/"}
_MODELS = {n: botocore.session.get_session().get_service_model(n) for n in ("iam", "sts")}


def form_params(service: str, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    model = _MODELS[service].operation_model(operation)
    return create_serializer("query").serialize_to_request(kwargs, model)["body"]


def form_body(service: str, operation: str, kwargs: dict[str, Any]) -> bytes:
    return percent_encode_sequence(form_params(service, operation, kwargs)).encode()


def to_http(request: Any) -> HttpRequest:
    """What the server receives for a prepared botocore request."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = [(k.lower().encode(), v.encode()) for k, v in prepared.headers.items()]
    headers.append((b"host", parts.netloc.encode()))
    body = prepared.body or b""
    return HttpRequest(
        method=prepared.method,
        path=parts.path,
        query_string=parts.query,
        headers=Headers(raw=headers),
        body=body if isinstance(body, bytes) else body.encode(),
    )


def sign(
    service: str = "iam",
    region: str = "us-east-1",
    *,
    operation: str = "GetUser",
    kwargs: dict[str, Any] | None = None,
    token: str | None = None,
    when: datetime = SIGNED_AT,
    url: str | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    params: dict[str, str] | None = None,
    secret: str = SECRET,
) -> HttpRequest:
    """A request signed in the Authorization header, exactly as boto3 sends it."""
    body = form_body(service, operation, kwargs or {}) if method == "POST" else b""
    request = AWSRequest(
        method=method,
        url=url or ENDPOINTS[service],
        data=body,
        params=params or {},
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            **(headers or {}),
        },
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        SigV4Auth(Credentials(AKID, secret, token), service, region).add_auth(request)
    return to_http(request)


def presign(
    service: str = "sts",
    region: str = "us-east-1",
    *,
    operation: str = "GetCallerIdentity",
    kwargs: dict[str, Any] | None = None,
    token: str | None = None,
    when: datetime = SIGNED_AT,
    expires: int = 3600,
) -> HttpRequest:
    """A presigned GET URL, as ``generate_presigned_url`` builds it."""
    # generate_presigned_url hands the signer the serialized body as a dict.
    body = form_params(service, operation, kwargs or {})
    request = AWSRequest(method="GET", url=ENDPOINTS[service], data=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        SigV4QueryAuth(Credentials(AKID, SECRET, token), service, region, expires).add_auth(request)
    return to_http(request)


def key_for(cred: SigV4Credential, secret: str = SECRET) -> bytes:
    return derive_signing_key(secret, cred.date, cred.region, cred.service)


def check(req: HttpRequest, now: datetime = SIGNED_AT) -> SigV4Credential:
    cred = parse_auth(req)
    verify(req, cred, key_for(cred), now)
    return cred


def with_header(req: HttpRequest, name: str, value: str | None) -> HttpRequest:
    raw = [(k, v) for k, v in req.headers.raw if k.decode().lower() != name.lower()]  # type: ignore[attr-defined]
    if value is not None:
        raw.append((name.lower().encode(), value.encode()))
    return HttpRequest(req.method, req.path, req.query_string, Headers(raw=raw), req.body)


def replace(req: HttpRequest, **changes: Any) -> HttpRequest:
    fields = {
        "method": req.method,
        "path": req.path,
        "query_string": req.query_string,
        "headers": req.headers,
        "body": req.body,
        **changes,
    }
    return HttpRequest(**fields)


# --- the happy paths -------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["iam", "sts"])
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1"])
def test_header_signature_verifies_for_both_services_in_any_partitions_region(
    service: str, region: str
) -> None:
    operation, kwargs = (
        ("CreateUser", {"UserName": "bob", "Tags": [{"Key": "a b", "Value": "ü+&="}]})
        if service == "iam"
        else ("GetSessionToken", {"DurationSeconds": 3600})
    )
    cred = check(sign(service, region, operation=operation, kwargs=kwargs))
    assert (cred.access_key_id, cred.date, cred.region, cred.service) == (
        AKID,
        "20240301",
        region,
        service,
    )
    assert cred.amz_date == SIGNED_AT
    assert not cred.presigned and cred.expires is None and cred.security_token is None
    assert "host" in cred.signed_headers and "x-amz-date" in cred.signed_headers


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_presigned_url_verifies(service: str) -> None:
    operation = "GetCallerIdentity" if service == "sts" else "ListUsers"
    req = presign(service, "eu-central-1", operation=operation)
    assert req.method == "GET" and "X-Amz-Signature=" in req.query_string and req.body == b""
    cred = check(req)
    assert cred.presigned and cred.expires == 3600
    assert cred.signed_headers == ("host",)
    assert cred.service == service and cred.region == "eu-central-1"


def test_session_token_in_header_and_in_presigned_url() -> None:
    cred = check(sign("sts", operation="GetCallerIdentity", token=TOKEN))
    assert cred.security_token == TOKEN
    assert "x-amz-security-token" in cred.signed_headers
    cred = check(presign(token=TOKEN))
    assert cred.security_token == TOKEN


def test_get_with_query_parameters_botocore_encodes_spaces_as_plus() -> None:
    # AWSRequest urlencodes params ("a+b") but signs them RFC 3986-encoded ("a%20b").
    params = {"Action": "ListUsers", "Version": "2010-05-08", "PathPrefix": "/a b/ü~*'"}
    req = sign(method="GET", params=params)
    assert "+" in req.query_string
    check(req)


def test_path_is_normalised_and_double_encoded_like_botocore() -> None:
    req = sign(url="https://iam.amazonaws.com/a%20b/./c/../d//e/")
    assert req.path == "/a%20b/./c/../d//e/"
    check(req)


def test_date_header_instead_of_x_amz_date() -> None:
    req = sign(headers={"Date": "placeholder"})
    assert req.header("X-Amz-Date") is None and req.header("Date") is not None
    assert check(req).amz_date == SIGNED_AT


def test_unsigned_payload_is_accepted_only_for_an_empty_body() -> None:
    req = sign(
        method="GET",
        params={"Action": "GetUser"},
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    check(req)
    post = sign(kwargs={"UserName": "bob"}, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(SignatureDoesNotMatch):
        check(post)


def test_declared_payload_hash_must_match_the_body() -> None:
    req = sign(kwargs={"UserName": "bob"})
    with pytest.raises(SignatureDoesNotMatch):
        check(with_header(req, "X-Amz-Content-Sha256", "0" * 64))


def test_signing_key_matches_awss_documented_example() -> None:
    # From AWS's "Examples of how to derive a signing key for Signature Version 4".
    key = derive_signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    assert derive_signing_key(SECRET, "20240301", "us-east-1", "sts") != derive_signing_key(
        SECRET, "20240301", "us-east-1", "iam"
    )


# --- tampering ---------------------------------------------------------------------------------


def _tamper_cases() -> list[tuple[str, HttpRequest]]:
    req = sign(kwargs={"UserName": "bob"})
    url = presign()
    return [
        ("body", replace(req, body=req.body.replace(b"bob", b"eve"))),
        ("method", replace(req, method="PUT")),
        ("path", replace(req, path="/other")),
        ("added query", replace(req, query_string="Action=DeleteUser")),
        ("signed header", with_header(req, "Content-Type", "text/plain")),
        ("host", with_header(req, "Host", "evil.example.com")),
        ("date", with_header(req, "X-Amz-Date", "20240301T123006Z")),
        (
            "presigned action",
            replace(
                url, query_string=url.query_string.replace("GetCallerIdentity", "GetSessionToken")
            ),
        ),
        (
            "presigned extra param",
            replace(url, query_string=url.query_string + "&DurationSeconds=900"),
        ),
        ("presigned body", replace(url, body=b"Action=DeleteUser")),
    ]


@pytest.mark.parametrize(("label", "req"), _tamper_cases(), ids=[c[0] for c in _tamper_cases()])
def test_tampering_is_signature_does_not_match(label: str, req: HttpRequest) -> None:
    with pytest.raises(SignatureDoesNotMatch) as caught:
        check(req)
    assert caught.value.message == MISMATCH
    assert caught.value.status == 403


def test_wrong_secret_and_message_reveals_nothing() -> None:
    req = sign(kwargs={"UserName": "bob"})
    cred = parse_auth(req)
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verify(req, cred, key_for(cred, "not-the-secret"), SIGNED_AT)
    assert caught.value.message == MISMATCH
    assert SECRET not in str(caught.value) and cred.signature not in str(caught.value)


def test_unsigned_extra_headers_do_not_matter() -> None:
    req = with_header(sign(), "User-Agent", "something-else/1.0")
    check(with_header(req, "X-Forwarded-For", "10.0.0.1"))


# --- time --------------------------------------------------------------------------------------


def test_fifteen_minutes_either_side_is_accepted() -> None:
    req = sign()
    check(req, SIGNED_AT + timedelta(minutes=15))
    check(req, SIGNED_AT - timedelta(minutes=15))


def test_expired_signature() -> None:
    with pytest.raises(SignatureDoesNotMatch) as caught:
        check(sign(), SIGNED_AT + timedelta(minutes=15, seconds=1))
    assert caught.value.message == (
        "Signature expired: 20240301T123005Z is now earlier than 20240301T123006Z "
        "(20240301T124506Z - 15 min.)"
    )
    assert caught.value.status == 403


def test_signature_from_the_future() -> None:
    with pytest.raises(SignatureDoesNotMatch) as caught:
        check(sign(when=SIGNED_AT + timedelta(minutes=20)), SIGNED_AT)
    assert caught.value.message == (
        "Signature not yet current: 20240301T125005Z is still later than 20240301T124505Z "
        "(20240301T123005Z + 15 min.)"
    )


def test_presigned_urls_live_fifteen_minutes_whatever_x_amz_expires_says() -> None:
    short = presign(expires=60)
    assert parse_auth(short).expires == 60
    check(short, SIGNED_AT + timedelta(minutes=5))
    long = presign(expires=3600)
    with pytest.raises(SignatureDoesNotMatch) as caught:
        check(long, SIGNED_AT + timedelta(minutes=20))
    assert caught.value.message.startswith(
        "Signature expired: 20240301T123005Z is now earlier than"
    )


def test_naive_now_is_utc() -> None:
    check(sign(), SIGNED_AT.replace(tzinfo=None))


# --- malformed authentication -------------------------------------------------------------------


def test_missing_authentication() -> None:
    req = HttpRequest(
        "POST", "/", "", Headers(raw=[(b"host", b"iam.amazonaws.com")]), b"Action=GetUser"
    )
    with pytest.raises(MissingAuthenticationToken) as caught:
        parse_auth(req)
    assert caught.value.message == "Request is missing Authentication Token"
    assert caught.value.status == 403
    with pytest.raises(MissingAuthenticationToken):
        parse_auth(replace(req, query_string="X-Amz-Date=20240301T123005Z"))


def _with_authorization(value: str) -> HttpRequest:
    return with_header(sign(), "Authorization", value)


CRED = f"Credential={AKID}/20240301/us-east-1/iam/aws4_request"
GOOD_REST = "SignedHeaders=content-type;host;x-amz-date, Signature=abc"


@pytest.mark.parametrize(
    ("authorization", "error", "message"),
    [
        (
            f"AWS4-HMAC-SHA256 {CRED}",
            IncompleteSignature,
            "Authorization header requires 'Signature' parameter. Authorization header requires "
            f"'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 {CRED}",
        ),
        (
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
            IncompleteSignature,
            "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 "
            "SignedHeaders=host, Signature=abc",
        ),
        (
            f"AWS4-HMAC-SHA256 {CRED}, {GOOD_REST}, junk",
            IncompleteSignature,
            f"'junk' not a valid key=value pair (missing equal-sign) in Authorization header: "
            f"'AWS4-HMAC-SHA256 {CRED}, {GOOD_REST}, junk'.",
        ),
        (f"AWS {AKID}:c2lnbmF0dXJl", IncompleteSignature, "Unsupported AWS 'algorithm': 'AWS'"),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240301/us-east-1/aws4_request, {GOOD_REST}",
            IncompleteSignature,
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{AKID}/20240301/us-east-1/aws4_request'",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240301/us-east-1/iam/aws5_request, {GOOD_REST}",
            SignatureDoesNotMatch,
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240301/us-east-1/s3/aws4_request, {GOOD_REST}",
            SignatureDoesNotMatch,
            "Credential should be scoped to correct service: 'iam'. ",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240301//iam/aws4_request, {GOOD_REST}",
            SignatureDoesNotMatch,
            "Credential should be scoped to a valid region, not ''. ",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240301/selfiam-local/iam/aws4_request, {GOOD_REST}",
            SignatureDoesNotMatch,
            "Credential should be scoped to a valid region, not 'selfiam-local'. ",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240301/aws-global/sts/aws4_request, {GOOD_REST}",
            SignatureDoesNotMatch,
            "Credential should be scoped to a valid region, not 'aws-global'. ",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240229/us-east-1/iam/aws4_request, {GOOD_REST}",
            SignatureDoesNotMatch,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            "HTTP: '20240229' != '20240301', from '20240301T123005Z'.",
        ),
        (
            f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=content-type;x-amz-date, Signature=abc",
            IncompleteSignature,
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ],
)
def test_malformed_authorization_header(
    authorization: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        parse_auth(_with_authorization(authorization))
    assert caught.value.message == message  # type: ignore[attr-defined]


def test_missing_date_headers() -> None:
    req = with_header(sign(), "X-Amz-Date", None)
    with pytest.raises(IncompleteSignature) as caught:
        parse_auth(req)
    assert caught.value.message.startswith(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256 Credential="
    )
    assert caught.value.status == 400


def test_malformed_x_amz_date() -> None:
    with pytest.raises(IncompleteSignature) as caught:
        parse_auth(with_header(sign(), "X-Amz-Date", "2024-03-01T12:30:05Z"))
    assert caught.value.message == (
        "Date must be in ISO-8601 'basic format'. Got '2024-03-01T12:30:05Z'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_signed_header_absent_from_request() -> None:
    req = sign(headers={"X-Custom": "1"})
    with pytest.raises(IncompleteSignature) as caught:
        check(with_header(req, "X-Custom", None))
    assert (
        caught.value.message
        == "'x-custom' is named as a SignedHeader, but it does not exist in the HTTP request."
    )


def test_presigned_with_missing_parameters() -> None:
    url = presign()
    query = "&".join(
        p
        for p in url.query_string.split("&")
        if not p.startswith(("X-Amz-Date=", "X-Amz-SignedHeaders="))
    )
    with pytest.raises(IncompleteSignature) as caught:
        parse_auth(replace(url, query_string=query))
    assert caught.value.message == (
        "AWS query-string parameters must include 'X-Amz-Date', 'X-Amz-SignedHeaders'. "
        "Re-examine the query-string parameters."
    )


def test_presigned_with_bad_expires_or_algorithm() -> None:
    url = presign()
    with pytest.raises(IncompleteSignature):
        parse_auth(
            replace(
                url,
                query_string=url.query_string.replace("X-Amz-Expires=3600", "X-Amz-Expires=soon"),
            )
        )
    with pytest.raises(IncompleteSignature):
        parse_auth(
            replace(
                url, query_string=url.query_string.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")
            )
        )


def test_header_lookup_is_case_insensitive_for_plain_dicts() -> None:
    req = sign()
    plain = {k.decode(): v.decode() for k, v in req.headers.raw}  # type: ignore[attr-defined]
    check(replace(req, headers={k.upper(): v for k, v in plain.items()}))


def test_verify_runs_many_times() -> None:
    """Benchmark-ish sanity: a cached signing key and repeated verification (no timing assertion)."""
    req = sign(kwargs={"UserName": "bob"})
    key = key_for(parse_auth(req))
    start = time.perf_counter()
    for _ in range(500):
        fresh = replace(req)  # a new request object, as the server would build
        verify(fresh, parse_auth(fresh), key, SIGNED_AT)
    print(f"parse_auth+verify: {(time.perf_counter() - start) / 500 * 1e6:.1f} us/request")


def test_repeated_signed_header_names_count_once() -> None:
    """A SignedHeaders list repeating a header name thousands of times, with that header
    sent many times, must not build a canonical request of their product's size."""
    req = sign()
    headers = [(k.encode(), v.encode()) for k, v in req.headers.items()]
    headers += [(b"x-pad", b"p" * 100)] * 90
    authorization = req.header("Authorization") or ""
    head, _, rest = authorization.partition("SignedHeaders=")
    names, _, tail = rest.partition(",")
    padded = f"{head}SignedHeaders={names}{';x-pad' * 20_000},{tail}"
    headers = [(k, v) for k, v in headers if k != b"authorization"]
    headers.append((b"authorization", padded.encode()))
    bloated = HttpRequest(req.method, req.path, req.query_string, Headers(raw=headers), req.body)
    cred = parse_auth(bloated)
    assert cred.signed_headers.count("x-pad") == 1
    assert len(cred.signed_headers) == len(names.split(";")) + 1
    with pytest.raises(SignatureDoesNotMatch):
        verify(bloated, cred, key_for(cred), SIGNED_AT)
