"""The admin pages: users (create with a temporary password, groups, credentials).

There is no admin mode: these pages are open to every signed-in member, and
every button calls ``Runtime.invoke`` as that member. Whatever the member's
policy refuses comes back as AWS's AccessDenied message — on the page in
place of a section they may not read, or as the answer to a form they may not
submit. Form input is checked against botocore's IAM model first
(:func:`call`), so a form gets the same ValidationError the API would give.

The routes of all admin modules are collected in :data:`routes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from selfiam.api.query import parse_request
from selfiam.domain.errors import AccessDenied, AwsError, NoSuchEntity, ValidationError
from selfiam.domain.password_rules import AWS_DEFAULT_POLICY, PasswordPolicy, generate_password
from selfiam.portal.paging import PAGE_SIZE, paged
from selfiam.portal.web import Pages, View, done_messages

pages = Pages()

done_messages(
    {
        "group-added": "The user has been added to the group.",
        "group-removed": "The user has been removed from the group.",
        "credential-deactivated": "The credential is inactive: it is refused from now on.",
        "credential-activated": "The credential is active again.",
        "mfa-deactivated": "The MFA device has been deactivated (unassigned from the user).",
    }
)

#: Deactivate/activate: kind -> (operation, id parameter). MFA devices are deactivated only.
CREDENTIALS: dict[str, tuple[str, str]] = {
    "access-key": ("UpdateAccessKey", "AccessKeyId"),
    "certificate": ("UpdateSigningCertificate", "CertificateId"),
    "ssh-key": ("UpdateSSHPublicKey", "SSHPublicKeyId"),
    "service-credential": ("UpdateServiceSpecificCredential", "ServiceSpecificCredentialId"),
}
STATUSES = ("Active", "Inactive")


def call(view: View, operation: str, **fields: Any) -> dict[str, Any]:
    """Invoke an IAM operation as the member, its form fields first checked against the
    model (AWS's ValidationError, typed values) as the API checks a request."""
    flat = {k: str(v) for k, v in fields.items() if v is not None and v != ""}
    _, params = parse_request("iam", {"Action": operation, **flat})
    return view.invoke(operation, **params)


def section(read: Callable[[], Any]) -> dict[str, Any]:
    """A page section: ``{"items": ...}``, or AWS's AccessDenied message in its place."""
    try:
        return {"items": read()}
    except AccessDenied as denied:
        return {"denied": denied.message}


#: AWS managed policies an admin attaches most, suggested by name; any other ARN can be typed.
COMMON_AWS_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "IAMUserChangePassword",
)


def policy_choices(view: View) -> list[dict[str, Any]]:
    """The ARNs the attach form suggests: the account's own policies, AWS's job-function
    policies and the common ones above, not all of AWS's 1,594 (a page of them would
    crowd the account's own out and weigh every page)."""
    own = call(view, "ListPolicies", Scope="Local", MaxItems=1000)["Policies"]
    jobs = call(view, "ListPolicies", Scope="AWS", PathPrefix="/job-function/", MaxItems=100)
    common = [
        {"PolicyName": name, "Arn": f"arn:aws:iam::aws:policy/{name}"}
        for name in COMMON_AWS_POLICIES
    ]
    return [*own, *common, *jobs["Policies"]]


def path_name(view: View, limit: int = 128) -> str:
    return str(view.request.path_params["name"])[:limit]


def page_of(kind: str, name: str) -> str:
    """The admin page of a user, group or role (``kind``: "users", "groups", "roles")."""
    return f"/admin/{kind}/{quote(name, safe='')}"


# -- users ------------------------------------------------------------------------------


@pages.get("/admin")
def admin_home(view: View) -> Response:
    return view.redirect("/admin/users")


def _users_page(view: View) -> dict[str, Any]:
    return paged(
        view, lambda marker: call(view, "ListUsers", MaxItems=PAGE_SIZE, Marker=marker), "Users"
    )


@pages.get("/admin/users")
def users(view: View) -> Response:
    return view.render("admin/users.html", users=_users_page(view), form={})


def _password_policy(view: View) -> PasswordPolicy:
    """The account's policy if the member may read it (IAM's default if none is set). A
    member who may not read it still gets a password of 20 characters of all four kinds,
    which meets any policy that does not ask for more length."""
    try:
        shape = view.invoke("GetAccountPasswordPolicy")["PasswordPolicy"]
    except (NoSuchEntity, AccessDenied):
        return AWS_DEFAULT_POLICY
    return PasswordPolicy.from_params(shape)


