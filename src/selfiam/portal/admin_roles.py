"""Admin pages for roles: the paged list, create (the trust policy validated by the engine,
its message shown next to the editor), a role's page — trust policy, permissions
(attached and inline, through :mod:`selfiam.portal.admin_policies`), boundary, tags —
and its live sessions, each of which can be ended (``selfiam:ListRoleSessions`` and
``selfiam:RevokeRoleSession``, :mod:`selfiam.service.role_session_admin`).

As every admin page, these call the service as the signed-in member (or the role they
switched to): what the policy refuses shows AWS's AccessDenied message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.responses import Response

from selfiam.domain.errors import AwsError, ValidationError
from selfiam.portal.admin import call, page_of, path_name, policy_choices, section
from selfiam.portal.paging import PAGE_SIZE, paged
from selfiam.portal.web import Pages, View, done_messages
from selfiam.service.role_session_admin import LIST, REVOKE, SERVICE

pages = Pages()

done_messages(
    {
        "role-created": "The role has been created.",
        "trust-saved": "The trust policy has been saved.",
        "boundary-set": "The permissions boundary has been set.",
        "boundary-removed": "The permissions boundary has been removed.",
        "tag-added": "The tag has been added.",
        "tag-removed": "The tag has been removed.",
        "session-ended": "The session has ended (and the sessions chained from it): its "
        "credentials are refused from now on.",
    }
)

EXAMPLE_TRUST = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::%s:user/USER-NAME"},
      "Action": "sts:AssumeRole"
    }
  ]
}"""


def _listing(view: View) -> dict[str, Any]:
    return paged(
        view, lambda marker: call(view, "ListRoles", MaxItems=PAGE_SIZE, Marker=marker), "Roles"
    )


def _roles_page(view: View, *, status: int = 200, form: dict[str, Any] | None = None) -> Response:
    form = form or {"AssumeRolePolicyDocument": EXAMPLE_TRUST % view.member.account_id}
    return view.render("admin/roles.html", status=status, roles=_listing(view), form=form)


@pages.get("/admin/roles")
def roles(view: View) -> Response:
    return _roles_page(view)


@pages.post("/admin/roles")
def create_role(view: View) -> Response:
    fields = {
        k: view.field(k).strip() if k != "AssumeRolePolicyDocument" else view.field(k)
        for k in (
            "RoleName",
            "Path",
            "Description",
            "MaxSessionDuration",
            "AssumeRolePolicyDocument",
        )
    }
    try:
        created = call(view, "CreateRole", **fields)["Role"]
    except AwsError as err:
        if err.code == "AccessDenied":
            raise
        return _roles_page(
            view, status=err.status, form={**fields, "error": f"{err.code}: {err.explanation}"}
        )
    return view.redirect(page_of("roles", created["RoleName"]), done="role-created")


@pages.get("/admin/roles/{name}")
def role(view: View) -> Response:
    name = path_name(view, 64)
    found = call(view, "GetRole", RoleName=name)["Role"]
    name = found["RoleName"]

    def read(operation: str, key: str) -> dict[str, Any]:
        return section(lambda: call(view, operation, RoleName=name)[key])

    sessions = section(
        lambda: view.invoke(LIST, service=SERVICE, RoleName=name, MaxItems=100)["Sessions"]
    )
    return view.render(
        "admin/role.html",
        role=found,
        trust=unquote(found["AssumeRolePolicyDocument"]),
        attached=read("ListAttachedRolePolicies", "AttachedPolicies"),
        policies=section(lambda: policy_choices(view)),
        inline=read("ListRolePolicies", "PolicyNames"),
        tags=read("ListRoleTags", "Tags"),
        sessions=sessions,
    )


def _trust_editor(
    view: View, name: str, document: str, error: str | None, status: int = 200
) -> Response:
    return view.render(
        "admin/role_trust.html", status=status, name=name, document=document, policy_error=error
    )


@pages.get("/admin/roles/{name}/trust")
def trust_editor(view: View) -> Response:
    name = path_name(view, 64)
    found = call(view, "GetRole", RoleName=name)["Role"]
    return _trust_editor(view, found["RoleName"], unquote(found["AssumeRolePolicyDocument"]), None)


@pages.post("/admin/roles/{name}/trust")
def save_trust(view: View) -> Response:
    name = path_name(view, 64)
    document = view.field("PolicyDocument")
    try:
        call(view, "UpdateAssumeRolePolicy", RoleName=name, PolicyDocument=document)
    except AwsError as err:
        if err.code in ("AccessDenied", "NoSuchEntity"):
            raise
        return _trust_editor(view, name, document, f"{err.code}: {err.explanation}", err.status)
    return view.redirect(page_of("roles", name), done="trust-saved")


@pages.post("/admin/roles/{name}/boundary")
def boundary(view: View) -> Response:
    name = path_name(view, 64)
    if view.field("change") == "remove":
        call(view, "DeleteRolePermissionsBoundary", RoleName=name)
        return view.redirect(page_of("roles", name), done="boundary-removed")
    arn = view.field("PermissionsBoundary").strip()
    call(view, "PutRolePermissionsBoundary", RoleName=name, PermissionsBoundary=arn)
    return view.redirect(page_of("roles", name), done="boundary-set")


@pages.post("/admin/roles/{name}/tags")
def role_tags(view: View) -> Response:
    name = path_name(view, 64)
    key = view.field("Key").strip()
    change = view.field("change")
    if change == "add":
        call(
            view,
            "TagRole",
            RoleName=name,
            **{"Tags.member.1.Key": key, "Tags.member.1.Value": view.field("Value")},
        )
        return view.redirect(page_of("roles", name), done="tag-added")
    if change == "remove":
        call(view, "UntagRole", RoleName=name, **{"TagKeys.member.1": key})
        return view.redirect(page_of("roles", name), done="tag-removed")
    raise ValidationError("Choose whether to add or remove the tag.")


@pages.post("/admin/roles/{name}/sessions/end")
def end_session(view: View) -> Response:
    name = path_name(view, 64)
    view.invoke(REVOKE, service=SERVICE, RoleName=name, AccessKeyId=view.field("AccessKeyId")[:128])
    return view.redirect(page_of("roles", name), done="session-ended")
