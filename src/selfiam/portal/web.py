"""The portal's plumbing: pages, sessions, CSRF, rendering, and calling the service.

A page is a plain (synchronous) function of a :class:`View`, registered on a
:class:`Pages` collection with the stages of session it accepts::

    pages = Pages()

    @pages.get("/credentials")
    def credentials(view: View) -> Response:
        keys = view.invoke("ListAccessKeys")
        return view.render("credentials.html", keys=keys)

    @pages.post("/credentials/access-keys/delete")
    def delete_key(view: View) -> Response:
        view.invoke("DeleteAccessKey", AccessKeyId=view.field("AccessKeyId"))
        return view.redirect("/credentials", done="key-deleted")

The wrapper runs the function in the threadpool (the service blocks), loads the
session from its cookie and checks it against the database, sends a visitor
without the right session to the page their session allows (sign-in, MFA
code, change password), refuses a POST without the form's CSRF token, and turns
an :class:`AwsError` left unhandled into a page with AWS's message (AccessDenied
included) — never a stack trace. ``view.invoke`` calls ``Runtime.invoke`` as the
signed-in member: the portal has no other way to change anything.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import RequestInfo
from selfiam.service.portal_sessions import (
    PortalConfig,
    PortalSession,
    csrf_token,
    csrf_valid,
    form_token,
    form_token_valid,
    load_session,
)
from selfiam.service.runtime import Runtime

logger = logging.getLogger(__name__)

SESSION_COOKIE = "selfiam_session"
#: Before sign-in: a random nonce the sign-in form's CSRF token is bound to.
SIGNIN_COOKIE = "selfiam_signin"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
MAX_FORM_FIELD = 16 * 1024

ACTIVE = ("active",)
#: Where a session of each stage belongs when it asks for a page it may not see.
STAGE_HOME = {"mfa": "/signin/mfa", "password": "/password", "active": "/"}
#: Pages of the member's own credentials: while they wear a role, these send them to the
#: role's page (and its "Back to USER" button) instead of acting as the role.
OWN_IDENTITY_PAGES = ("/credentials", "/password")
ROLE_HOME = "/role"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Every portal response carries the strict headers (pages and static files alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Portal:
    """What every page shares: the runtime, session lifetimes and the templates."""

    runtime: Runtime
    config: PortalConfig
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )


#: Messages shown after a successful POST (redirect target ``?done=<key>``).
DONE: dict[str, str] = {}


def done_messages(messages: Mapping[str, str]) -> None:
    """Register the success messages a module's redirects name."""
    DONE.update(messages)


