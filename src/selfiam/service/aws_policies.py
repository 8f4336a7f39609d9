"""AWS's managed policies in the database: seeded on first run, refreshed on every start.

The policies live in ``managed_policies`` / ``policy_versions`` like customer ones, with
no account (namespace ``aws``): one copy per database, shared by its accounts. So every
operation reads them as it reads any policy (ListPolicies pages in SQL, attachments are
rows, AttachmentCount is counted), and nothing loads the 1,594 documents except a
principal's own attached ones.

The source is the committed dataset (:mod:`selfiam.catalog.managed_policies`).
:func:`sync_aws_managed_policies` runs when a runtime opens (``selfiam init`` /
``serve``): it inserts the policies the database lacks and, for each one whose default
version in the dataset is not the database's, adds that version and makes it the default,
as AWS does when it updates a managed policy: every principal it is attached to gets
AWS's new document on its next request. Earlier versions stay (ListPolicyVersions shows
the ones this database has seen); a version's document is never rewritten. Policies the
dataset no longer has are kept: AWS keeps deprecated policies for those who attached them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import Connection

from selfiam.catalog.managed_policies import Dataset, ManagedPolicy, load_dataset
from selfiam.store import change_feed
from selfiam.store import tables as t
from selfiam.store.engine import transaction

AWS_NAMESPACE = "aws"
#: PostgreSQL advisory lock held while syncing, so that processes starting together
#: do not insert the same rows ("selfiam-aws-policies").
_SYNC_LOCK_KEY = 0x73656C666177


@dataclass(frozen=True)
class SyncResult:
    added: int
    updated: int
    unchanged: int


def _version_number(version_id: str) -> int:
    digits = version_id[1:].split(".", 1)[0]
    return int(digits) if digits.isdigit() else 0


def _policy_row(policy: ManagedPolicy) -> dict[str, Any]:
    return {
        "policy_id": policy.policy_id,
        "arn": policy.arn,
        "account_id": None,
        "namespace": AWS_NAMESPACE,
        "name": policy.name,
        "name_lower": policy.name.lower(),
        "path": policy.path,
        "description": None,
        "default_version_id": policy.default_version_id,
        "next_version_number": _version_number(policy.default_version_id) + 1,
        "is_attachable": True,
        "created_at": policy.create_date,
        "updated_at": policy.update_date,
    }


def _version_row(policy_id: str, policy: ManagedPolicy) -> dict[str, Any]:
    return {
        "policy_id": policy_id,
        "version_id": policy.default_version_id,
        "document": policy.document,
        "created_at": policy.update_date,
    }


def _update_policy(conn: Connection, row: Any, policy: ManagedPolicy) -> None:
    """Give an existing AWS policy the dataset's default version (added if new)."""
    pv, mp = t.policy_versions, t.managed_policies
    known = conn.execute(
        select(pv.c.version_id).where(
            pv.c.policy_id == row.policy_id, pv.c.version_id == policy.default_version_id
        )
    ).first()
    if known is None:
        conn.execute(pv.insert().values(_version_row(row.policy_id, policy)))
    number = _version_number(policy.default_version_id)
    conn.execute(
        update(mp)
        .where(mp.c.policy_id == row.policy_id)
        .values(
            default_version_id=policy.default_version_id,
            next_version_number=max(row.next_version_number, number + 1),
            updated_at=policy.update_date,
        )
    )


def sync_policies(conn: Connection, dataset: Dataset | None = None) -> SyncResult:
    """Bring the database's AWS managed policies to ``dataset`` (default: the committed one)
    in the caller's transaction. Idempotent: a second run changes nothing."""
    dataset = load_dataset() if dataset is None else dataset
    mp = t.managed_policies
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SYNC_LOCK_KEY})
    existing = {
        row.name_lower: row
        for row in conn.execute(
            select(
                mp.c.policy_id, mp.c.name_lower, mp.c.default_version_id, mp.c.next_version_number
            ).where(mp.c.namespace == AWS_NAMESPACE)
        )
    }
    new: list[ManagedPolicy] = []
    updated = 0
    for policy in dataset:
        row = existing.get(policy.name.lower())
        if row is None:
            new.append(policy)
        elif row.default_version_id != policy.default_version_id:
            _update_policy(conn, row, policy)
            updated += 1
    if new:
        conn.execute(mp.insert(), [_policy_row(p) for p in new])
        conn.execute(t.policy_versions.insert(), [_version_row(p.policy_id, p) for p in new])
    if updated:  # attached principals must get the new documents, in every process
        change_feed.record(conn, [change_feed.EVERYTHING], node="aws-policy-sync", seq=0)
    return SyncResult(len(new), updated, len(dataset) - len(new) - updated)


def sync_aws_managed_policies(engine: Engine, dataset: Dataset | None = None) -> SyncResult:
    """:func:`sync_policies` in a transaction of its own."""
    with transaction(engine) as conn:
        return sync_policies(conn, dataset)
