"""Passkeys and security keys in the portal: add and remove one, sign in with one.

The browser's part (``navigator.credentials.create``/``get``) is done by the one
script the portal serves, ``static/webauthn.js``: a page that needs it carries the
options as JSON in a ``data-webauthn-options`` attribute of a form, and the script
posts the browser's answer back through that form (with its CSRF token). Without
JavaScript these pages say so; nothing else of the portal needs it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from selfiam.domain.errors import AwsError
from selfiam.portal.credentials import _act, _refused, credentials_page
from selfiam.portal.web import SIGNIN_COOKIE, STAGE_HOME, Pages, View, done_messages
from selfiam.service.operations.passkeys import LABEL_RULE, SERVICE, valid_label
from selfiam.service.passkey_signin import (
    begin_mfa,
    begin_passwordless,
    begin_registration,
    complete_mfa_passkey,
    device_kinds,
    session_binding,
    sign_in_passwordless,
)
from selfiam.service.passkeys import RelyingParty
from selfiam.service.portal_signin import SignedIn, SignInRefused

pages = Pages()

done_messages(
    {
        "passkey-added": "Your passkey is registered. Use it at your next sign-in.",
        "passkey-removed": "The passkey has been removed.",
    }
)


def relying_party(view: View) -> RelyingParty:
    """``--public-url``'s host, or the host this request was sent to."""
    if view.portal.config.public_url:
        return RelyingParty.from_url(view.portal.config.public_url)
    url = view.request.url
    return RelyingParty.from_url(f"{url.scheme}://{url.netloc}")


# -- registration --------------------------------------------------------------------------


@pages.post("/credentials/passkeys/begin")
def registration_begin(view: View) -> Response:
    """A name for the new passkey, then the browser's prompt (on the page this renders)."""
    label = view.field("PasskeyName").strip()
    if not valid_label(label):
        return credentials_page(view, status=400, error=LABEL_RULE, code="ValidationError")
    options = begin_registration(
        view.runtime, view.member, relying_party(view), label, view.runtime.clock()
    )
    return view.render("passkey_register.html", options=options, label=label)


@pages.post("/credentials/passkeys/finish")
def registration_finish(view: View) -> Response:
    rp = relying_party(view)
    try:
        view.invoke(
            "RegisterPasskey",
            service=SERVICE,
            UserName=view.member.user_name,
            Binding=session_binding(view.member),
            RpId=rp.rp_id,
            Origin=rp.origin,
            Credential=view.field("credential"),
        )
    except AwsError as err:
        return _refused(view, "RegisterPasskey", err)
    return view.redirect("/credentials", done="passkey-added")


@pages.post("/credentials/passkeys/remove")
def remove_passkey(view: View) -> Response:
    """One operation, as AWS: DeactivateMFADevice on a FIDO device removes it."""
    return _act(
        view, "DeactivateMFADevice", "passkey-removed", SerialNumber=view.field("SerialNumber")
    )


# -- sign-in -------------------------------------------------------------------------------


def mfa_choices(view: View) -> dict[str, object]:
    """What the MFA step offers: the passkey options (a fresh challenge) if the member
    has passkeys, and the code form if they have a virtual device (or nothing else)."""
    member = view.member
    totp, passkeys = device_kinds(view.runtime, member.user_id)
    options = None
    if passkeys:
        options = begin_mfa(view.runtime, member, relying_party(view), view.runtime.clock())
    return {"passkey_options": options, "totp": totp or not passkeys}


def mfa_step(view: View, attempt: Callable[[], SignedIn]) -> Response:
    """Answer an MFA step (a code or a passkey): on to the session's page, or the MFA
    page again with the refusal."""
    try:
        signed = attempt()
    except SignInRefused as refused:
        return view.render("signin_mfa.html", status=401, error=str(refused), **mfa_choices(view))
    view.set_session_token = signed.token
    return view.redirect(STAGE_HOME[signed.session.stage])


@pages.post("/signin/mfa/passkey", stages=("mfa",))
def mfa_passkey(view: View) -> Response:
    return mfa_step(
        view,
        lambda: complete_mfa_passkey(
            view.runtime,
            view.portal.config,
            view.member,
            view.field("credential"),
            relying_party(view),
            view.runtime.clock(),
            source_ip=view.source_ip,
        ),
    )


@pages.post("/signin/passkey/begin", stages=None)
def passwordless_begin(view: View) -> Response:
    if view.session is not None:
        return view.redirect(STAGE_HOME[view.session.stage])
    nonce = view.request.cookies.get(SIGNIN_COOKIE, "")
    options = begin_passwordless(view.runtime, nonce, relying_party(view), view.runtime.clock())
    return view.render("signin_passkey.html", options=options)


@pages.post("/signin/passkey", stages=None)
def passwordless_finish(view: View) -> Response:
    if view.session is not None:
        return view.redirect(STAGE_HOME[view.session.stage])
    try:
        signed = sign_in_passwordless(
            view.runtime,
            view.portal.config,
            view.request.cookies.get(SIGNIN_COOKIE, ""),
            view.field("credential"),
            relying_party(view),
            view.runtime.clock(),
            source_ip=view.source_ip,
        )
    except SignInRefused as refused:
        return view.render("signin.html", status=401, error=str(refused))
    view.set_session_token = signed.token
    return view.redirect(STAGE_HOME[signed.session.stage])
