"""Build the ASGI application from settings."""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from selfiam.api.access_log import AccessLog
from selfiam.api.backend import RuntimeBackend
from selfiam.api.endpoint import create_api_app
from selfiam.portal.app import create_portal_app
from selfiam.service.audit_retention import AuditPruner
from selfiam.service.factory import open_runtime
from selfiam.service.operations.outbound_federation import outbound_discovery
from selfiam.service.portal_sessions import PortalConfig
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings


class SelfiamApp:
    """Sends HTTP requests for ``/`` straight to the API's plain ASGI callable, and
    everything else (the portal, lifespan, 404s) to a Starlette app.

    The API skips Starlette's routing and middleware: on a GetUser they cost about as
    much CPU as the operation itself.
    """

    def __init__(self, api: ASGIApp, rest: Starlette) -> None:
        self.api = api
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/":
            await self.api(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> ASGIApp:
    """The selfiam server: the AWS Query API at ``/``, the portal at ``/portal``; with
    ``settings.access_log`` a line per request, with ``settings.audit_retention_days``
    the audit trail pruned in the background."""
    settings = settings or Settings.from_env()
    runtime = runtime or open_runtime(settings)
    config = PortalConfig(
        idle=timedelta(minutes=settings.portal_idle_minutes),
        lifetime=timedelta(hours=settings.portal_max_hours),
        public_url=settings.public_url,
    )
    rest = Starlette(
        routes=[
            Mount("/portal", create_portal_app(runtime, config)),
            *outbound_routes(runtime),
        ]
    )
    if settings.audit_retention_days is not None:
        AuditPruner(runtime.engine, settings.audit_retention_days, runtime.clock).start()
    app: ASGIApp = SelfiamApp(create_api_app(RuntimeBackend(runtime)), rest)
    return AccessLog(app) if settings.access_log else app


def outbound_routes(runtime: Runtime) -> list[Route]:
    """The public OpenID discovery of outbound web identity tokens' issuers: what a relying
    party fetches to verify a token of sts:GetWebIdentityToken (plain functions: Starlette
    runs them on its threadpool, off the event loop)."""

    def document(request: Request) -> Response:
        found = outbound_discovery(runtime, str(request.path_params["issuer_id"]))
        if found is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        configuration, jwks = found
        body = jwks if request.url.path.endswith("/jwks.json") else configuration
        return JSONResponse(body, headers={"Cache-Control": "max-age=300"})

    base = "/outbound/{issuer_id}/.well-known"
    return [
        Route(f"{base}/openid-configuration", document),
        Route(f"{base}/jwks.json", document),
    ]
