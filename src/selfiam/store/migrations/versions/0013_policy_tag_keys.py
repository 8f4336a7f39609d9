"""Policy tag keys are case-sensitive: a policy tag's identity (``tags.key_lower``) becomes
its exact key, so that ``a`` and ``A`` can be two tags of one policy, as in AWS.

Users' and roles' tags keep the lowered key. Keys were unique case-insensitively per
policy before, so they are unique exactly too: no row can collide.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE tags SET key_lower = key WHERE resource_type = 'policy'")


def downgrade() -> None:
    # Lowering again could merge two tags into one key: keep the first of each.
    op.execute(
        "DELETE FROM tags WHERE resource_type = 'policy' AND EXISTS ("
        " SELECT 1 FROM tags AS other WHERE other.resource_type = 'policy'"
        " AND other.resource_id = tags.resource_id AND lower(other.key) = lower(tags.key)"
        " AND other.key < tags.key)"
    )
    op.execute("UPDATE tags SET key_lower = lower(key) WHERE resource_type = 'policy'")
