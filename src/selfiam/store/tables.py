"""Everything selfiam stores, as SQLAlchemy Core tables.

Conventions:

* Names are unique per account *case-insensitively* (AWS: you cannot have
  both ``ADMINS`` and ``admins``): each named entity stores ``name`` as given
  and ``name_lower`` under a unique constraint, so the database — not a
  read-then-write in Python — rejects the duplicate (DESIGN rule 6).
* Inline policy names are case-sensitive (AWS documents only that they are
  unique per owner); tag keys are unique per resource case-insensitively.
* A user's things go with the user: FKs from user-owned rows are
  ``ON DELETE CASCADE``. Policy attachments reference the policy without
  cascade, so a policy that is still attached cannot be deleted (AWS's
  DeleteConflict). ``inline_policies`` and ``tags`` are polymorphic (one table
  for several owner types) and so cannot cascade: delete them with
  :func:`selfiam.store.owned.delete_owned`.
* Timestamps are timezone-aware UTC (:class:`UtcDateTime`) on both backends.
* Secrets are sealed (:mod:`selfiam.auth.secretbox`) before they reach a
  ``*_ciphertext`` column; passwords are argon2id hashes.
* A transaction that changes anything a cache holds publishes what it changed on the
  change feed in the same transaction (:mod:`selfiam.store.change_feed`, DESIGN rule 7).

Any change here needs a new Alembic revision in ``migrations/versions``; the
test suite checks that the migrated schema equals this metadata.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from selfiam.store.access_tables import (
    THROTTLE_SCOPES,
    account_settings,
    federation_sessions,
    instance_profile_roles,
    instance_profiles,
    oidc_providers,
    passkeys,
    role_deletion_tasks,
    role_sessions,
    role_trust_principals,
    saml_assertions_used,
    saml_portal_sessions,
    saml_providers,
    secret_throttles,
    service_linked_roles,
    webauthn_challenges,
)
from selfiam.store.columns import (
    ARN,
    ID,
    UtcDateTime,
    account_fk,
    id_column,
    metadata,
    status_check,
    timestamp,
    user_fk,
)
from selfiam.store.counters import account_counters
from selfiam.store.credential_tables import server_certificates, service_specific_credentials
from selfiam.store.report_tables import (
    GRANULARITIES,
    access_report_jobs,
    account_preferences,
    account_properties,
    action_last_used,
    outbound_signing_keys,
)

#: What other modules read here besides the tables defined below: the tables of
#: :mod:`selfiam.store.access_tables` (so that ``tables.X`` names every table), the
#: shared ``metadata`` and the column type ``UtcDateTime``.
__all__ = [
    "THROTTLE_SCOPES",
    "account_counters",
    "account_settings",
    "federation_sessions",
    "instance_profile_roles",
    "instance_profiles",
    "oidc_providers",
    "passkeys",
    "role_deletion_tasks",
    "role_sessions",
    "role_trust_principals",
    "saml_assertions_used",
    "saml_portal_sessions",
    "saml_providers",
    "secret_throttles",
    "service_linked_roles",
    "webauthn_challenges",
    "server_certificates",
    "service_specific_credentials",
    "GRANULARITIES",
    "access_report_jobs",
    "account_preferences",
    "account_properties",
    "action_last_used",
    "outbound_signing_keys",
    "ARN",
    "ID",
    "UtcDateTime",
    "metadata",
]

accounts = Table(
    "accounts", metadata,
    Column("account_id", String(12), primary_key=True),
    Column("alias", String(63), nullable=True, unique=True),
    timestamp("created_at"),
    Column("password_policy", Text, nullable=True),  # JSON; NULL = no policy set
)

users = Table(
    "users", metadata,
    id_column("user_id", primary_key=True),
    account_fk(),
    Column("name", String(64), nullable=False),
    Column("name_lower", String(64), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    timestamp("created_at"),
    Column("permissions_boundary_arn", String(ARN), nullable=True),
    timestamp("password_last_used", nullable=True),
    UniqueConstraint("account_id", "name_lower"),
    # PermissionsBoundaryUsageCount is a probe of this index, not a scan of the account.
    Index("ix_users_permissions_boundary_arn", "account_id", "permissions_boundary_arn"),
)

login_profiles = Table(
    "login_profiles", metadata,
    Column("user_id", String(ID), ForeignKey("users.user_id", ondelete="CASCADE"),
           primary_key=True),
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("password_reset_required", Boolean, nullable=False, default=False),
    timestamp("created_at"),
    timestamp("password_changed_at"),
)

password_history = Table(
    "password_history", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    user_fk(),
    Column("password_hash", Text, nullable=False),
    timestamp("set_at"),
)

groups = Table(
    "groups", metadata,
    id_column("group_id", primary_key=True),
    account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    timestamp("created_at"),
    UniqueConstraint("account_id", "name_lower"),
)

group_members = Table(
    "group_members", metadata,
    Column("group_id", String(ID), ForeignKey("groups.group_id", ondelete="CASCADE"),
           nullable=False),
    user_fk(),
    PrimaryKeyConstraint("group_id", "user_id"),
)

roles = Table(
    "roles", metadata,
    id_column("role_id", primary_key=True),
    account_fk(),
    Column("name", String(64), nullable=False),
    Column("name_lower", String(64), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    Column("description", String(1000), nullable=True),
    Column("assume_role_policy_document", Text, nullable=False),
    Column("max_session_duration", Integer, nullable=False, default=3600),
    Column("permissions_boundary_arn", String(ARN), nullable=True),
    timestamp("created_at"),
    timestamp("last_used_at", nullable=True),
    Column("last_used_region", String(32), nullable=True),
    UniqueConstraint("account_id", "name_lower"),
    Index("ix_roles_permissions_boundary_arn", "account_id", "permissions_boundary_arn"),
)

managed_policies = Table(
    "managed_policies", metadata,
    id_column("policy_id", primary_key=True),
    Column("arn", String(ARN), nullable=False, unique=True),
    # NULL for AWS managed policies, which belong to no account.
    Column("account_id", String(12), ForeignKey("accounts.account_id", ondelete="CASCADE"),
           nullable=True),
    # The name space a policy name is unique in: its account id, or 'aws'.
    # (A unique constraint over a NULL account_id would not constrain.)
    Column("namespace", String(12), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    Column("description", String(1000), nullable=True),
    Column("default_version_id", String(32), nullable=False, default="v1"),
    # The number the next CreatePolicyVersion uses (AWS never reuses version ids).
    Column("next_version_number", Integer, nullable=False, default=2),
    Column("is_attachable", Boolean, nullable=False, default=True),
    timestamp("created_at"),
    timestamp("updated_at"),
    UniqueConstraint("namespace", "name_lower"),
    CheckConstraint(
        "(account_id IS NULL AND namespace = 'aws') OR namespace = account_id",
        name="namespace",
    ),
)

policy_versions = Table(
    "policy_versions", metadata,
    Column("policy_id", String(ID),
           ForeignKey("managed_policies.policy_id", ondelete="CASCADE"), nullable=False),
    Column("version_id", String(32), nullable=False),
    Column("document", Text, nullable=False),
    timestamp("created_at"),
    PrimaryKeyConstraint("policy_id", "version_id"),
)


def _policy_fk() -> Column[Any]:
    # No cascade: a policy still attached cannot be deleted (DeleteConflict).
    return Column("policy_id", String(ID), ForeignKey("managed_policies.policy_id"),
                  nullable=False, index=True)


user_policy_attachments = Table(
    "user_policy_attachments", metadata,
    user_fk(index=False),  # leads the primary key
    _policy_fk(),
    PrimaryKeyConstraint("user_id", "policy_id"),
)

group_policy_attachments = Table(
    "group_policy_attachments", metadata,
    Column("group_id", String(ID), ForeignKey("groups.group_id", ondelete="CASCADE"),
           nullable=False),
    _policy_fk(),
    PrimaryKeyConstraint("group_id", "policy_id"),
)

role_policy_attachments = Table(
    "role_policy_attachments", metadata,
    Column("role_id", String(ID), ForeignKey("roles.role_id", ondelete="CASCADE"),
           nullable=False),
    _policy_fk(),
    PrimaryKeyConstraint("role_id", "policy_id"),
)

OWNER_TYPES = ("user", "group", "role")

inline_policies = Table(
    "inline_policies", metadata,
    Column("owner_type", String(8), nullable=False),
    Column("owner_id", String(ID), nullable=False),
    Column("name", String(128), nullable=False),  # case-sensitive, as AWS
    Column("document", Text, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
    PrimaryKeyConstraint("owner_type", "owner_id", "name"),
    CheckConstraint("owner_type IN ('user', 'group', 'role')", name="owner_type"),
)

access_keys = Table(
    "access_keys", metadata,
    id_column("access_key_id", primary_key=True),
    user_fk(),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("status", String(8), nullable=False, default="Active"),
    timestamp("created_at"),
    timestamp("last_used_at", nullable=True),
    Column("last_used_service", String(64), nullable=True),
    Column("last_used_region", String(32), nullable=True),
    status_check(),
)

mfa_devices = Table(
    "mfa_devices", metadata,
    # A virtual MFA device's serial number is its ARN.
    Column("serial_number", String(256), primary_key=True),
    account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    Column("seed_ciphertext", LargeBinary, nullable=False),  # AD = serial number
    user_fk(nullable=True),  # NULL until enabled for a user
    timestamp("enabled_at", nullable=True),
    # The last accepted TOTP time step: a code is never accepted twice.
    Column("last_used_step", BigInteger, nullable=True),
    timestamp("created_at"),
    UniqueConstraint("account_id", "name_lower"),
)

signing_certificates = Table(
    "signing_certificates", metadata,
    Column("certificate_id", String(128), primary_key=True),
    account_fk(),
    user_fk(),
    Column("body", Text, nullable=False),  # PEM
    Column("fingerprint_sha256", String(64), nullable=False),  # of the DER
    Column("status", String(8), nullable=False, default="Active"),
    timestamp("uploaded_at"),
    # AWS: DuplicateCertificate if any user of the account has it.
    UniqueConstraint("account_id", "fingerprint_sha256"),
    status_check(),
)

ssh_public_keys = Table(
    "ssh_public_keys", metadata,
    Column("ssh_public_key_id", String(128), primary_key=True),
    user_fk(index=False),  # leads the unique constraint below
    Column("body", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),  # MD5, colon-separated, as AWS
    Column("status", String(8), nullable=False, default="Active"),
    timestamp("uploaded_at"),
    # AWS: DuplicateSSHPublicKey if the user already has it.
    UniqueConstraint("user_id", "fingerprint"),
    status_check(),
)

sts_sessions = Table(
    "sts_sessions", metadata,
    # Temporary credentials (GetSessionToken): ASIA… key id, sealed secret, and the
    # SHA-256 of the session token (the token itself is never stored).
    id_column("access_key_id", primary_key=True),
    account_fk(),
    user_fk(),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("session_token_sha256", String(64), nullable=False),
    timestamp("mfa_authenticated_at", nullable=True),
    Column("mfa_serial_number", String(256), nullable=True),
    timestamp("created_at"),
    timestamp("expires_at"),
)

credential_reports = Table(
    "credential_reports", metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id", ondelete="CASCADE"),
           primary_key=True),
    timestamp("generated_at"),  # when the run started: GetCredentialReport's GeneratedTime
    Column("content", Text, nullable=False),  # CSV, as GetCredentialReport returns it
    # STARTED while a node builds it (``token`` names that run), then COMPLETE.
    Column("state", String(16), nullable=False, server_default="COMPLETE"),
    Column("token", String(32), nullable=True),
    CheckConstraint("state IN ('STARTED', 'COMPLETE')", name="report_state"),
)

PORTAL_STAGES = ("mfa", "password", "active")

portal_sessions = Table(
    "portal_sessions", metadata,
    # A browser session of the portal. The id is the SHA-256 of the cookie's random
    # token (the token itself is never stored). ``stage``: "mfa" (password checked,
    # waiting for the TOTP code), "password" (may only change the password), "active".
    Column("session_id", String(64), primary_key=True),
    account_fk(),
    user_fk(),
    Column("stage", String(16), nullable=False),
    timestamp("created_at"),
    timestamp("last_seen_at"),
    timestamp("expires_at"),  # the absolute lifetime; the idle timeout counts from last_seen_at
    timestamp("mfa_authenticated_at", nullable=True),
    # The login profile's password_changed_at when the session began: a password changed
    # elsewhere (or a deleted login profile) ends the session.
    timestamp("password_changed_at"),
    # A virtual MFA device being enrolled: its seed, sealed (AD = session id + serial).
    Column("pending_mfa_serial", String(256), nullable=True),
    Column("pending_mfa_seed_ciphertext", LargeBinary, nullable=True),
    CheckConstraint("stage IN ('mfa', 'password', 'active')", name="stage"),
)

RESOURCE_TYPES = ("user", "group", "role", "policy", "mfa", "saml-provider", "server-cert")

tags = Table(
    "tags", metadata,
    Column("resource_type", String(16), nullable=False),
    Column("resource_id", String(256), nullable=False),  # entity id; MFA: serial number
    Column("key", String(128), nullable=False),
    Column("key_lower", String(128), nullable=False),
    Column("value", String(256), nullable=False, default=""),
    PrimaryKeyConstraint("resource_type", "resource_id", "key_lower"),
)

DECISIONS = ("allowed", "explicitDeny", "implicitDeny", "error")

audit_records = Table(
    "audit_records", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    timestamp("at"),
    Column("request_id", String(64), nullable=False),
    # No FK: the audit trail outlives accounts and users.
    Column("account_id", String(12), nullable=True),
    Column("caller_arn", String(ARN), nullable=True),
    Column("action", String(128), nullable=False),
    Column("resource", String(ARN), nullable=True),
    Column("decision", String(16), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("source_ip", String(64), nullable=True),
    Column("user_agent", Text, nullable=True),
    # No index on caller_arn: the trail is filtered by the ARN's end (any path), which an
    # index cannot serve, and every request inserts a row (migration 0005 dropped it).
    Index("ix_audit_records_at", "at"),
    CheckConstraint(
        "decision IN ('allowed', 'explicitDeny', 'implicitDeny', 'error')", name="decision"
    ),
)

#: The change feed on SQLite (:mod:`selfiam.store.change_feed`): one row per change key a
#: write transaction committed; ids grow in commit order (writers are serialized). On
#: PostgreSQL changes travel as NOTIFY payloads and the table stays empty.
changes = Table(
    "changes", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("change_key", String(600), nullable=False),
)