@pages.post("/admin/users")
def create_user(view: View) -> Response:
    """CreateUser and CreateLoginProfile (a generated password that must be changed), all
    or nothing: a member allowed the one but not the other creates no user."""
    name, path = view.field("UserName").strip(), view.field("Path").strip() or None
    password = generate_password(_password_policy(view), name)
    try:
        _, user_params = parse_request(
            "iam", {"Action": "CreateUser", "UserName": name, **({"Path": path} if path else {})}
        )
        created = view.invoke_together(
            ("CreateUser", user_params),
            (
                "CreateLoginProfile",
                {"UserName": name, "Password": password, "PasswordResetRequired": True},
            ),
        )[0]["User"]
    except AwsError as err:
        listing = _users_page(view)
        form = {"UserName": name[:64], "Path": (path or "")[:512], "error": err.message}
        return view.render("admin/users.html", status=err.status, users=listing, form=form)
    account = view.member.account_id
    origin = f"{view.request.url.scheme}://{view.request.url.netloc}"
    return view.render(
        "admin/user_created.html",
        user=created,
        password=password,
        account=account,
        signin_link=f"{origin}{view.base}/signin?account={account}",
    )


@pages.get("/admin/users/{name}")
def user(view: View) -> Response:
    name = path_name(view, 64)
    found = call(view, "GetUser", UserName=name)["User"]
    name = found["UserName"]

    def read(operation: str, key: str, **extra: Any) -> dict[str, Any]:
        return section(lambda: call(view, operation, UserName=name, **extra)[key])

    def login_profile() -> bool:
        try:
            call(view, "GetLoginProfile", UserName=name)
        except NoSuchEntity:
            return False
        return True

    return view.render(
        "admin/user.html",
        user=found,
        groups=read("ListGroupsForUser", "Groups"),
        all_groups=section(lambda: call(view, "ListGroups", MaxItems=1000)["Groups"]),
        attached=read("ListAttachedUserPolicies", "AttachedPolicies"),
        policies=section(lambda: policy_choices(view)),
        inline=read("ListUserPolicies", "PolicyNames"),
        login_profile=section(login_profile),
        access_keys=read("ListAccessKeys", "AccessKeyMetadata"),
        certificates=read("ListSigningCertificates", "Certificates"),
        ssh_keys=read("ListSSHPublicKeys", "SSHPublicKeys"),
        service_credentials=read("ListServiceSpecificCredentials", "ServiceSpecificCredentials"),
        mfa=read("ListMFADevices", "MFADevices"),
    )


@pages.post("/admin/users/{name}/groups")
def user_groups(view: View) -> Response:
    name = path_name(view, 64)
    change = view.field("change")
    if change not in ("add", "remove"):
        raise ValidationError("Choose whether to add the user to the group or remove them.")
    operation = "AddUserToGroup" if change == "add" else "RemoveUserFromGroup"
    call(view, operation, UserName=name, GroupName=view.field("GroupName"))
    done = "group-added" if change == "add" else "group-removed"
    return view.redirect(page_of("users", name), done=done)


@pages.post("/admin/users/{name}/credentials")
def user_credential(view: View) -> Response:
    """Deactivate (or activate again) one of a user's credentials; unassign an MFA device."""
    name = path_name(view, 64)
    kind, credential = view.field("kind"), view.field("id")
    if kind == "mfa":
        call(view, "DeactivateMFADevice", UserName=name, SerialNumber=credential)
        return view.redirect(page_of("users", name), done="mfa-deactivated")
    status = view.field("Status")
    if kind not in CREDENTIALS or status not in STATUSES:
        raise ValidationError("Unknown kind of credential or status.")
    operation, id_param = CREDENTIALS[kind]
    call(view, operation, UserName=name, Status=status, **{id_param: credential})
    done = "credential-activated" if status == "Active" else "credential-deactivated"
    return view.redirect(page_of("users", name), done=done)


def _routes() -> list[Route]:
    from selfiam.portal import admin_access, admin_account, admin_policies, admin_roles

    return [
        *pages.routes,
        *admin_access.pages.routes,
        *admin_policies.pages.routes,
        *admin_roles.pages.routes,
        *admin_account.pages.routes,
    ]


routes: list[Route] = _routes()
