"""The AWS Query endpoint: one plain ASGI callable at ``/`` for IAM and STS.

Every request goes through the same steps, in this order:

    parse SigV4 auth (none for STS's federation operations, api/unsigned.py) -> backend.session: backend.authenticate (key lookup,
    signature verified before any cache is filled) -> parse_request (model validation) -> backend.invoke
    -> serialize XML

The service (iam or sts) is the one named in the credential scope, as boto3
signs it. Any ``AwsError`` becomes AWS's XML error with its status; anything
else is logged (traceback and request id only, never the request's secrets)
and answered as a 500 InternalFailure. Every response carries
``x-amzn-RequestId``. Backend calls that may block (writes: SQLite's write
lock, argon2; any query to PostgreSQL) run all the steps after reading the body
in the threadpool, in one trip; the others run inline (see ``ApiApp``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from selfiam.api import limits
from selfiam.api.query import parse_request
from selfiam.api.unsigned import is_unsigned
from selfiam.api.xml import serialize_error, serialize_response
from selfiam.auth.sigv4 import HttpRequest, SigV4Credential, parse_auth, verify
from selfiam.domain.errors import AwsError, InternalFailure
from selfiam.domain.identifiers import new_request_id
from selfiam.service.runtime import WouldWait

__all__ = ["ApiApp", "ApiBackend", "RequestMeta", "create_api_app"]

logger = logging.getLogger(__name__)

_INTERNAL_MESSAGE = (
    "The request processing has failed because of an unknown error, exception or failure."
)
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class RequestMeta:
    """Facts about the HTTP request that policies and audit records may need."""

    request_id: str  # uuid4, also sent back as x-amzn-RequestId
    source_ip: str
    secure_transport: bool
    user_agent: str
    now: datetime  # aware UTC, read once per request
    region: str = "us-east-1"  # the credential scope's region


class ApiBackend(Protocol):
    """What the endpoint needs from the service layer."""

    def session(
        self, service: str, action: str, wait: bool = True
    ) -> AbstractContextManager[object]:
        """What one request's ``authenticate`` and ``invoke`` share (for a read, one
        database transaction), opened before the one and closed after the other.
        ``wait=False`` (asked only where ``may_try_inline`` allowed it): entering it raises
        ``WouldWait``, before anything was done, unless it could start without waiting."""
        ...

    def authenticate(
        self, session: object, cred: SigV4Credential, verify: Callable[[bytes], None]
    ) -> object:
        """The caller behind ``cred``, once ``verify`` accepted the signing key of its scope.

        Raises InvalidClientTokenId or ExpiredToken (AwsError) for an unknown,
        inactive or expired key, and whatever ``verify`` raises (SignatureDoesNotMatch);
        caches nothing for a request whose signature fails.
        """
        ...

    def unsigned(self) -> object:
        """The caller of an unsigned request (``api/unsigned.py``): it may only run an
        operation that establishes its own principal."""
        ...

    def invoke(
        self,
        session: object,
        service: str,
        operation: str,
        params: dict[str, Any],
        caller: object,
        meta: RequestMeta,
    ) -> dict[str, Any]:
        """Run one operation for ``caller``; raises AwsError as AWS would."""
        ...

    def is_fast(self, service: str, action: str) -> bool:
        """Whether ``action`` may run inline on the event loop: a read that never blocks
        for long (no password hashing, no write lock)."""
        ...

    def may_try_inline(self, service: str, action: str) -> bool:
        """Whether ``action`` (not ``is_fast``) may run inline when its ``session`` starts
        without waiting: a write whose own work is short, whose only possible wait is for
        the write lock."""
        ...

    async def write_turn(self) -> bool:
        """After ``session(..., wait=False)`` refused because this process's own writers
        hold or await the write lock (``WouldWait.here``): wait without blocking until they
        are done (True: try inline again) or give up (False: go to the threadpool)."""
        ...

    def reject(self, service: str, action: str, error: AwsError, meta: RequestMeta) -> None:
        """Record a request refused before it reached ``invoke`` (bad signature,
        unknown key, invalid parameters), so that every request leaves an audit record."""
        ...


class _ClientDisconnect(Exception):
    """The client went away before its body was read."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ApiApp:
    """The ASGI callable serving ``/``: no Starlette request, response or middleware.

    What ``ApiBackend.is_fast`` allows runs inline on the event loop: reads
    (operations registered with ``writes=False``, which hash no password) on
    SQLite, whose queries take microseconds, less than the hand-off to a worker
    thread and back, and on PostgreSQL while the database measurably answers fast
    (``store/inline_reads.py``). So does a light write (``may_try_inline``) whose write
    transaction starts at once. One that would wait for this process's other writers
    (a heavy write or the audit writer in a thread) awaits their end without blocking
    the loop, then tries again (``write_turn``): hopping instead would leave every later
    write queued behind it in the threadpool, paying the hop, for as long as writes keep
    coming. One that would wait for another process's lock, or is still refused after
    ``_INLINE_TRIES``, hops to the threadpool before anything of it ran. Anything else
    that may wait (argon2, PostgreSQL's round trips) runs in the threadpool.
    """

    def __init__(self, backend: ApiBackend, clock: Callable[[], datetime] = _utc_now) -> None:
        self.backend = backend
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD", "POST"):
            await _send(send, 405, b"Method Not Allowed", _ALLOW)
            return
        request_id = new_request_id()
        try:
            body, status = await self.handle(scope, receive, request_id)
        except _ClientDisconnect:
            return
        headers = [
            (b"content-type", b"text/xml"),
            (b"content-length", str(len(body)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ]
        await _send(send, status, body, headers)

    async def handle(self, scope: Scope, receive: Receive, request_id: str) -> tuple[bytes, int]:
        """The XML body and status of the answer to one request."""
        backend = self.backend
        headers = Headers(scope=scope)
        service = "sts" if headers.get("host", "").startswith("sts.") else "iam"
        action = "Unknown"
        invoked: list[bool] = []  # non-empty once the backend was invoked
        client = scope.get("client")
        source_ip = client[0] if client else ""
        secure = scope.get("scheme") == "https"
        try:
            if len(scope["headers"]) > limits.MAX_HEADERS:
                raise limits.too_many_headers()
            http = await _read(scope, receive, headers)
            params = _params(http)
            action = params.get("Action", "Unknown")[:100]
            cred = None if is_unsigned(http, action) else parse_auth(http)
            service = cred.service if cred is not None else "sts"
            args = (http, params, cred, action, source_ip, secure, request_id, invoked)
            if backend.is_fast(service, action):
                return self.process(*args), 200
            if backend.may_try_inline(service, action):
                for _ in range(_INLINE_TRIES):
                    try:
                        return self.process(*args, wait=False), 200
                    except WouldWait as refusal:
                        if invoked:
                            raise  # not from the session's start: never run anything twice
                        if not (refusal.here and await backend.write_turn()):
                            break
            return await run_in_threadpool(self.process, *args), 200
        except AwsError as error:
            if not invoked:
                meta = RequestMeta(
                    request_id=request_id,
                    source_ip=source_ip,
                    secure_transport=secure,
                    user_agent=headers.get("user-agent", ""),
                    now=self.clock(),
                )
                backend.reject(service, action, error, meta)
            return serialize_error(error, request_id, service), error.status
        except _ClientDisconnect:
            raise
        except Exception:
            logger.exception("internal failure handling request %s", request_id)
            failure = InternalFailure(_INTERNAL_MESSAGE)
            return serialize_error(failure, request_id, service), failure.status

    def process(
        self,
        http: HttpRequest,
        params: dict[str, str],
        cred: SigV4Credential | None,
        action: str,
        source_ip: str,
        secure: bool,
        request_id: str,
        invoked: list[bool],
        wait: bool = True,
    ) -> bytes:
        """Everything after the body is read, inline or in one trip to the threadpool.
        ``wait=False``: raises ``WouldWait`` before anything ran if the session cannot
        start at once."""
        backend = self.backend
        service = cred.service if cred is not None else "sts"
        with backend.session(service, action, wait) as session:
            now = self.clock()
            if cred is None:
                caller = backend.unsigned()
            else:
                signed = cred
                caller = backend.authenticate(
                    session, cred, lambda signing_key: verify(http, signed, signing_key, now)
                )
            operation, parsed = parse_request(service, params)
            meta = RequestMeta(
                request_id=request_id,
                source_ip=source_ip,
                secure_transport=secure,
                user_agent=http.header("User-Agent") or "",
                now=now,
                region=cred.region if cred is not None else "us-east-1",
            )
            invoked.append(True)
            output = backend.invoke(session, service, operation, parsed, caller, meta)
        return serialize_response(service, operation, output or {}, request_id)


def create_api_app(backend: ApiBackend, *, clock: Callable[[], datetime] = _utc_now) -> ApiApp:
    """The ASGI app serving AWS's IAM and STS Query APIs with ``backend`` (path ``/`` only)."""
    return ApiApp(backend, clock)


#: How often a light write refused for this process's own writers tries inline again
#: (threads queued for the lock go first) before it queues in the threadpool itself.
_INLINE_TRIES = 8

_ALLOW = [(b"allow", b"GET, HEAD, POST"), (b"content-type", b"text/plain; charset=utf-8")]


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read(scope: Scope, receive: Receive, headers: Headers) -> HttpRequest:
    """The request as SigV4 sees it, its body read once (and bounded, as its query)."""
    query_string: bytes = scope.get("query_string", b"")
    if len(query_string) > limits.MAX_HEAD_BYTES:
        raise limits.query_too_large()
    declared = headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 12 or int(declared) > limits.MAX_BODY_BYTES):
        raise limits.body_too_large()
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limits.MAX_BODY_BYTES:
            raise limits.body_too_large()
        chunks.append(chunk)
        more = message.get("more_body", False)
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    return HttpRequest(
        method=scope["method"],
        path=path,
        query_string=query_string.decode("utf-8", "replace"),
        headers=headers,
        body=b"".join(chunks),
    )


def _params(http: HttpRequest) -> dict[str, str]:
    """The operation's flat parameters: query string, then a form body, without auth ones.

    Both parts are covered by the signature (the query directly, the body by its
    hash), so merging them cannot smuggle in unsigned parameters. Their number is
    bounded before either is decoded.
    """
    limits.check_parameter_count(http.query_string, http.body)
    params = {k: v for k, v in http.query_pairs if not k.startswith("X-Amz-")}
    content_type = (http.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if http.body and content_type in (_FORM, ""):
        form = parse_qsl(http.body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update((k, v) for k, v in form if not k.startswith("X-Amz-"))
    return params
