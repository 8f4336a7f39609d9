"""Finding entities by name, with AWS's NoSuchEntity wording."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import PARTITION, role_arn
from selfiam.domain.errors import AwsError, NoSuchEntity, ValidationError
from selfiam.service.context import OperationContext
from selfiam.store import tables as t
from selfiam.store.prepared import PreparedSelect, row_type

# Looked up on most requests.
_FIND_USER = PreparedSelect(
    select(t.users).where(
        t.users.c.account_id == bindparam("account_id"),
        t.users.c.name_lower == bindparam("name_lower"),
    )
)


def find_user(conn: Connection, account_id: str, name: str) -> Any | None:
    """The user's row (a named tuple of the ``users`` columns), or None."""
    return _FIND_USER.first(conn, {"account_id": account_id, "name_lower": name.lower()})


class _TaggedFinder:
    """An entity's row and its tags in one query (a LEFT JOIN on the tags' primary key,
    at most 50 rows): GetUser and GetRole read both on every request, and on PostgreSQL
    each query is a network round trip. Tags ordered by key, case-insensitively, as
    ``tags.load_tags`` orders them."""

    def __init__(self, table: Table, key: str, tag_type: str, *, keep: bool = False) -> None:
        tags = t.tags
        joined = table.outerjoin(
            tags, and_(tags.c.resource_type == tag_type, tags.c.resource_id == table.c[key])
        )
        self._width = len(table.c)
        self._row: Any = row_type([c.key for c in table.c])
        query = (
            select(*table.c, tags.c.key.label("tag_key"), tags.c.value.label("tag_value"))
            .select_from(joined)
            .where(
                table.c.account_id == bindparam("account_id"),
                table.c.name_lower == bindparam("name_lower"),
            )
            .order_by(tags.c.key_lower)
        )
        if keep:  # the entity's row stays until the transaction ends (locks.keep_row)
            query = query.with_for_update(read=True, key_share=True, of=table)
        self._select = PreparedSelect(query)

    def __call__(
        self, conn: Connection, account_id: str, name: str
    ) -> tuple[Any, dict[str, str]] | None:
        rows = self._select.all(conn, {"account_id": account_id, "name_lower": name.lower()})
        if not rows:
            return None
        width = self._width
        tags = {r[width]: r[width + 1] for r in rows if r[width] is not None}
        return self._row._make(rows[0][:width]), tags


#: (the user's row, its tags) by name, or None.
find_user_with_tags = _TaggedFinder(t.users, "user_id", "user")


def no_such_user(name: str) -> AwsError:
    return NoSuchEntity(f"The user with name {name} cannot be found.")


def get_user(conn: Connection, account_id: str, name: str) -> Any:
    row = find_user(conn, account_id, name)
    if row is None:
        raise no_such_user(name)
    return row


def find_group(conn: Connection, account_id: str, name: str) -> Row[Any] | None:
    return conn.execute(
        select(t.groups).where(
            t.groups.c.account_id == account_id, t.groups.c.name_lower == name.lower()
        )
    ).first()


def no_such_group(name: str) -> AwsError:
    return NoSuchEntity(f"The group with name {name} cannot be found.")


def get_group(conn: Connection, account_id: str, name: str) -> Row[Any]:
    row = find_group(conn, account_id, name)
    if row is None:
        raise no_such_group(name)
    return row


# Looked up by every AssumeRole.
_FIND_ROLE = PreparedSelect(
    select(t.roles).where(
        t.roles.c.account_id == bindparam("account_id"),
        t.roles.c.name_lower == bindparam("name_lower"),
    )
)


def find_role(conn: Connection, account_id: str, name: str) -> Any | None:
    """The role's row (a named tuple of the ``roles`` columns), or None."""
    return _FIND_ROLE.first(conn, {"account_id": account_id, "name_lower": name.lower()})


#: (the role's row, its tags) by name, or None.
find_role_with_tags = _TaggedFinder(t.roles, "role_id", "role")
#: The same, the role's row kept (FOR KEY SHARE) until the transaction ends: a role
#: session's insert then finds it there (write transactions only).
keep_role_with_tags = _TaggedFinder(t.roles, "role_id", "role", keep=True)


def no_such_role(name: str) -> AwsError:
    return NoSuchEntity(f"The role with name {name} cannot be found.")


def get_role(conn: Connection, account_id: str, name: str) -> Any:
    row = find_role(conn, account_id, name)
    if row is None:
        raise no_such_role(name)
    return row


def target_user_name(ctx: OperationContext, params: dict[str, Any] | Any) -> str:
    """The UserName parameter, or the caller's own name when it is omitted (as AWS).

    The root user has no user name: AWS acts on the root's own credentials there,
    which selfiam does not model, so a name is required from root.
    """
    name = params.get("UserName")
    if name:
        return str(name)
    if ctx.caller.user_name is None:
        raise ValidationError("Must specify userName when calling with non-User credentials")
    return ctx.caller.user_name


def role_resource(ctx: OperationContext, name: str) -> str:
    row = find_role(ctx.conn, ctx.account_id, name)
    if row is None:
        return role_arn(ctx.account_id, name)
    return role_arn(ctx.account_id, row.name, row.path)


def listed_user_shape(row: Any, account_id: str) -> dict[str, Any]:
    """A user as a listing (ListUsers, GetGroup) shows one: AWS leaves out the
    PermissionsBoundary and Tags there, even though they belong to the User structure."""
    out: dict[str, Any] = {
        "Path": row.path,
        "UserName": row.name,
        "UserId": row.user_id,
        # What user_arn builds, without re-checking a path that was checked when it was
        # stored (ListUsers shapes a thousand rows per page).
        "Arn": f"arn:{PARTITION}:iam::{account_id}:user{row.path}{row.name}",
        "CreateDate": row.created_at,
    }
    if row.password_last_used is not None:
        out["PasswordLastUsed"] = row.password_last_used
    return out


def user_shape(row: Any, account_id: str) -> dict[str, Any]:
    """A user as the model's User structure (with its permissions boundary)."""
    out = listed_user_shape(row, account_id)
    if row.permissions_boundary_arn:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": row.permissions_boundary_arn,
        }
    return out
