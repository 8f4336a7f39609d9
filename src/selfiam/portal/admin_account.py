"""Admin pages for the account: the password policy, sign-in settings, the audit log, the
server certificates (read-only: uploading a private key belongs to the API and the CLI,
not to a browser form), and offboarding.

Offboarding is two steps in the browser and one in the service: the
confirmation page shows ``plan_offboarding`` (what will be removed — only to a
member allowed to remove it all), and its button runs ``offboard_user``, which
removes everything in one transaction. The offboarded user's portal sessions
go with them: their next page load lands on the sign-in page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.responses import Response

from selfiam.domain.errors import AwsError, NoSuchEntity
from selfiam.portal.admin import call, path_name
from selfiam.portal.web import Pages, View, done_messages
from selfiam.service.audit_log import MAX_RECORDS, read_audit_log
from selfiam.service.caller import RequestInfo
from selfiam.service.offboarding import offboard_user, plan_offboarding

pages = Pages()

done_messages(
    {
        "policy-saved": "The account password policy has been saved.",
        "sign-in-saved": "The sign-in settings have been saved.",
    }
)

POLICY_NUMBERS = ("MinimumPasswordLength", "MaxPasswordAge", "PasswordReusePrevention")
POLICY_FLAGS = (
    ("RequireUppercaseCharacters", "Require at least one uppercase letter (A-Z)"),
    ("RequireLowercaseCharacters", "Require at least one lowercase letter (a-z)"),
    ("RequireNumbers", "Require at least one number (0-9)"),
    ("RequireSymbols", "Require at least one non-alphanumeric character"),
    ("AllowUsersToChangePassword", "Allow users to change their own password"),
    ("HardExpiry", "Prevent password reuse after expiry (an administrator must reset it)"),
)


# -- password policy ---------------------------------------------------------------------


@pages.get("/admin/password-policy")
def password_policy(view: View) -> Response:
    try:
        current: dict[str, Any] = view.invoke("GetAccountPasswordPolicy")["PasswordPolicy"]
        is_set = True
    except NoSuchEntity:
        current, is_set = {}, False
    return view.render(
        "admin/password_policy.html", policy=current, is_set=is_set, flags=POLICY_FLAGS
    )


@pages.post("/admin/password-policy")
def password_policy_save(view: View) -> Response:
    fields: dict[str, str] = {n: view.field(n).strip() for n in POLICY_NUMBERS}
    fields.update({flag: "true" if view.field(flag) else "false" for flag, _ in POLICY_FLAGS})
    try:
        call(view, "UpdateAccountPasswordPolicy", **fields)
    except AwsError as err:
        if err.code == "AccessDenied":
            raise
        shown: dict[str, Any] = {n: fields[n] for n in POLICY_NUMBERS}
        shown.update({flag: fields[flag] == "true" for flag, _ in POLICY_FLAGS})
        return view.render(
            "admin/password_policy.html",
            status=err.status,
            policy=shown,
            is_set=True,
            flags=POLICY_FLAGS,
            error=err.message,
        )
    return view.redirect("/admin/password-policy", done="policy-saved")


# -- sign-in settings -------------------------------------------------------------------


@pages.get("/admin/sign-in")
def sign_in_settings(view: View) -> Response:
    settings = view.invoke("GetAccountSignInSettings", "selfiam")
    return view.render("admin/sign_in.html", passwordless=settings["PasswordlessSignIn"])


@pages.post("/admin/sign-in")
def sign_in_settings_save(view: View) -> Response:
    view.invoke(
        "UpdateAccountSignInSettings",
        "selfiam",
        PasswordlessSignIn=bool(view.field("passwordless")),
    )
    return view.redirect("/admin/sign-in", done="sign-in-saved")


# -- server certificates -----------------------------------------------------------------


@pages.get("/admin/server-certificates")
def server_certificates(view: View) -> Response:
    """One page of the account's server certificates (ListServerCertificates, as the
    member: AccessDenied shows as the error page)."""
    listed = call(view, "ListServerCertificates", MaxItems=1000)
    return view.render(
        "admin/server_certificates.html",
        certificates=listed["ServerCertificateMetadataList"],
        truncated=listed["IsTruncated"],
    )


# -- audit log ---------------------------------------------------------------------------


@pages.get("/admin/audit")
def audit(view: View) -> Response:
    """The newest records first, filtered by caller (user name) and action, through the
    service's ``selfiam:ReadAuditLog`` (AccessDenied for members without it)."""
    query = view.request.query_params
    user, action = query.get("user", "").strip()[:64], query.get("action", "").strip()[:128]
    try:
        limit = min(max(int(query.get("limit", "100")), 1), MAX_RECORDS)
    except ValueError:
        limit = 100
    records = read_audit_log(
        view.runtime,
        view.member.caller(),
        user_name=user or None,
        action=action or None,
        limit=limit,
        info=_info(view),
    )
    return view.render("admin/audit.html", records=records, user=user, action=action)


# -- offboarding -------------------------------------------------------------------------


def _info(view: View) -> RequestInfo:
    return replace(view.info(), service="selfiam")


@pages.get("/admin/users/{name}/offboard")
def offboard_confirm(view: View) -> Response:
    plan = plan_offboarding(view.runtime, view.member.caller(), path_name(view, 64), _info(view))
    return view.render("admin/offboard.html", plan=plan)


@pages.post("/admin/users/{name}/offboard")
def offboard(view: View) -> Response:
    report = offboard_user(view.runtime, view.member.caller(), path_name(view, 64), _info(view))
    if report.plan.user_id == view.member.user_id:
        view.clear_session = True  # offboarded themselves: their session went with them
    return view.render("admin/offboarded.html", report=report)
