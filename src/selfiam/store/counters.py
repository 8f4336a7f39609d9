"""Per-account counters of what GetAccountSummary reports and the account quotas check.

Counting rows on every CreateUser and every GetAccountSummary costs what the account
holds (DESIGN rule 8). ``account_counters`` holds one row per (account, kind) instead,
kept by database triggers in the same transaction as the insert or delete they count:
every path that adds or removes a row (an operation, offboarding, a cascade, a bulk
import, a restore, a hand-made ``DELETE``) keeps the counter right, and nothing in Python
has to remember to. A quota check locks the kind's counter row (``FOR UPDATE`` on
PostgreSQL; SQLite's write transaction holds the database lock), so concurrent creators
of one kind wait for each other and see each other's rows.

Managed-policy attachments are counted through their owner's ``account_id``. A user,
group or role deleted with attachments left would cascade them after the owner is gone
(nothing left to find the account by), so a ``BEFORE DELETE`` trigger on the owner
uncounts it and deletes its attachments first, while the owner is still there to be
counted against.

Migration 0014 creates the triggers and backfills the counters; ``metadata.create_all``
creates the triggers too (the ``after_create`` hook below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, PrimaryKeyConstraint, String, Table, event

from selfiam.store.columns import metadata

USERS = "users"
GROUPS = "groups"
ROLES = "roles"
POLICIES = "policies"
INSTANCE_PROFILES = "instance_profiles"
MFA_DEVICES = "mfa_devices"
MFA_DEVICES_IN_USE = "mfa_devices_in_use"
OIDC_PROVIDERS = "oidc_providers"
SAML_PROVIDERS = "saml_providers"
ATTACHMENTS = "attachments"

KINDS = (
    USERS, GROUPS, ROLES, POLICIES, INSTANCE_PROFILES, MFA_DEVICES, MFA_DEVICES_IN_USE,
    OIDC_PROVIDERS, SAML_PROVIDERS, ATTACHMENTS,
)

#: The counted table whose rows of an account ``check_account_quota`` counts, by table name.
KIND_OF_TABLE = {
    "users": USERS,
    "groups": GROUPS,
    "roles": ROLES,
    "managed_policies": POLICIES,
    "instance_profiles": INSTANCE_PROFILES,
    "oidc_providers": OIDC_PROVIDERS,
    "saml_providers": SAML_PROVIDERS,
}

# No foreign key to accounts: a trigger may count a row deleted by an account's cascade.
account_counters = Table(
    "account_counters", metadata,
    Column("account_id", String(12), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("n", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("account_id", "kind"),
)


def _add(kind: str, delta: str, account: str, source: str = "") -> str:
    """Add ``delta`` to ``kind``'s counter of the account ``account`` (an SQL expression,
    read from ``source``, a ``FROM … WHERE …`` clause, when given), creating the row."""
    where = source or "WHERE true"
    return (
        f"INSERT INTO account_counters (account_id, kind, n) SELECT {account}, '{kind}', {delta}"
        f" {where} ON CONFLICT (account_id, kind) DO UPDATE SET n = account_counters.n + excluded.n"
    )


@dataclass(frozen=True)
class Trigger:
    name: str
    timing: str  # "AFTER" | "BEFORE"
    event: str  # "INSERT" | "DELETE" | "UPDATE OF col"
    table: str
    when: str | None
    statements: tuple[str, ...]


def _row_counter(
    table: str, kinds: tuple[str, ...], when: str | None = None, *, deletes: bool = True
) -> list[Trigger]:
    """Count ``table``'s rows (which carry ``account_id``) under each of ``kinds``
    (``deletes=False``: another trigger counts the deletes)."""
    made = []
    events = (("INSERT", "NEW", "1"), ("DELETE", "OLD", "-1"))
    for event_name, row, delta in events if deletes else events[:1]:
        made.append(Trigger(
            f"count_{table}_{event_name.lower()}", "AFTER", event_name, table,
            when.replace("ROW.", f"{row}.") if when else None,
            tuple(_add(kind, delta, f"{row}.account_id") for kind in kinds),
        ))
    return made


def _attachment_counter(
    table: str, owner_table: str, owner_key: str, owner_kind: str
) -> list[Trigger]:
    made = []
    for event_name, row, delta in (("INSERT", "NEW", "1"), ("DELETE", "OLD", "-1")):
        where = f"FROM {owner_table} WHERE {owner_key} = {row}.{owner_key}"
        made.append(Trigger(
            f"count_{table}_{event_name.lower()}", "AFTER", event_name, table, None,
            (_add(ATTACHMENTS, delta, "account_id", where),),
        ))
    # The owner is uncounted, then its attachments go, while the owner is there to count
    # them against. Counter rows are always locked in this order (the owner's kind, then
    # the attachments), as CreateUser + AttachUserPolicy in one transaction does: two
    # transactions on PostgreSQL never wait for each other's counters in a cycle.
    made.append(Trigger(
        f"uncount_{owner_table}", "BEFORE", "DELETE", owner_table, None,
        (
            _add(owner_kind, "-1", "OLD.account_id"),
            f"DELETE FROM {table} WHERE {owner_key} = OLD.{owner_key}",
        ),
    ))
    return made


TRIGGERS: tuple[Trigger, ...] = (
    *_row_counter("users", (USERS,), deletes=False),
    *_row_counter("groups", (GROUPS,), deletes=False),
    *_row_counter("roles", (ROLES,), deletes=False),
    *_row_counter("managed_policies", (POLICIES,), when="ROW.account_id IS NOT NULL"),
    *_row_counter("instance_profiles", (INSTANCE_PROFILES,)),
    *_row_counter("oidc_providers", (OIDC_PROVIDERS,)),
    *_row_counter("saml_providers", (SAML_PROVIDERS,)),
    # Passkeys are always in use: removing one from its user deletes it.
    *_row_counter("passkeys", (MFA_DEVICES, MFA_DEVICES_IN_USE)),
    *_row_counter("mfa_devices", (MFA_DEVICES,)),
    *_row_counter("mfa_devices", (MFA_DEVICES_IN_USE,), when="ROW.user_id IS NOT NULL"),
    Trigger(
        "count_mfa_devices_enable", "AFTER", "UPDATE OF user_id", "mfa_devices",
        "(OLD.user_id IS NULL) <> (NEW.user_id IS NULL)",
        (_add(MFA_DEVICES_IN_USE, "CASE WHEN NEW.user_id IS NULL THEN -1 ELSE 1 END",
              "NEW.account_id"),),
    ),
    *_attachment_counter("user_policy_attachments", "users", "user_id", USERS),
    *_attachment_counter("group_policy_attachments", "groups", "group_id", GROUPS),
    *_attachment_counter("role_policy_attachments", "roles", "role_id", ROLES),
)


def _unique_names(triggers: tuple[Trigger, ...]) -> tuple[Trigger, ...]:
    """Two counters on one table and event (mfa_devices) need two trigger names."""
    seen: dict[str, int] = {}
    named = []
    for trigger in triggers:
        seen[trigger.name] = seen.get(trigger.name, 0) + 1
        suffix = "" if seen[trigger.name] == 1 else f"_{seen[trigger.name]}"
        named.append(Trigger(trigger.name + suffix, trigger.timing, trigger.event,
                             trigger.table, trigger.when, trigger.statements))
    return tuple(named)


TRIGGERS = _unique_names(TRIGGERS)


def create_statements(dialect: str) -> list[str]:
    """The DDL creating every counting trigger on ``dialect`` ("sqlite" or "postgresql")."""
    out: list[str] = []
    for trig in TRIGGERS:
        body = "; ".join(trig.statements) + ";"
        if dialect == "postgresql":
            returned = "OLD" if trig.timing == "BEFORE" else "NULL"
            out.append(
                f"CREATE OR REPLACE FUNCTION {trig.name}_fn() RETURNS trigger LANGUAGE plpgsql"
                f" AS $$ BEGIN {body} RETURN {returned}; END $$"
            )
            when = f" WHEN ({trig.when})" if trig.when else ""
            out.append(
                f"CREATE TRIGGER {trig.name} {trig.timing} {trig.event} ON {trig.table}"
                f" FOR EACH ROW{when} EXECUTE FUNCTION {trig.name}_fn()"
            )
        else:
            when = f" WHEN {trig.when}" if trig.when else ""
            out.append(
                f"CREATE TRIGGER {trig.name} {trig.timing} {trig.event} ON {trig.table}"
                f" FOR EACH ROW{when} BEGIN {body} END"
            )
    return out


def drop_statements(dialect: str) -> list[str]:
    out = []
    for trig in TRIGGERS:
        if dialect == "postgresql":
            out.append(f"DROP TRIGGER IF EXISTS {trig.name} ON {trig.table}")
            out.append(f"DROP FUNCTION IF EXISTS {trig.name}_fn()")
        else:
            out.append(f"DROP TRIGGER IF EXISTS {trig.name}")
    return out


#: The true count of each kind per account, as ``SELECT account_id, n`` queries: the
#: backfill, and what the tests compare the counters with.
COUNT_QUERIES: dict[str, str] = {
    USERS: "SELECT account_id, count(*) FROM users GROUP BY account_id",
    GROUPS: "SELECT account_id, count(*) FROM groups GROUP BY account_id",
    ROLES: "SELECT account_id, count(*) FROM roles GROUP BY account_id",
    POLICIES: "SELECT account_id, count(*) FROM managed_policies"
    " WHERE account_id IS NOT NULL GROUP BY account_id",
    INSTANCE_PROFILES: "SELECT account_id, count(*) FROM instance_profiles GROUP BY account_id",
    OIDC_PROVIDERS: "SELECT account_id, count(*) FROM oidc_providers GROUP BY account_id",
    SAML_PROVIDERS: "SELECT account_id, count(*) FROM saml_providers GROUP BY account_id",
    MFA_DEVICES: "SELECT account_id, count(*) FROM (SELECT account_id FROM mfa_devices"
    " UNION ALL SELECT account_id FROM passkeys) AS d GROUP BY account_id",
    MFA_DEVICES_IN_USE: "SELECT account_id, count(*) FROM (SELECT account_id FROM mfa_devices"
    " WHERE user_id IS NOT NULL UNION ALL SELECT account_id FROM passkeys) AS d"
    " GROUP BY account_id",
    ATTACHMENTS: "SELECT account_id, count(*) FROM ("
    "SELECT u.account_id FROM user_policy_attachments a JOIN users u ON u.user_id = a.user_id"
    " UNION ALL SELECT g.account_id FROM group_policy_attachments a"
    " JOIN groups g ON g.group_id = a.group_id"
    " UNION ALL SELECT r.account_id FROM role_policy_attachments a"
    " JOIN roles r ON r.role_id = a.role_id) AS d GROUP BY account_id",
}


def backfill_statements() -> list[str]:
    """Set every counter to the true count (the migration runs these before the triggers)."""
    out = ["DELETE FROM account_counters"]
    for kind, query in COUNT_QUERIES.items():
        out.append(
            f"INSERT INTO account_counters (account_id, kind, n)"
            f" SELECT account_id, '{kind}', n FROM ({query.replace('count(*)', 'count(*) AS n')})"
            " AS c"
        )
    return out


@event.listens_for(metadata, "after_create")
def _create_triggers(target: Any, connection: Connection, **_: Any) -> None:
    """Create the triggers when tables are made by ``metadata.create_all``."""
    from sqlalchemy import text

    for statement in create_statements(connection.dialect.name):
        connection.execute(text(statement))
