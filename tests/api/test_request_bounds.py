"""Request-size bounds of the Query endpoint (api/limits.py): each gets a clear 4xx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from selfiam.api.limits import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    MAX_INDEX_DIGITS,
    MAX_PARAMETERS,
)

from .conftest import Api, error_code, error_message

CHUNK = 64 * 1024


def run_raw(
    api: Api, headers: list[tuple[bytes, bytes]], chunks: int, query: bytes = b""
) -> tuple[int, int]:
    """Send up to ``chunks`` 64 KiB body chunks straight to the ASGI app; return the
    status and how many chunks it read."""
    app = api.client.app
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"a" * CHUNK, "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 1234),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    return sent[0]["status"], read


def test_a_streamed_body_over_the_cap_is_refused_before_the_rest_is_read(api: Api) -> None:
    status, read = run_raw(api, [(b"host", b"iam.amazonaws.com")], chunks=1000)
    assert status == 413
    assert read == MAX_BODY_BYTES // CHUNK + 1


def test_a_declared_length_over_the_cap_is_refused_before_reading(api: Api) -> None:
    headers = [
        (b"host", b"iam.amazonaws.com"),
        (b"content-length", str(MAX_BODY_BYTES + 1).encode()),
    ]
    status, read = run_raw(api, headers, chunks=1000)
    assert (status, read) == (413, 0)
    huge = [(b"host", b"iam.amazonaws.com"), (b"content-length", b"9" * 5000)]
    assert run_raw(api, huge, chunks=1)[0] == 413


def test_body_over_the_cap_gets_awss_error(api: Api) -> None:
    params = {"Action": "GetUser", "Version": "2010-05-08", "UserName": "u" * (MAX_BODY_BYTES)}
    status, text = api.send(params, service="iam")
    assert (status, error_code(text)) == (413, "RequestEntityTooLargeException")
    assert error_message(text) == (
        f"The request entity is too large: at most {MAX_BODY_BYTES} bytes are accepted."
    )


def test_the_largest_policy_document_fully_encoded_fits(api: Api) -> None:
    statement = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}
    text = json.dumps({"Version": "2012-10-17", "Statement": statement})
    document = text + "\n" * (131_072 - len(text))  # each newline is sent as %0A
    params = {
        "Action": "CreatePolicy",
        "Version": "2010-05-08",
        "PolicyName": "big",
        "PolicyDocument": document,
    }
    status, text = api.send(params, service="iam")
    assert (status, error_code(text)) == (403, "AccessDenied")  # parsed, then authorized
    assert api.root("CreatePolicy", PolicyName="big", PolicyDocument=document)["Policy"]


def test_too_many_parameters(api: Api) -> None:
    params = {"Action": "GetUser", "Version": "2010-05-08"}
    params.update({f"P{n}": "x" for n in range(MAX_PARAMETERS)})
    status, text = api.send(params, service="iam")
    assert (status, error_code(text)) == (400, "InvalidQueryParameter")
    assert error_message(text) == f"The request has more than {MAX_PARAMETERS} parameters."


def test_a_name_deeper_than_any_input(api: Api) -> None:
    params = {"Action": "CreateUser", "Version": "2010-05-08", "UserName": "bob"}
    params["Tags" + ".member.1" * 20] = "x"
    status, text = api.send(params, service="iam")
    assert (status, error_code(text)) == (400, "InvalidQueryParameter")
    assert "dot-separated parts" in error_message(text)


def test_a_list_position_with_thousands_of_digits_is_a_4xx_not_a_500(api: Api) -> None:
    params = {"Action": "CreateUser", "Version": "2010-05-08", "UserName": "bob"}
    params[f"Tags.member.{'9' * 5000}.Key"] = "team"
    status, text = api.send(params, service="iam")
    assert (status, error_code(text)) == (400, "InvalidQueryParameter")
    assert f"more than {MAX_INDEX_DIGITS} digits" in error_message(text)


def test_too_many_headers(api: Api) -> None:
    data, headers = api.signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    extra = [(f"x-extra-{n}", "1") for n in range(MAX_HEADERS)]
    response = api.client.post("/", content=data, headers=[*headers.items(), *extra])
    assert response.status_code == 400
    assert error_code(response.text) == "RequestHeaderSectionTooLarge"


def test_query_string_over_the_cap(api: Api) -> None:
    query = b"Action=GetUser&X=" + b"x" * MAX_HEAD_BYTES
    assert run_raw(api, [(b"host", b"iam.amazonaws.com")], chunks=1, query=query) == (413, 0)


def test_requests_within_the_bounds_still_work(api: Api) -> None:
    params = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    params.update({f"Unused.member.{n}": "x" for n in range(MAX_PARAMETERS - 10)})
    status, _ = api.send(params)
    assert status == 200
