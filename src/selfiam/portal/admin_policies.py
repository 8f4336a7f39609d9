"""Admin pages for policies: attach and detach managed policies, edit inline policies
(of users, groups and roles), and the groups' own pages.

An inline policy the engine refuses (MalformedPolicyDocument, a size limit) is
shown again in its editor with the engine's message next to the textarea, so
nothing typed is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response

from selfiam.domain.errors import AwsError, ValidationError
from selfiam.portal.admin import call, page_of, path_name, policy_choices, section
from selfiam.portal.paging import PAGE_SIZE, paged
from selfiam.portal.web import Pages, View, done_messages

pages = Pages()

done_messages(
    {
        "policy-attached": "The managed policy has been attached.",
        "policy-detached": "The managed policy has been detached.",
        "inline-saved": "The inline policy has been saved.",
        "inline-deleted": "The inline policy has been deleted.",
    }
)

EXAMPLE_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [],
      "Resource": "*"
    }
  ]
}"""


@dataclass(frozen=True)
class Owner:
    """What differs between a user's and a group's policies."""

    kind: str  # the URL segment: "users" or "groups"
    noun: str
    name_param: str
    attach: str
    detach: str
    put: str
    get: str
    delete: str
    max_name: int


USER = Owner(
    "users",
    "user",
    "UserName",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    64,
)
GROUP = Owner(
    "groups",
    "group",
    "GroupName",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "DeleteGroupPolicy",
    128,
)
ROLE = Owner(
    "roles",
    "role",
    "RoleName",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    64,
)


def _attachment(owner: Owner) -> Any:
    def attachment(view: View) -> Response:
        name = path_name(view, owner.max_name)
        change = view.field("change")
        if change not in ("attach", "detach"):
            raise ValidationError("Choose whether to attach or detach the policy.")
        operation = owner.attach if change == "attach" else owner.detach
        call(view, operation, **{owner.name_param: name}, PolicyArn=view.field("PolicyArn").strip())
        done = "policy-attached" if change == "attach" else "policy-detached"
        return view.redirect(page_of(owner.kind, name), done=done)

    attachment.__name__ = f"{owner.noun}_attachment"
    return attachment


def _editor(owner: Owner) -> Any:
    def editor(view: View) -> Response:
        """The inline policy ``?policy=NAME`` in its editor, or an empty one for a new policy."""
        name = path_name(view, owner.max_name)
        policy = view.request.query_params.get("policy", "")[:128]
        document = EXAMPLE_POLICY
        if policy:
            found = call(view, owner.get, **{owner.name_param: name}, PolicyName=policy)
            document = unquote(found["PolicyDocument"])
        return view.render(
            "admin/inline_policy.html",
            owner=owner,
            name=name,
            policy=policy,
            document=document,
            policy_error=None,
        )

    editor.__name__ = f"{owner.noun}_inline_editor"
    return editor


def _save(owner: Owner) -> Any:
    def save(view: View) -> Response:
        name = path_name(view, owner.max_name)
        policy, document = view.field("PolicyName").strip(), view.field("PolicyDocument")
        try:
            call(
                view,
                owner.put,
                **{owner.name_param: name},
                PolicyName=policy,
                PolicyDocument=document,
            )
        except AwsError as err:
            if err.code == "AccessDenied" or err.code == "NoSuchEntity":
                raise
            return view.render(
                "admin/inline_policy.html",
                status=err.status,
                owner=owner,
                name=name,
                policy=policy[:128],
                document=document,
                policy_error=f"{err.code}: {err.explanation}",
            )
        return view.redirect(page_of(owner.kind, name), done="inline-saved")

    save.__name__ = f"{owner.noun}_inline_save"
    return save


def _remove(owner: Owner) -> Any:
    def remove(view: View) -> Response:
        name = path_name(view, owner.max_name)
        call(view, owner.delete, **{owner.name_param: name}, PolicyName=view.field("PolicyName"))
        return view.redirect(page_of(owner.kind, name), done="inline-deleted")

    remove.__name__ = f"{owner.noun}_inline_delete"
    return remove


for _owner in (USER, GROUP, ROLE):
    _base = f"/admin/{_owner.kind}/{{name}}"
    pages.post(f"{_base}/policies")(_attachment(_owner))
    pages.get(f"{_base}/inline")(_editor(_owner))
    pages.post(f"{_base}/inline")(_save(_owner))
    pages.post(f"{_base}/inline/delete")(_remove(_owner))


# -- groups -----------------------------------------------------------------------------


@pages.get("/admin/groups")
def groups(view: View) -> Response:
    listing = paged(
        view, lambda marker: call(view, "ListGroups", MaxItems=PAGE_SIZE, Marker=marker), "Groups"
    )
    return view.render("admin/groups.html", groups=listing)


@pages.get("/admin/groups/{name}")
def group(view: View) -> Response:
    name = path_name(view, 128)
    found = call(view, "GetGroup", GroupName=name, MaxItems=1000)
    name = found["Group"]["GroupName"]
    return view.render(
        "admin/group.html",
        group=found["Group"],
        members=found["Users"],
        attached=section(
            lambda: call(view, "ListAttachedGroupPolicies", GroupName=name)["AttachedPolicies"]
        ),
        policies=section(lambda: policy_choices(view)),
        inline=section(lambda: call(view, "ListGroupPolicies", GroupName=name)["PolicyNames"]),
    )
