"""Build the ASGI application from settings."""

from __future__ import annotations

from starlette.applications import Starlette

from selfiam.api.backend import RuntimeBackend
from selfiam.api.endpoint import create_api_app
from selfiam.service.factory import open_runtime
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    """The selfiam server: the AWS Query API at ``/``."""
    runtime = runtime or open_runtime(settings or Settings.from_env())
    return create_api_app(RuntimeBackend(runtime))
