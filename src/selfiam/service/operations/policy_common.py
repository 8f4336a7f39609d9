"""What the managed-policy, inline-policy and authorization-details operations share.

Finding a managed policy by ARN (with AWS's InvalidInput / NoSuchEntity wording),
its counts and its model shape, validating a document with the pure policy
engine, URL-encoding documents as IAM returns them, policy tags, and the user or
group that holds attached or inline policies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import ColumnElement, Row, Table, and_, func, or_, select, union
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import Label

from selfiam.domain.arns import ArnError, parse_iam_arn
from selfiam.domain.errors import (
    AccessDenied,
    AwsError,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
    ValidationError,
)
from selfiam.policy import (
    MalformedPolicyError,
    Policy,
    PolicyKind,
    PolicySizeExceededError,
    parse_policy,
)
from selfiam.service.context import OperationContext
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.entities import GROUP, ROLE, USER, authorize_entity
from selfiam.service.protected_roles import refuse_if_service_linked
from selfiam.service.registry import operation
from selfiam.store import tables as t

AWS_NAMESPACE = "aws"


@dataclass(frozen=True)
class PolicyOwner:
    """A user, group or role, as the operations on its attached or inline policies
    address it."""

    kind: str  # "user", "group" or "role" (also inline_policies.owner_type)
    name_param: str
    table: Table
    key: str

    def authorized(
        self,
        ctx: OperationContext,
        name: str,
        *,
        extra_context: Mapping[str, str | Sequence[str]] | None = None,
    ) -> Row[Any]:
        """Authorize the operation on the named owner as ``entities.authorize_entity``
        does (its real ARN, its tags as aws:ResourceTag and iam:ResourceTag, its boundary
        as iam:PermissionsBoundary), then return its row: NoSuchEntity after the
        authorization, as AWS orders it."""
        row, _ = authorize_entity(ctx, _KINDS[self.kind], name, extra_context=extra_context)
        return row

    def check_modifiable(self, ctx: OperationContext, entity: Row[Any]) -> None:
        """Refuse to change the policies of a service-linked role (UnmodifiableEntity)."""
        if self.kind == "role":
            refuse_if_service_linked(ctx.conn, entity)


Owner = TypeVar("Owner", bound=PolicyOwner)


def register_for(
    owner: Owner,
    name: str,
    step: Callable[[OperationContext, Owner, Mapping[str, Any]], dict[str, Any]],
    *,
    writes: bool = True,
    light: bool = False,
) -> None:
    """Register ``step`` for one owner as the operation ``name`` (``name`` holds
    ``{Kind}``: "Put{Kind}Policy" becomes PutUserPolicy for users)."""

    def handler(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
        return step(ctx, owner, params)

    operation(name.format(Kind=owner.kind.capitalize()), writes=writes, light=light)(handler)


_KINDS = {"user": USER, "group": GROUP, "role": ROLE}


# -- documents -------------------------------------------------------------------------


def quote_document(document: str) -> str:
    """A policy document as IAM puts it on the wire: URL-encoded (RFC 3986).

    boto3 un-quotes PolicyDocument/Document fields itself (``unquote``, not
    ``unquote_plus``), so spaces must be ``%20`` and every reserved character,
    ``/`` included, is encoded; ``*`` is left as AWS leaves it.
    """
    return quote(document, safe="*")


def validate_document(
    text: str,
    kind: PolicyKind,
    entity_name: str | None = None,
    *,
    require_current_version: bool = False,
) -> Policy:
    """Parse and validate ``text`` as IAM would on Create*/Put*.

    MalformedPolicyError -> MalformedPolicyDocument with AWS's words as its message (what
    the API answers) and selfiam's precise explanation as its ``detail`` (what the portal
    and the CLI show); over the size quota -> LimitExceeded with AWS's wording (inline
    policies name their owner). ``require_current_version``: CreatePolicy and
    CreatePolicyVersion's rule (see ``parse_policy``).
    """
    try:
        return parse_policy(
            text, kind, policy_id="", require_current_version=require_current_version
        )
    except PolicySizeExceededError as err:
        message = err.inline_message(entity_name) if entity_name is not None else err.message
        raise LimitExceeded(message) from None
    except MalformedPolicyError as err:
        raise MalformedPolicyDocument(err.aws_message, detail=err.message) from None


# -- finding a managed policy ----------------------------------------------------------


def check_policy_arn(arn: str, error: type[AwsError] = InvalidInput) -> None:
    """``error`` unless ``arn`` is an IAM policy ARN (as AWS: "ARN x is not valid.").

    Attaching and detaching answer ValidationError (AWS's recorded answer to
    AttachUserPolicy with something that is not an ARN); the others InvalidInput.
    """
    try:
        parsed = parse_iam_arn(arn)
    except ArnError:
        raise error(f"ARN {arn} is not valid.") from None
    if parsed.service != "iam" or parsed.resource_type != "policy":
        raise error(f"ARN {arn} is not valid.")


def find_policy(conn: Connection, account_id: str, arn: str) -> Row[Any] | None:
    """The managed policy with this ARN visible to the account: its own or AWS's."""
    mp = t.managed_policies
    return conn.execute(
        select(mp).where(mp.c.arn == arn, mp.c.namespace.in_((account_id, AWS_NAMESPACE)))
    ).first()


