"""The AWS Query endpoint: one Starlette route at ``/`` for IAM and STS.

Every request goes through the same steps, in this order:

    parse SigV4 auth -> backend.authenticate (key lookup) -> verify signature
    -> parse_request (model validation) -> backend.invoke -> serialize XML

The service (iam or sts) is the one named in the credential scope, as boto3
signs it. Any ``AwsError`` becomes AWS's XML error with its status; anything
else is logged (traceback and request id only, never the request's secrets)
and answered as a 500 InternalFailure. Every response carries
``x-amzn-RequestId``. Backend calls may block (database, argon2), so all the
steps after reading the body run in Starlette's threadpool, in one trip.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from selfiam.api.query import parse_request
from selfiam.api.xml import serialize_error, serialize_response
from selfiam.auth.sigv4 import HttpRequest, SigV4Credential, parse_auth, verify
from selfiam.domain.errors import AwsError, InternalFailure

__all__ = ["ApiBackend", "MAX_BODY_BYTES", "RequestMeta", "create_api_app"]

logger = logging.getLogger(__name__)

# IAM's largest inputs (policy documents, certificates) are well under this.
MAX_BODY_BYTES = 1024 * 1024
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

    def authenticate(self, cred: SigV4Credential, source_ip: str) -> tuple[object, bytes]:
        """The caller and the signing key for ``cred``'s scope.

        Called before the signature is verified; raises InvalidClientTokenId or
        ExpiredToken (AwsError) for an unknown, inactive or expired key.
        """
        ...

    def invoke(
        self,
        service: str,
        operation: str,
        params: dict[str, Any],
        caller: object,
        meta: RequestMeta,
    ) -> dict[str, Any]:
        """Run one operation for ``caller``; raises AwsError as AWS would."""
        ...

    def reject(self, service: str, action: str, error: AwsError, meta: RequestMeta) -> None:
        """Record a request refused before it reached ``invoke`` (bad signature,
        unknown key, invalid parameters), so that every request leaves an audit record."""
        ...


class _RequestTooLarge(AwsError):
    code = "RequestEntityTooLarge"
    status = 413
    sender_fault = True


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_api_app(
    backend: ApiBackend, *, clock: Callable[[], datetime] = _utc_now, debug: bool = False
) -> Starlette:
    """The ASGI app serving AWS's IAM and STS Query APIs with ``backend``."""

    def process(
        http: HttpRequest,
        cred: SigV4Credential,
        source_ip: str,
        secure: bool,
        request_id: str,
        invoked: list[bool],
    ) -> bytes:
        """Everything after the body is read, in one trip to the threadpool per request."""
        caller, signing_key = backend.authenticate(cred, source_ip)
        now = clock()
        verify(http, cred, signing_key, now)
        operation, params = parse_request(cred.service, _params(http))
        meta = RequestMeta(
            request_id=request_id,
            source_ip=source_ip,
            secure_transport=secure,
            user_agent=http.header("User-Agent") or "",
            now=now,
            region=cred.region,
        )
        invoked.append(True)
        output = backend.invoke(cred.service, operation, params, caller, meta)
        return serialize_response(cred.service, operation, output or {}, request_id)

    async def handle(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        service = _service_hint(request)
        action = "Unknown"
        invoked: list[bool] = []  # non-empty once the backend was invoked
        source_ip = request.client.host if request.client else ""
        try:
            http = await _read(request)
            action = _action_hint(http)
            cred = parse_auth(http)
            service = cred.service
            secure = request.url.scheme == "https"
            body = await run_in_threadpool(
                process, http, cred, source_ip, secure, request_id, invoked
            )
            return _xml(body, 200, request_id)
        except AwsError as error:
            if not invoked:
                meta = RequestMeta(
                    request_id=request_id,
                    source_ip=source_ip,
                    secure_transport=request.url.scheme == "https",
                    user_agent=request.headers.get("user-agent", ""),
                    now=clock(),
                )
                await run_in_threadpool(backend.reject, service, action, error, meta)
            return _xml(serialize_error(error, request_id, service), error.status, request_id)
        except Exception:
            logger.exception("internal failure handling request %s", request_id)
            error = InternalFailure(_INTERNAL_MESSAGE)
            return _xml(serialize_error(error, request_id, service), error.status, request_id)

    return Starlette(debug=debug, routes=[Route("/", handle, methods=["GET", "POST"])])


def _xml(body: bytes, status: int, request_id: str) -> Response:
    return Response(
        body, status_code=status, media_type="text/xml", headers={"x-amzn-RequestId": request_id}
    )


def _action_hint(http: HttpRequest) -> str:
    """The Action parameter as sent, for the audit record of a refused request."""
    for key, value in http.query_pairs:
        if key == "Action":
            return value[:100]
    if b"Action=" in http.body:
        for key, value in parse_qsl(http.body.decode("utf-8", "replace")):
            if key == "Action":
                return value[:100]
    return "Unknown"


def _service_hint(request: Request) -> str:
    """The service to word an error for before the credential scope is known."""
    host = request.headers.get("host", "")
    return "sts" if host.startswith("sts.") else "iam"


async def _read(request: Request) -> HttpRequest:
    """The request as SigV4 sees it, its body read once (and bounded)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _RequestTooLarge("Request body is too large.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _RequestTooLarge("Request body is too large.")
        chunks.append(chunk)
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    return HttpRequest(
        method=request.method,
        path=path,
        query_string=request.scope.get("query_string", b"").decode("utf-8", "replace"),
        headers=request.headers,
        body=b"".join(chunks),
    )


def _params(http: HttpRequest) -> dict[str, str]:
    """The operation's flat parameters: query string, then a form body, without auth ones.

    Both parts are covered by the signature (the query directly, the body by its
    hash), so merging them cannot smuggle in unsigned parameters.
    """
    params = {k: v for k, v in http.query_pairs if not k.startswith("X-Amz-")}
    content_type = (http.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if http.body and content_type in (_FORM, ""):
        form = parse_qsl(http.body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update((k, v) for k, v in form if not k.startswith("X-Amz-"))
    return params
