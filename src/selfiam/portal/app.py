"""The portal's ASGI app, mounted by :mod:`selfiam.app` at ``/portal``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from selfiam.portal import admin, credentials, directory, passkeys, roles, saml, signin
from selfiam.portal.web import STATIC, Portal, SecurityHeaders
from selfiam.service.portal_sessions import PortalConfig
from selfiam.service.runtime import Runtime


def create_portal_app(runtime: Runtime, config: PortalConfig | None = None) -> Starlette:
    """Server-rendered pages calling the service layer as the signed-in member."""
    routes: list[BaseRoute] = [
        *signin.pages.routes,
        *saml.pages.routes,
        *credentials.pages.routes,
        *passkeys.pages.routes,
        *directory.pages.routes,
        *roles.pages.routes,
        *admin.routes,
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.portal = Portal(runtime, config or PortalConfig())
    return app
