"""Sign in (password, then the MFA code if the member has a device), change password, sign out."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from selfiam.domain.errors import AccessDenied, AwsError, NoSuchEntity
from selfiam.domain.password_rules import AWS_DEFAULT_POLICY, SYMBOL_LIST
from selfiam.portal.passkeys import mfa_choices, mfa_step
from selfiam.portal.web import STAGE_HOME, Pages, View, done_messages
from selfiam.service.portal_sessions import end_session, password_changed
from selfiam.service.portal_signin import SignInRefused, complete_mfa, sign_in

pages = Pages()
ANY_STAGE = ("mfa", "password", "active")

done_messages(
    {
        "signed-out": "You have signed out.",
        "password-changed": "Your password has been changed.",
    }
)


@pages.get("/", stages=ANY_STAGE)
def home(view: View) -> Response:
    return view.redirect(
        STAGE_HOME[view.member.stage] if view.member.stage != "active" else "/credentials"
    )


@pages.get("/signin", stages=None)
def signin_form(view: View) -> Response:
    if view.session is not None:
        return view.redirect(STAGE_HOME[view.session.stage])
    return view.render("signin.html", account=view.request.query_params.get("account", "")[:63])


@pages.post("/signin", stages=None)
def signin_submit(view: View) -> Response:
    account, user = view.field("account").strip(), view.field("username").strip()
    try:
        signed = sign_in(
            view.runtime,
            view.portal.config,
            account,
            user,
            view.field("password"),
            view.runtime.clock(),
            source_ip=view.source_ip,
            user_agent=view.request.headers.get("user-agent", ""),
        )
    except SignInRefused as refused:
        return view.render(
            "signin.html", status=401, error=str(refused), account=account[:63], username=user[:64]
        )
    view.set_session_token = signed.token
    return view.redirect(STAGE_HOME[signed.session.stage])


@pages.get("/signin/mfa", stages=("mfa",))
def mfa_form(view: View) -> Response:
    return view.render("signin_mfa.html", **mfa_choices(view))


@pages.post("/signin/mfa", stages=("mfa",))
def mfa_submit(view: View) -> Response:
    return mfa_step(
        view,
        lambda: complete_mfa(
            view.runtime,
            view.portal.config,
            view.member,
            view.field("code"),
            view.runtime.clock(),
            source_ip=view.source_ip,
        ),
    )


@pages.post("/signout", stages=ANY_STAGE)
def signout(view: View) -> Response:
    end_session(view.runtime, view.member.session_id)
    view.clear_session = True
    return view.redirect("/signin", done="signed-out")


# -- change password ----------------------------------------------------------------------


def password_rules(view: View) -> list[str] | None:
    """The account's password policy in words, as far as the member may read it."""
    try:
        shape: dict[str, Any] = view.invoke("GetAccountPasswordPolicy")["PasswordPolicy"]
    except NoSuchEntity:
        p = AWS_DEFAULT_POLICY
        return [
            f"At least {p.minimum_password_length} characters",
            "At least three of: uppercase letters, lowercase letters, numbers, "
            f"symbols ({SYMBOL_LIST})",
            "Not the same as your user name",
        ]
    except AccessDenied:
        return None
    rules = [f"At least {shape.get('MinimumPasswordLength', 6)} characters"]
    for key, words in (
        ("RequireUppercaseCharacters", "At least one uppercase letter (A-Z)"),
        ("RequireLowercaseCharacters", "At least one lowercase letter (a-z)"),
        ("RequireNumbers", "At least one number (0-9)"),
        ("RequireSymbols", f"At least one symbol ({SYMBOL_LIST})"),
    ):
        if shape.get(key):
            rules.append(words)
    if shape.get("PasswordReusePrevention"):
        rules.append(f"Not one of your last {shape['PasswordReusePrevention']} passwords")
    if shape.get("MaxPasswordAge"):
        rules.append(f"Expires after {shape['MaxPasswordAge']} days")
    return rules


@pages.get("/password", stages=("password", "active"))
def password_form(view: View) -> Response:
    return view.render("password.html", rules=password_rules(view))


@pages.post("/password", stages=("password", "active"))
def password_submit(view: View) -> Response:
    new = view.field("new_password")
    error: str | None = None
    status = 400
    if new != view.field("confirm_password"):
        error = "The new password and its confirmation do not match."
    else:
        try:
            view.invoke("ChangePassword", OldPassword=view.field("old_password"), NewPassword=new)
        except AwsError as err:
            error, status = err.message, err.status
    if error is not None:
        return view.render("password.html", status=status, error=error, rules=password_rules(view))
    password_changed(view.runtime, view.member)
    return view.redirect("/credentials", done="password-changed")