@dataclass
class View:
    """One request to one page: its session (if any), its form, and how to answer."""

    request: Request
    portal: Portal
    session: PortalSession | None
    form: dict[str, str]
    signin_nonce: str | None = None
    set_session_token: str | None = None
    clear_session: bool = False

    @property
    def runtime(self) -> Runtime:
        return self.portal.runtime

    @property
    def base(self) -> str:
        """Where the portal is mounted (``/portal``), for links and form actions."""
        return str(self.request.scope.get("root_path", ""))

    @property
    def member(self) -> PortalSession:
        """The signed-in member (pages that accept no anonymous visitor)."""
        assert self.session is not None
        return self.session

    def field(self, name: str, default: str = "") -> str:
        return self.form.get(name, default)

    @property
    def source_ip(self) -> str:
        """The client's address, as the server saw it (behind a proxy: as the server's
        trusted ``--forwarded-allow-ips`` made it)."""
        client = self.request.client
        return client.host if client else ""

    def info(self) -> RequestInfo:
        return RequestInfo(
            request_id=new_request_id(),
            now=self.runtime.clock(),
            source_ip=self.source_ip,
            secure_transport=self.request.url.scheme == "https",
            user_agent=self.request.headers.get("user-agent", "")[:1024],
        )

    def invoke(
        self, operation: str, service: str = "iam", *, as_member: bool = False, **params: Any
    ) -> dict[str, Any]:
        """Run an IAM (or STS) operation as the signed-in member — or as the role session
        they switched to, unless ``as_member`` — AwsError as AWS says."""
        caller = self.member.caller() if as_member else self.member.acting_caller()
        clean = {k: v for k, v in params.items() if v is not None}
        return self.runtime.invoke(service, operation, clean, caller, self.info())

    def invoke_together(self, *steps: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Run IAM operations ``(operation, params)`` as the member, all or nothing: one
        button that needs more than one operation never leaves a half-done change."""
        from selfiam.service.together import invoke_together

        caller = self.member.acting_caller()
        clean = [
            ("iam", op, {k: v for k, v in params.items() if v is not None}) for op, params in steps
        ]
        return invoke_together(self.runtime, clean, caller, self.info())

    @property
    def csrf(self) -> str:
        """The token every form of this page carries in its ``csrf`` field."""
        if self.session is not None:
            return csrf_token(self.runtime, self.session)
        if self.signin_nonce is None:
            sent = self.request.cookies.get(SIGNIN_COOKIE, "")
            self.signin_nonce = sent if 16 <= len(sent) <= 64 else secrets.token_urlsafe(24)
        return form_token(self.runtime, f"signin:{self.signin_nonce}")

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        notice = DONE.get(self.request.query_params.get("done", ""))
        values = {
            "base": self.base,
            "session": self.session,
            "csrf": self.csrf,
            "notice": notice,
            "error": None,
            "path": self.request.url.path,
            **context,
        }
        html = self.portal.env.get_template(template).render(values)
        return HTMLResponse(html, status_code=status)

    def redirect(self, path: str, *, done: str | None = None, **query: str) -> Response:
        """See Other (303) to a portal path, optionally with a success message key."""
        params = dict(query)
        if done:
            params["done"] = done
        suffix = f"?{urlencode(params)}" if params else ""
        return RedirectResponse(f"{self.base}{path}{suffix}", status_code=303)

    def error_page(self, error: AwsError) -> HTMLResponse:
        return self.render(
            "error.html", status=error.status, error=error.explanation, code=error.code
        )


Handler = Callable[[View], Response]


class Pages:
    """A module's pages; ``routes`` go into the portal app."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def get(
        self, path: str, *, stages: Iterable[str] | None = ACTIVE
    ) -> Callable[[Handler], Handler]:
        return self._add(path, "GET", stages)

    def post(
        self, path: str, *, stages: Iterable[str] | None = ACTIVE, csrf: bool = True
    ) -> Callable[[Handler], Handler]:
        """``csrf=False`` only for a POST whose body is its own credential, which another
        site sends by design (a SAML response posted by the IdP)."""
        return self._add(path, "POST", stages, csrf)

    def _add(
        self, path: str, method: str, stages: Iterable[str] | None, csrf: bool = True
    ) -> Callable[[Handler], Handler]:
        """``stages=None``: a page for visitors with no session too (sign-in)."""
        allowed = tuple(stages) if stages is not None else None

        def register(fn: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                form: dict[str, str] = {}
                if method == "POST":
                    raw = await request.form(
                        max_files=0, max_fields=64, max_part_size=MAX_FORM_FIELD
                    )
                    form = {k: v for k, v in raw.items() if isinstance(v, str)}
                portal: Portal = request.app.state.portal
                return await run_in_threadpool(_dispatch, portal, fn, request, form, allowed, csrf)

            self.routes.append(Route(path, endpoint, methods=[method], name=fn.__name__))
            return fn

        return register


def _dispatch(
    portal: Portal,
    fn: Handler,
    request: Request,
    form: dict[str, str],
    stages: tuple[str, ...] | None,
    csrf: bool = True,
) -> Response:
    runtime = portal.runtime
    token = request.cookies.get(SESSION_COOKIE)
    session = load_session(runtime, token, runtime.clock(), portal.config) if token else None
    view = View(request, portal, session, form)
    if token and session is None:
        view.clear_session = True
    if stages is not None and (session is None or session.stage not in stages):
        if session is None:
            response: Response = view.redirect("/signin")
        else:
            response = view.redirect(STAGE_HOME[session.stage])
        return _finish(view, response)
    if session is not None and session.role is not None and _own_identity(request):
        return _finish(view, view.redirect(ROLE_HOME, done="own-identity-only"))
    if request.method == "POST" and csrf and not _csrf_ok(view):
        response = view.render(
            "error.html",
            status=403,
            error="This form has expired or did not come from this site. Reload the page and try again.",
            code="InvalidCsrfToken",
        )
        return _finish(view, response)
    try:
        response = fn(view)
    except AwsError as error:
        response = view.error_page(error)
    except Exception:
        logger.exception("portal: internal failure on %s", request.url.path)
        response = view.render(
            "error.html",
            status=500,
            error="Something went wrong on our side. Try again later.",
            code="InternalFailure",
        )
    return _finish(view, response)


def _own_identity(request: Request) -> bool:
    path = request.url.path[len(str(request.scope.get("root_path", ""))) :]
    return any(path == p or path.startswith(p + "/") for p in OWN_IDENTITY_PAGES)


def _csrf_ok(view: View) -> bool:
    sent = view.form.get("csrf")
    if view.session is not None:
        return csrf_valid(view.runtime, view.session, sent)
    nonce = view.request.cookies.get(SIGNIN_COOKIE)
    return bool(nonce) and form_token_valid(view.runtime, f"signin:{nonce}", sent)


def _finish(view: View, response: Response) -> Response:
    secure = view.request.url.scheme == "https"
    cookie = {"path": view.base or "/", "httponly": True, "samesite": "strict", "secure": secure}
    if view.set_session_token is not None:
        response.set_cookie(SESSION_COOKIE, view.set_session_token, **cookie)  # type: ignore[arg-type]
    elif view.clear_session:
        response.delete_cookie(SESSION_COOKIE, **cookie)  # type: ignore[arg-type]
    if view.signin_nonce is not None and view.session is None:
        response.set_cookie(SIGNIN_COOKIE, view.signin_nonce, max_age=3600, **cookie)  # type: ignore[arg-type]
    return response
