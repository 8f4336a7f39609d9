"""Switch role, the switched-role view, and temporary credentials for the command line.

Switching is STS AssumeRole called as the member (the trust policy, the session name
— the member's user name —, the duration, the MFA check and the audit record are the
API's); the new role session is then worn by the portal session
(:mod:`selfiam.service.portal_roles`) and every page acts as it, until "Back to USER".
The list of roles shows only those whose trust policy admits the member (the engine
decides, through the service layer); a role typed by name or ARN gets AssumeRole's own
answer — AccessDenied for a role not meant for the member.

Temporary credentials are shown only as the answer to a POST (a fresh AssumeRole or
GetSessionToken each time): never cached, never in a URL, never logged.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from selfiam.api.query import parse_request
from selfiam.domain.arns import role_arn
from selfiam.domain.errors import AwsError, ValidationError
from selfiam.portal.web import ROLE_HOME, Pages, View, done_messages
from selfiam.service.portal_roles import mfa_serial, stop_wearing, switchable_roles, wear

pages = Pages()

done_messages(
    {
        "role-switched": "You are now working as the role. Your own identity is one click "
        "away: Back to your user.",
        "role-left": "You are back to your own identity; the role session has ended.",
        "own-identity-only": "Your own security credentials and password are managed as "
        "yourself: go back to your user first.",
        "role-ended": "The role session has ended (it expired or was ended): you are back to "
        "your own identity.",
    }
)

#: Console sessions of a role last an hour, as AWS's switched-role console sessions do.
CONSOLE_DURATION = 3600
#: What the command-line credentials may last (AssumeRole refuses more than the role's
#: MaxSessionDuration with AWS's message).
CLI_DURATIONS = (3600, 4 * 3600, 12 * 3600)


def _sts(view: View, operation: str, fields: dict[str, Any]) -> dict[str, Any]:
    """An STS call as the member (never as a worn role), its fields checked against the
    model first as the API checks a request."""
    flat = {k: str(v) for k, v in fields.items() if v is not None and v != ""}
    _, params = parse_request("sts", {"Action": operation, **flat})
    return view.invoke(operation, service="sts", as_member=True, **params)


def _role_arn(view: View, typed: str) -> str:
    """A role ARN as typed, or the ARN of a role name (``path/name`` for a path)."""
    typed = typed.strip()
    if not typed:
        raise ValidationError("Type the name or the ARN of the role to switch to.")
    if typed.startswith("arn:"):
        return typed
    path, _, name = typed.rpartition("/")
    return role_arn(view.member.account_id, name, f"/{path.strip('/')}/" if path else "/")


def _mfa_fields(view: View) -> dict[str, str]:
    """SerialNumber and TokenCode when the member typed a code (their own device)."""
    code = view.field("TokenCode").strip().replace(" ", "")
    if not code:
        return {}
    serial = mfa_serial(view.runtime, view.member.user_id)
    if serial is None:
        raise ValidationError("You have no MFA device: assign one to use MFA codes.")
    return {"SerialNumber": serial, "TokenCode": code}


def _switch_page(
    view: View, *, status: int = 200, error: str | None = None, typed: str = ""
) -> Response:
    after = view.request.query_params.get("after", "")[:64]
    roles, next_after = switchable_roles(view.runtime, view.member.caller(), view.info(), after)
    return view.render(
        "switch_role.html",
        status=status,
        roles=roles,
        next_after=next_after,
        after=after,
        error=error,
        typed=typed,
        session_mfa=view.member.mfa_authenticated_at is not None,
        has_mfa=mfa_serial(view.runtime, view.member.user_id) is not None,
    )


@pages.get("/switch-role")
def switch_role_form(view: View) -> Response:
    return _switch_page(view)


@pages.post("/switch-role")
def switch_role(view: View) -> Response:
    typed = view.field("Role")[:2048]
    try:
        arn = _role_arn(view, typed)
        issued = _sts(
            view,
            "AssumeRole",
            {
                "RoleArn": arn,
                "RoleSessionName": view.member.user_name,
                "DurationSeconds": CONSOLE_DURATION,
                **_mfa_fields(view),
            },
        )
    except AwsError as err:
        return _switch_page(
            view, status=err.status, error=f"{err.code}: {err.message}", typed=typed
        )
    key_id = issued["Credentials"]["AccessKeyId"]
    if not wear(view.runtime, view.member.session_id, view.member.user_id, key_id):
        return view.redirect("/signin")
    return view.redirect(ROLE_HOME, done="role-switched")


@pages.post("/switch-role/back")
def back_to_user(view: View) -> Response:
    stop_wearing(view.runtime, view.member.session_id)
    return view.redirect("/credentials", done="role-left")


@pages.get(ROLE_HOME)
def role_home(view: View) -> Response:
    if view.member.role is None:
        return view.redirect("/switch-role")
    return view.render("role.html", durations=CLI_DURATIONS, **_role_facts(view))


def _role_facts(view: View) -> dict[str, Any]:
    role = view.member.role
    assert role is not None
    return {
        "role": role,
        "expires": view.member.role_expires_at,
        "session_mfa": view.member.mfa_authenticated_at is not None,
        "has_mfa": mfa_serial(view.runtime, view.member.user_id) is not None,
    }


@pages.post(f"{ROLE_HOME}/credentials")
def role_credentials(view: View) -> Response:
    """A fresh session of the worn role for the command line (AssumeRole as the member)."""
    role = view.member.role
    if role is None or role.role_arn is None:
        return view.redirect("/switch-role")
    duration = view.field("DurationSeconds") or str(CLI_DURATIONS[0])
    try:
        issued = _sts(
            view,
            "AssumeRole",
            {
                "RoleArn": role.role_arn,
                "RoleSessionName": view.member.user_name,
                "DurationSeconds": duration,
                **_mfa_fields(view),
            },
        )
    except AwsError as err:
        return view.render(
            "role.html",
            status=err.status,
            durations=CLI_DURATIONS,
            error=f"{err.code}: {err.message}",
            **_role_facts(view),
        )
    return view.render(
        "temporary_credentials.html",
        credentials=issued["Credentials"],
        title=f"Credentials of role {role.role_name}",
        who=issued["AssumedRoleUser"]["Arn"],
        profile=role.role_name,
        back=ROLE_HOME,
    )


@pages.post("/credentials/temporary")
def session_token(view: View) -> Response:
    """GetSessionToken for the member: as in AWS, the credentials carry MFA only when a
    code comes with the request (and without MFA they call no IAM operation)."""
    duration = view.field("DurationSeconds") or str(CLI_DURATIONS[-1])
    try:
        issued = _sts(view, "GetSessionToken", {"DurationSeconds": duration, **_mfa_fields(view)})
    except AwsError as err:
        return view.render("error.html", status=err.status, error=err.message, code=err.code)
    return view.render(
        "temporary_credentials.html",
        credentials=issued["Credentials"],
        title="Temporary credentials",
        who=view.member.arn,
        profile=view.member.user_name,
        back="/credentials",
    )