def get_policy(conn: Connection, account_id: str, arn: str) -> Row[Any]:
    row = find_policy(conn, account_id, arn)
    if row is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return row


def require_customer_managed(ctx: OperationContext, row: Row[Any]) -> None:
    """AWS managed policies belong to the account ``aws``: no customer can change them.

    Identity policies only reach the caller's own account, so AWS answers with
    AccessDenied (no reason clause: it is not a matter of the caller's policies).
    """
    if row.namespace == AWS_NAMESPACE:
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform: {ctx.action} "
            f"on resource: {row.arn}"
        )


def policy_tags(ctx: OperationContext, arn: str) -> dict[str, str]:
    """The policy's tags for the aws:ResourceTag context (empty if there is no such policy)."""
    row = find_policy(ctx.conn, ctx.account_id, arn)
    return {} if row is None else _tags_of(ctx, row)


def _tags_of(ctx: OperationContext, row: Row[Any]) -> dict[str, str]:
    if row.namespace == AWS_NAMESPACE:
        return {}  # AWS managed policies carry no tags (TagPolicy refuses them)
    return tagging.load_tags(ctx.conn, "policy", row.policy_id)


def authorized_policy(
    ctx: OperationContext, arn: str, *, customer_managed: bool = False
) -> Row[Any]:
    """The managed policy an operation on ``arn`` acts on.

    The ARN's form is checked and the caller authorized against it, with the policy's
    tags as aws:ResourceTag; then NoSuchEntity if there is no such policy and, with
    ``customer_managed``, AccessDenied for an AWS managed one.
    """
    check_policy_arn(arn)
    row = find_policy(ctx.conn, ctx.account_id, arn)
    tags = None if row is None else _tags_of(ctx, row)
    ctx.authorize(arn, resource_tags=tags)
    if row is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    if customer_managed:
        require_customer_managed(ctx, row)
    return row


# -- counts and shapes -----------------------------------------------------------------


def attachment_count(account_id: str, policy_id: Any = None) -> Label[Any]:
    """Correlated count of the account's users, groups and roles a policy is attached to
    (``policy_id``: the column to correlate with, by default ``managed_policies``')."""
    policy_id = t.managed_policies.c.policy_id if policy_id is None else policy_id
    parts: list[Any] = []
    for attachments, owners, key in (
        (t.user_policy_attachments, t.users, "user_id"),
        (t.group_policy_attachments, t.groups, "group_id"),
        (t.role_policy_attachments, t.roles, "role_id"),
    ):
        # From the policy's attachments (its index), each owner's account checked by its
        # primary key: a join let SQLite walk every user of the account instead.
        owned = (
            select(owners.c[key])
            .where(owners.c[key] == attachments.c[key], owners.c.account_id == account_id)
            .exists()
        )
        parts.append(
            select(func.count())
            .select_from(attachments)
            .where(attachments.c.policy_id == policy_id, owned)
            .scalar_subquery()
        )
    total: ColumnElement[Any] = parts[0] + parts[1] + parts[2]
    return total.label("attachment_count")


