"""Build the ASGI application from settings."""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette

from selfiam.api.backend import RuntimeBackend
from selfiam.api.endpoint import create_api_app
from selfiam.portal.app import create_portal_app
from selfiam.service.factory import open_runtime
from selfiam.service.portal_sessions import PortalConfig
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    """The selfiam server: the AWS Query API at ``/``, the portal at ``/portal``."""
    settings = settings or Settings.from_env()
    runtime = runtime or open_runtime(settings)
    app = create_api_app(RuntimeBackend(runtime))
    config = PortalConfig(
        idle=timedelta(minutes=settings.portal_idle_minutes),
        lifetime=timedelta(hours=settings.portal_max_hours),
    )
    app.mount("/portal", create_portal_app(runtime, config))
    return app
