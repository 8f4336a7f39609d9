"""Service-linked roles are AWS's to change: IAM refuses to modify them (UnmodifiableEntity).

Which operations refuse: DeleteRole (DeleteServiceLinkedRole deletes them),
UpdateAssumeRolePolicy, Put/DeleteRolePolicy, Attach/DetachRolePolicy and
Put/DeleteRolePermissionsBoundary; their description and tags stay editable, as in AWS.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.domain.errors import UnmodifiableEntity
from selfiam.store import tables as t


def service_of(conn: Connection, role_id: str) -> str | None:
    """The AWS service a service-linked role is linked to; None for any other role."""
    slr = t.service_linked_roles
    found = conn.execute(select(slr.c.service_name).where(slr.c.role_id == role_id)).scalar()
    return str(found) if found is not None else None


def refuse_if_service_linked(conn: Connection, role: Any) -> None:
    """UnmodifiableEntity, with AWS's wording, if ``role`` (a roles row) is service-linked."""
    if service_of(conn, role.role_id) is not None:
        raise UnmodifiableEntity(
            f"Cannot perform the operation on the protected role '{role.name}' - "
            "this role is only modifiable by AWS"
        )