def boundary_count(account_id: str, arn: Any = None) -> Label[Any]:
    """Correlated count of the account's users and roles using a policy as boundary."""
    arn = t.managed_policies.c.arn if arn is None else arn
    users = (
        select(func.count())
        .where(t.users.c.account_id == account_id, t.users.c.permissions_boundary_arn == arn)
        .scalar_subquery()
    )
    roles = (
        select(func.count())
        .where(t.roles.c.account_id == account_id, t.roles.c.permissions_boundary_arn == arn)
        .scalar_subquery()
    )
    return (users + roles).label("boundary_count")


def attached_policy_ids(account_id: str) -> Any:
    """The ids of the policies attached to one of the account's users, groups or roles."""
    parts = [
        select(attachments.c.policy_id)
        .select_from(attachments.join(owners, attachments.c[key] == owners.c[key]))
        .where(owners.c.account_id == account_id)
        for attachments, owners, key in (
            (t.user_policy_attachments, t.users, "user_id"),
            (t.group_policy_attachments, t.groups, "group_id"),
            (t.role_policy_attachments, t.roles, "role_id"),
        )
    ]
    return union(*parts)


def boundary_arns(account_id: str) -> Any:
    """The ARNs of the policies that are the boundary of one of the account's users or roles."""
    return union(
        select(t.users.c.permissions_boundary_arn).where(
            t.users.c.account_id == account_id, t.users.c.permissions_boundary_arn.is_not(None)
        ),
        select(t.roles.c.permissions_boundary_arn).where(
            t.roles.c.account_id == account_id, t.roles.c.permissions_boundary_arn.is_not(None)
        ),
    )


def policy_with_counts(account_id: str) -> Any:
    """SELECT of managed policies with their AttachmentCount and PermissionsBoundaryUsageCount."""
    return select(t.managed_policies, attachment_count(account_id), boundary_count(account_id))


def visible_to(account_id: str) -> ColumnElement[bool]:
    return t.managed_policies.c.namespace.in_((account_id, AWS_NAMESPACE))


def counted_policy(conn: Connection, account_id: str, arn: str) -> Row[Any]:
    mp = t.managed_policies
    row = conn.execute(
        policy_with_counts(account_id).where(mp.c.arn == arn, visible_to(account_id))
    ).first()
    if row is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return row


def policy_shape(row: Row[Any], *, detailed: bool = True) -> dict[str, Any]:
    """The model's Policy structure. ListPolicies leaves Description and Tags out (as AWS)."""
    out: dict[str, Any] = {
        "PolicyName": row.name,
        "PolicyId": row.policy_id,
        "Arn": row.arn,
        "Path": row.path,
        "DefaultVersionId": row.default_version_id,
        "AttachmentCount": int(row.attachment_count),
        "PermissionsBoundaryUsageCount": int(row.boundary_count),
        "IsAttachable": bool(row.is_attachable),
        "CreateDate": row.created_at,
        "UpdateDate": row.updated_at,
    }
    if detailed and row.description:
        out["Description"] = row.description
    return out


def version_number(version_id: str) -> int:
    """``v12`` -> 12 (a suffix such as ``v2.beta`` is ignored)."""
    digits = version_id[1:].split(".", 1)[0]
    return int(digits) if digits.isdigit() else 0


# -- keyset markers ---------------------------------------------------------------------


def after_marker(columns: Sequence[Any], marker: Sequence[str]) -> ColumnElement[bool]:
    """Keyset condition: the row's (c1, c2, ...) sorts strictly after ``marker``."""
    first, *rest = columns
    head, *tail = marker
    if not rest:
        return first > head  # type: ignore[no-any-return]
    return or_(first > head, and_(first == head, after_marker(rest, tail)))


SEPARATOR = "\x00"


def split_marker(marker: str | None, parts: int) -> list[str] | None:
    """A composite keyset marker (decoded) split into ``parts`` fields."""
    if marker is None:
        return None
    fields = marker.split(SEPARATOR)
    if len(fields) != parts:
        raise ValidationError("Invalid Marker.")
    return fields
