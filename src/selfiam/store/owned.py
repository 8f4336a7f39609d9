"""Deleting the rows that polymorphic tables hold for an entity.

``inline_policies`` and ``tags`` serve several owner types from one table, so
they cannot carry a foreign key and do not cascade when their owner is
deleted. Whoever deletes a user, group, role, policy or MFA device calls
:func:`delete_owned` in the same transaction. (Leftovers would be harmless —
entity ids are random and never reused — but they are clutter.)
"""

from __future__ import annotations

from sqlalchemy import Connection, delete

from selfiam.store.tables import OWNER_TYPES, inline_policies, tags


def delete_owned(conn: Connection, resource_type: str, resource_id: str) -> None:
    """Delete the tags and (for users, groups, roles) the inline policies of one entity."""
    conn.execute(
        delete(tags).where(tags.c.resource_type == resource_type, tags.c.resource_id == resource_id)
    )
    if resource_type in OWNER_TYPES:
        conn.execute(
            delete(inline_policies).where(
                inline_policies.c.owner_type == resource_type,
                inline_policies.c.owner_id == resource_id,
            )
        )
