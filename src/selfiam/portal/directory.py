"""A read-only directory of users and groups, as far as the member's policy lets them read.

Each section is one IAM read operation called as the member; a section the policy
denies shows AWS's AccessDenied message in its place. Nothing here changes
anything, and another user's page has no buttons (a forged POST to the
credential endpoints is refused by the policy engine anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from selfiam.domain.errors import AccessDenied
from selfiam.portal.paging import PAGE_SIZE, paged
from selfiam.portal.web import Pages, View

pages = Pages()


def _read(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except AccessDenied as denied:
        return {"denied": denied.message}


@pages.get("/users")
def users(view: View) -> Response:
    listing = paged(
        view, lambda marker: view.invoke("ListUsers", MaxItems=PAGE_SIZE, Marker=marker), "Users"
    )
    return view.render("users.html", users=listing)


@pages.get("/users/{name}")
def user(view: View) -> Response:
    name = str(view.request.path_params["name"])[:64]
    found = view.invoke("GetUser", UserName=name)["User"]

    def items(operation: str, key: str) -> Callable[[], Any]:
        return lambda: {"items": view.invoke(operation, UserName=name)[key]}

    return view.render(
        "user.html",
        user=found,
        own=name.lower() == view.member.user_name.lower(),
        groups=_read(items("ListGroupsForUser", "Groups")),
        attached=_read(items("ListAttachedUserPolicies", "AttachedPolicies")),
        inline=_read(items("ListUserPolicies", "PolicyNames")),
        access_keys=_read(items("ListAccessKeys", "AccessKeyMetadata")),
        mfa=_read(items("ListMFADevices", "MFADevices")),
        certificates=_read(items("ListSigningCertificates", "Certificates")),
        ssh_keys=_read(items("ListSSHPublicKeys", "SSHPublicKeys")),
    )


@pages.get("/groups")
def groups(view: View) -> Response:
    listing = paged(
        view,
        lambda marker: view.invoke("ListGroups", MaxItems=PAGE_SIZE, Marker=marker),
        "Groups",
    )
    return view.render("groups.html", groups=listing)


@pages.get("/groups/{name}")
def group(view: View) -> Response:
    name = str(view.request.path_params["name"])[:128]
    found = view.invoke("GetGroup", GroupName=name, MaxItems=1000)
    attached = _read(
        lambda: {
            "items": view.invoke("ListAttachedGroupPolicies", GroupName=name)["AttachedPolicies"]
        }
    )
    inline = _read(
        lambda: {"items": view.invoke("ListGroupPolicies", GroupName=name)["PolicyNames"]}
    )
    return view.render(
        "group.html", group=found["Group"], members=found["Users"], attached=attached, inline=inline
    )
