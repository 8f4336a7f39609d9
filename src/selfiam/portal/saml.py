"""Sign in with SAML: the IdP posts its response here, as to AWS's console sign-in.

``POST /portal/saml`` takes ``SAMLResponse`` (and ``RelayState``, which is ignored:
the answer is always this page, so no IdP-supplied URL can redirect anyone). The
POST comes from the IdP's site, so it carries no CSRF token: the signed, unreplayable
assertion is its credential. With one role offered, the session starts at once; with
several, the member picks one (the same response posted back with ``role``). The page
that answers is rendered directly, not redirected to: a Strict cookie set by a
cross-site POST is not sent on the redirect that follows it.
"""

from __future__ import annotations

from starlette.responses import Response

from selfiam.domain.errors import AwsError
from selfiam.portal.web import Pages, View
from selfiam.service.portal_sessions import form_token, form_token_valid
from selfiam.service.saml_console import (
    end_console_session,
    load_console_session,
    saml_choices,
    start_console_session,
)

pages = Pages()
SAML_COOKIE = "selfiam_saml_session"


def _cookie(view: View, response: Response, token: str | None) -> Response:
    options = {
        "path": view.base or "/",
        "httponly": True,
        "samesite": "strict",
        "secure": view.request.url.scheme == "https",
    }
    if token is None:
        response.delete_cookie(SAML_COOKIE, **options)  # type: ignore[arg-type]
    else:
        response.set_cookie(SAML_COOKIE, token, **options)  # type: ignore[arg-type]
    return response


def _landing(view: View, token: str, status: int = 200) -> Response:
    session = load_console_session(view.runtime, token, view.runtime.clock())
    if session is None:
        return view.redirect("/signin")
    identity = view.runtime.invoke("sts", "GetCallerIdentity", {}, session.caller, view.info())
    return view.render(
        "saml_session.html",
        status=status,
        identity=identity,
        expires_at=session.expires_at,
        signout_token=form_token(view.runtime, f"saml:{session.session_id}"),
    )


@pages.post("/saml", stages=None, csrf=False)
def saml_post(view: View) -> Response:
    encoded = view.field("SAMLResponse")
    try:
        choices = saml_choices(view.runtime, encoded, view.info())
        role = view.field("role")
        if not role and len(choices.roles) == 1:
            role = choices.roles[0]
        if not role:
            return view.render("saml_choose.html", roles=choices.roles, saml_response=encoded)
        if role not in choices.roles:
            return view.render(
                "error.html", status=403, error="That role is not offered.", code="AccessDenied"
            )
        token = start_console_session(view.runtime, encoded, choices, role, view.info())
    except AwsError as error:
        return view.render("error.html", status=error.status, error=error.message, code=error.code)
    return _cookie(view, _landing(view, token), token)


@pages.get("/saml/session", stages=None)
def saml_session(view: View) -> Response:
    return _landing(view, view.request.cookies.get(SAML_COOKIE, ""))


@pages.post("/saml/signout", stages=None, csrf=False)
def saml_signout(view: View) -> Response:
    token = view.request.cookies.get(SAML_COOKIE, "")
    session = load_console_session(view.runtime, token, view.runtime.clock())
    if session is not None and form_token_valid(
        view.runtime, f"saml:{session.session_id}", view.field("csrf")
    ):
        end_console_session(view.runtime, session.session_id)
        return _cookie(view, view.redirect("/signin", done="signed-out"), None)
    return view.redirect("/saml/session")
