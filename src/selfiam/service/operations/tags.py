"""Tags on IAM entities: AWS's rules, shared by every taggable resource.

The model (botocore) already checks each key (1-128 characters, pattern),
each value (0-256) and at most 50 tags per request. What it cannot check is
left here: keys are unique within a request and on the resource, and a resource
holds at most 50 tags after a merge.

Uniqueness is case-insensitive for users and roles (a key given in another case
replaces the old tag) and case-sensitive for customer managed policies, where AWS
keeps ``a`` and ``A`` as two tags. ``key_lower`` holds a tag's identity either way:
the lowered key, or the key itself for a case-sensitive resource type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection

from selfiam.domain.errors import InvalidInput, LimitExceeded
from selfiam.service.context import OperationContext
from selfiam.service.pagination import decode_marker, finish_page, limit_of
from selfiam.store import tables as t
from selfiam.store.prepared import PreparedSelect

TAGS_PER_RESOURCE = 50
DUPLICATE_KEYS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
#: AWS's recorded answer for a case-sensitive type (a policy) says no more.
DUPLICATE_EXACT_KEYS = "Duplicate tag keys found."
#: Resource types whose tag keys are case-sensitive (AWS's recorded answers for policies).
CASE_SENSITIVE = frozenset({"policy"})


#: The Tag* permission AWS also asks for when an operation is given ``Tags`` ("Permissions
#: required for tagging" / the Service Authorization Reference's dependent actions):
#: creating with tags is tagging. Every operation that takes ``Tags`` and creates
#: something is listed (tests/service/test_tag_on_create.py checks the list against
#: botocore's model); a new one (UploadServerCertificate) calls ``authorize_create``.
TAG_ACTION_ON_CREATE = {
    "CreateUser": "iam:TagUser",
    "CreateRole": "iam:TagRole",
    "CreatePolicy": "iam:TagPolicy",
    "CreateInstanceProfile": "iam:TagInstanceProfile",
    "CreateOpenIDConnectProvider": "iam:TagOpenIDConnectProvider",
    "CreateSAMLProvider": "iam:TagSAMLProvider",
    "CreateVirtualMFADevice": "iam:TagMFADevice",
    "UploadServerCertificate": "iam:TagServerCertificate",
    "GetFederationToken": "sts:TagSession",
}


def authorize_create(
    ctx: OperationContext,
    arn: str,
    tags: Mapping[str, str],
    tag_action: str | None = None,
    *,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> None:
    """Authorize creating ``arn`` with ``tags``: creating with tags also tags, so AWS
    asks for ``tag_action`` (iam:TagUser, ...; by default the operation's entry in
    ``TAG_ACTION_ON_CREATE``) on the new resource as well, with the tags as
    aws:RequestTag and aws:TagKeys. Both are asked before anything is written, so a
    refused tag permission creates nothing; the AccessDenied names the Tag* action."""
    ctx.authorize(arn, request_tags=tags or None, extra_context=extra_context)
    if tags:
        action = tag_action or TAG_ACTION_ON_CREATE[ctx.action.partition(":")[2]]
        ctx.authorize(arn, action=action, request_tags=tags)


def tag_identity(resource_type: str, key: str) -> str:
    """What makes a tag key unique on a resource of ``resource_type`` (``key_lower``)."""
    return key if resource_type in CASE_SENSITIVE else key.lower()


def request_tags(
    tags: Sequence[Mapping[str, Any]] | None, resource_type: str = "user"
) -> dict[str, str]:
    """The ``Tags`` parameter as {key: value} in request order; duplicates refused."""
    result: dict[str, str] = {}
    seen: set[str] = set()
    for tag in tags or ():
        key = str(tag["Key"])
        identity = tag_identity(resource_type, key)
        if identity in seen:
            exact = resource_type in CASE_SENSITIVE
            raise InvalidInput(DUPLICATE_EXACT_KEYS if exact else DUPLICATE_KEYS)
        seen.add(identity)
        result[key] = str(tag.get("Value") or "")
    return result


def _owned(resource_type: str, resource_id: str) -> Any:
    return (t.tags.c.resource_type == resource_type) & (t.tags.c.resource_id == resource_id)


# Read on most requests.
_LOAD_TAGS = PreparedSelect(
    select(t.tags.c.key, t.tags.c.value)
    .where(
        (t.tags.c.resource_type == bindparam("resource_type"))
        & (t.tags.c.resource_id == bindparam("resource_id"))
    )
    .order_by(t.tags.c.key_lower)
)


def load_tags(conn: Connection, resource_type: str, resource_id: str) -> dict[str, str]:
    """Every tag of one resource, ordered by key (case-insensitively)."""
    rows = _LOAD_TAGS.all(conn, {"resource_type": resource_type, "resource_id": resource_id})
    return {key: value for key, value in rows}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as the model's tagListType."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def put_tags(
    conn: Connection,
    resource_type: str,
    resource_id: str,
    tags: Mapping[str, str],
    quota_name: str,
) -> None:
    """Add or overwrite tags (on a case-insensitive type, a key given in another case
    replaces the old one).

    The caller holds a lock on the owning row (or SQLite's write lock), so the
    count cannot be overtaken by a concurrent TagX.
    """
    if not tags:
        return
    existing = set(
        conn.execute(select(t.tags.c.key_lower).where(_owned(resource_type, resource_id))).scalars()
    )
    identities = [tag_identity(resource_type, k) for k in tags]
    added = set(identities) - existing
    if len(existing) + len(added) > TAGS_PER_RESOURCE:
        raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {TAGS_PER_RESOURCE}")
    conn.execute(
        delete(t.tags).where(_owned(resource_type, resource_id), t.tags.c.key_lower.in_(identities))
    )
    conn.execute(
        t.tags.insert(),
        [
            {
                "resource_type": resource_type,
                "resource_id": resource_id,
                "key": key,
                "key_lower": tag_identity(resource_type, key),
                "value": value,
            }
            for key, value in tags.items()
        ],
    )


def remove_tags(
    conn: Connection, resource_type: str, resource_id: str, keys: Iterable[str]
) -> None:
    """Remove tags by key (case-insensitively unless the type is case-sensitive); keys that
    are absent are ignored, as AWS."""
    lowers = [tag_identity(resource_type, k) for k in keys]
    if lowers:
        conn.execute(
            delete(t.tags).where(_owned(resource_type, resource_id), t.tags.c.key_lower.in_(lowers))
        )


def list_tags_page(
    conn: Connection, resource_type: str, resource_id: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """One page of ListXTags: {Tags, IsTruncated, Marker?}, keyset on the lowercased key."""
    query = select(t.tags.c.key, t.tags.c.value, t.tags.c.key_lower).where(
        _owned(resource_type, resource_id)
    )
    after = decode_marker(params.get("Marker"))
    if after is not None:
        query = query.where(t.tags.c.key_lower > after)
    rows = conn.execute(query.order_by(t.tags.c.key_lower).limit(limit_of(params))).all()
    page, more = finish_page(rows, params, lambda row: row.key_lower)
    return {"Tags": [{"Key": r.key, "Value": r.value} for r in page], **more}
