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
* Changes to anything that affects authentication or authorization bump the
  ``auth`` row of ``state_versions`` in the same transaction
  (:mod:`selfiam.store.versions`, DESIGN rule 7).

Any change here needs a new Alembic revision in ``migrations/versions``; the
test suite checks that the migrated schema equals this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite has no time zones: SQLAlchemy stores naive text and returns naive
    datetimes. This type converts to UTC on the way in and marks UTC on the
    way out, so service code compares times the same way on both backends.
    Naive datetimes are refused: they are a bug waiting to happen.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, write the text SQLAlchemy's DateTime stores
        (``2026-11-27 10:00:00.123456``, always with six digits of microseconds, so
        stored times sort as text) with ``isoformat``, in C: the audit trail writes
        a timestamp per request."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UtcDateTime column; pass an aware one")
            return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:26]

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, read SQLAlchemy's stored text (``2026-11-27 10:00:00.123456``,
        always UTC) in one step: ``fromisoformat`` parses it in C, about ten times
        faster than the generic DateTime processor plus ``process_result_value``,
        which a thousand-row listing feels."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

        return process


# Column helpers: one definition of each kind of column keeps sizes consistent.
ID = 32  # AIDA… (21), AKIA… (20), signing certificate ids (32)
ARN = 2048


def _id(name: str, **kw: Any) -> Column[Any]:
    return Column(name, String(ID), **kw)


def _account_fk() -> Column[Any]:
    return Column(
        "account_id", String(12), ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
    )


def _user_fk(*, nullable: bool = False, index: bool = True) -> Column[Any]:
    return Column(
        "user_id", String(ID), ForeignKey("users.user_id", ondelete="CASCADE"),
        nullable=nullable, index=index,
    )


def _ts(name: str, *, nullable: bool = False) -> Column[Any]:
    return Column(name, UtcDateTime(), nullable=nullable)


def _status() -> CheckConstraint:
    return CheckConstraint("status IN ('Active', 'Inactive')", name="status")


accounts = Table(
    "accounts", metadata,
    Column("account_id", String(12), primary_key=True),
    Column("alias", String(63), nullable=True, unique=True),
    _ts("created_at"),
    Column("password_policy", Text, nullable=True),  # JSON; NULL = no policy set
)

users = Table(
    "users", metadata,
    _id("user_id", primary_key=True),
    _account_fk(),
    Column("name", String(64), nullable=False),
    Column("name_lower", String(64), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    _ts("created_at"),
    Column("permissions_boundary_arn", String(ARN), nullable=True),
    _ts("password_last_used", nullable=True),
    UniqueConstraint("account_id", "name_lower"),
)

login_profiles = Table(
    "login_profiles", metadata,
    Column("user_id", String(ID), ForeignKey("users.user_id", ondelete="CASCADE"),
           primary_key=True),
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("password_reset_required", Boolean, nullable=False, default=False),
    _ts("created_at"),
    _ts("password_changed_at"),
)

password_history = Table(
    "password_history", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    _user_fk(),
    Column("password_hash", Text, nullable=False),
    _ts("set_at"),
)

groups = Table(
    "groups", metadata,
    _id("group_id", primary_key=True),
    _account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    _ts("created_at"),
    UniqueConstraint("account_id", "name_lower"),
)

group_members = Table(
    "group_members", metadata,
    Column("group_id", String(ID), ForeignKey("groups.group_id", ondelete="CASCADE"),
           nullable=False),
    _user_fk(),
    PrimaryKeyConstraint("group_id", "user_id"),
)

roles = Table(
    "roles", metadata,
    _id("role_id", primary_key=True),
    _account_fk(),
    Column("name", String(64), nullable=False),
    Column("name_lower", String(64), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    Column("description", String(1000), nullable=True),
    Column("assume_role_policy_document", Text, nullable=False),
    Column("max_session_duration", Integer, nullable=False, default=3600),
    Column("permissions_boundary_arn", String(ARN), nullable=True),
    _ts("created_at"),
    _ts("last_used_at", nullable=True),
    Column("last_used_region", String(32), nullable=True),
    UniqueConstraint("account_id", "name_lower"),
)

managed_policies = Table(
    "managed_policies", metadata,
    _id("policy_id", primary_key=True),
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
    _ts("created_at"),
    _ts("updated_at"),
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
    _ts("created_at"),
    PrimaryKeyConstraint("policy_id", "version_id"),
)


def _policy_fk() -> Column[Any]:
    # No cascade: a policy still attached cannot be deleted (DeleteConflict).
    return Column("policy_id", String(ID), ForeignKey("managed_policies.policy_id"),
                  nullable=False, index=True)


user_policy_attachments = Table(
    "user_policy_attachments", metadata,
    _user_fk(index=False),  # leads the primary key
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
    _ts("created_at"),
    _ts("updated_at"),
    PrimaryKeyConstraint("owner_type", "owner_id", "name"),
    CheckConstraint("owner_type IN ('user', 'group', 'role')", name="owner_type"),
)

access_keys = Table(
    "access_keys", metadata,
    _id("access_key_id", primary_key=True),
    _user_fk(),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("status", String(8), nullable=False, default="Active"),
    _ts("created_at"),
    _ts("last_used_at", nullable=True),
    Column("last_used_service", String(64), nullable=True),
    Column("last_used_region", String(32), nullable=True),
    _status(),
)

mfa_devices = Table(
    "mfa_devices", metadata,
    # A virtual MFA device's serial number is its ARN.
    Column("serial_number", String(256), primary_key=True),
    _account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    Column("seed_ciphertext", LargeBinary, nullable=False),  # AD = serial number
    _user_fk(nullable=True),  # NULL until enabled for a user
    _ts("enabled_at", nullable=True),
    # The last accepted TOTP time step: a code is never accepted twice.
    Column("last_used_step", BigInteger, nullable=True),
    _ts("created_at"),
    UniqueConstraint("account_id", "name_lower"),
)

signing_certificates = Table(
    "signing_certificates", metadata,
    Column("certificate_id", String(128), primary_key=True),
    _account_fk(),
    _user_fk(),
    Column("body", Text, nullable=False),  # PEM
    Column("fingerprint_sha256", String(64), nullable=False),  # of the DER
    Column("status", String(8), nullable=False, default="Active"),
    _ts("uploaded_at"),
    # AWS: DuplicateCertificate if any user of the account has it.
    UniqueConstraint("account_id", "fingerprint_sha256"),
    _status(),
)

ssh_public_keys = Table(
    "ssh_public_keys", metadata,
    Column("ssh_public_key_id", String(128), primary_key=True),
    _user_fk(index=False),  # leads the unique constraint below
    Column("body", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),  # MD5, colon-separated, as AWS
    Column("status", String(8), nullable=False, default="Active"),
    _ts("uploaded_at"),
    # AWS: DuplicateSSHPublicKey if the user already has it.
    UniqueConstraint("user_id", "fingerprint"),
    _status(),
)

sts_sessions = Table(
    "sts_sessions", metadata,
    # Temporary credentials (GetSessionToken): ASIA… key id, sealed secret, and the
    # SHA-256 of the session token (the token itself is never stored).
    _id("access_key_id", primary_key=True),
    _account_fk(),
    _user_fk(),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("session_token_sha256", String(64), nullable=False),
    _ts("mfa_authenticated_at", nullable=True),
    Column("mfa_serial_number", String(256), nullable=True),
    _ts("created_at"),
    _ts("expires_at"),
)

credential_reports = Table(
    "credential_reports", metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id", ondelete="CASCADE"),
           primary_key=True),
    _ts("generated_at"),
    Column("content", Text, nullable=False),  # CSV, as GetCredentialReport returns it
)

PORTAL_STAGES = ("mfa", "password", "active")

portal_sessions = Table(
    "portal_sessions", metadata,
    # A browser session of the portal. The id is the SHA-256 of the cookie's random
    # token (the token itself is never stored). ``stage``: "mfa" (password checked,
    # waiting for the TOTP code), "password" (may only change the password), "active".
    Column("session_id", String(64), primary_key=True),
    _account_fk(),
    _user_fk(),
    Column("stage", String(16), nullable=False),
    _ts("created_at"),
    _ts("last_seen_at"),
    _ts("expires_at"),  # the absolute lifetime; the idle timeout counts from last_seen_at
    _ts("mfa_authenticated_at", nullable=True),
    # The login profile's password_changed_at when the session began: a password changed
    # elsewhere (or a deleted login profile) ends the session.
    _ts("password_changed_at"),
    # A virtual MFA device being enrolled: its seed, sealed (AD = session id + serial).
    Column("pending_mfa_serial", String(256), nullable=True),
    Column("pending_mfa_seed_ciphertext", LargeBinary, nullable=True),
    CheckConstraint("stage IN ('mfa', 'password', 'active')", name="stage"),
)

RESOURCE_TYPES = ("user", "group", "role", "policy", "mfa", "saml-provider")

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
    _ts("at"),
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

state_versions = Table(
    "state_versions", metadata,
    Column("name", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False, default=0),
)

#: The change counter of everything that affects authentication or authorization.
AUTH_VERSION = "auth"
#: The change counter of what decides a principal's policies (a subset of AUTH_VERSION's).
POLICY_VERSION = "policy"


@event.listens_for(state_versions, "after_create")
def _seed_state_versions(target: Table, connection: Connection, **_: Any) -> None:
    """Seed the counters when tables are made by ``metadata.create_all``
    (migrations 0001 and 0004 seed them the same way)."""
    connection.execute(
        target.insert(),
        [{"name": AUTH_VERSION, "version": 0}, {"name": POLICY_VERSION, "version": 0}],
    )


#: Scopes of ``secret_throttles``: a portal user name, a source address, an MFA device.
THROTTLE_SCOPES = ("user", "address", "mfa")

secret_throttles = Table(
    "secret_throttles", metadata,
    # Failed checks of a secret (password, MFA code), counted per subject so that the
    # limit holds across processes (selfiam.service.throttle). ``subject`` is
    # "ACCOUNT/name_lower" for scope "user" (it need not name an existing user), the
    # address for "address", the device's serial number for "mfa".
    Column("scope", String(8), nullable=False),
    Column("subject", String(256), nullable=False),
    # Failures since the last lockout or success, attempts in progress included.
    Column("failures", Integer, nullable=False, default=0),
    # Lockouts since the last success: each one lasts longer.
    Column("lockouts", Integer, nullable=False, default=0),
    _ts("locked_until", nullable=True),
    # When the row may be forgotten (deleted) if nothing happens to it before.
    _ts("expires_at"),
    PrimaryKeyConstraint("scope", "subject"),
    Index("ix_secret_throttles_expires_at", "expires_at"),
    CheckConstraint("scope IN ('user', 'address', 'mfa')", name="scope"),
)

role_sessions = Table(
    "role_sessions", metadata,
    # Temporary credentials of a role (AssumeRole): ASIA… key id, sealed secret, and the
    # SHA-256 of the session token, as in sts_sessions. A session ends with its role and
    # with the user who started it (directly or through a chain of roles): both FKs
    # cascade, and deleting either bumps the auth version (DESIGN rule 9).
    _id("access_key_id", primary_key=True),
    _account_fk(),
    Column("role_id", String(ID), ForeignKey("roles.role_id", ondelete="CASCADE"),
           nullable=False, index=True),
    # None for a federated session (AssumeRoleWithWebIdentity, AssumeRoleWithSAML), and
    # for the sessions chained from one: those hang on their identity provider.
    _user_fk(nullable=True),
    # The credentials AssumeRole was called with (an AKIA, or a parent session's ASIA key):
    # recorded, not a foreign key, since a parent session may expire before its child.
    Column("issuer_access_key_id", String(ID), nullable=True),
    Column("chained", Boolean, nullable=False, default=False),  # called with role credentials
    Column("session_name", String(64), nullable=False),
    Column("source_identity", String(64), nullable=True),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("session_token_sha256", String(64), nullable=False),
    _ts("mfa_authenticated_at", nullable=True),
    Column("mfa_serial_number", String(256), nullable=True),
    Column("session_policy", Text, nullable=True),  # the Policy parameter, as given
    Column("session_policy_arns", Text, nullable=True),  # JSON list of PolicyArns
    Column("session_tags", Text, nullable=True),  # JSON object {key: value}
    Column("transitive_tag_keys", Text, nullable=True),  # JSON list
    _ts("created_at"),
    _ts("expires_at"),
    # The OpenID Connect provider whose token started the chain (else None): deleting the
    # provider ends the sessions, as deleting the role or the user does.
    Column("oidc_provider_id", String(ID),
           ForeignKey("oidc_providers.provider_id", ondelete="CASCADE"),
           nullable=True, index=True),
    # The portal session wearing this role session ("Switch role"; at most one each), NULL
    # for sessions whose credentials were handed out. It ends with its portal session.
    Column("portal_session_id", String(64),
           ForeignKey("portal_sessions.session_id", ondelete="CASCADE"),
           nullable=True, unique=True, index=True),
    # The SAML provider whose response started the chain (else None): deleting the
    # provider ends the sessions, as for an OpenID Connect provider.
    Column("saml_provider_id", String(ID),
           ForeignKey("saml_providers.provider_id", ondelete="CASCADE"),
           nullable=True, index=True),
)

oidc_providers = Table(
    "oidc_providers", metadata,
    # IAM OpenID Connect providers (CreateOpenIDConnectProvider). ``name`` is the URL
    # without its ``https://`` (host lower-cased): the ARN's resource part
    # ``oidc-provider/NAME`` and what a token's ``iss`` must equal after the scheme.
    # Client ids and thumbprints are short bounded lists (100 and 5), kept as JSON.
    _id("provider_id", primary_key=True),
    _account_fk(),
    Column("name", String(255), nullable=False),
    Column("client_ids", Text, nullable=False),  # JSON list, in the order added
    Column("thumbprints", Text, nullable=False),  # JSON list
    _ts("created_at"),
    UniqueConstraint("account_id", "name"),
)

role_trust_principals = Table(
    "role_trust_principals", metadata,
    # IAM keeps a trust policy's user and role ARNs as the unique ids they named when the
    # policy was saved (service/trust_principals.py): ``principal_ids`` is a JSON object
    # {ARN as written: AIDA…/AROA…}, ``document_by_id`` the document with each such ARN
    # replaced by its id (what AssumeRole evaluates). No row: the policy names none.
    Column("role_id", String(ID), ForeignKey("roles.role_id", ondelete="CASCADE"),
           primary_key=True),
    Column("principal_ids", Text, nullable=False),
    Column("document_by_id", Text, nullable=False),
)

instance_profiles = Table(
    "instance_profiles", metadata,
    _id("instance_profile_id", primary_key=True),  # AIPA…
    _account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    _ts("created_at"),
    UniqueConstraint("account_id", "name_lower"),
)

instance_profile_roles = Table(
    "instance_profile_roles", metadata,
    # The primary key holds AWS's quota (one role per instance profile) under concurrency;
    # the role's FK does not cascade: DeleteRole is a DeleteConflict while it is in one.
    Column("instance_profile_id", String(ID),
           ForeignKey("instance_profiles.instance_profile_id", ondelete="CASCADE"),
           primary_key=True),
    Column("role_id", String(ID), ForeignKey("roles.role_id"), nullable=False, index=True),
)

role_deletion_tasks = Table(
    "role_deletion_tasks", metadata,
    # DeleteServiceLinkedRole's tasks, for GetServiceLinkedRoleDeletionStatus. selfiam
    # deletes the role at once, so every task it records has succeeded.
    Column("task_id", String(1024), primary_key=True),
    _account_fk(),
    Column("status", String(16), nullable=False),
    _ts("created_at"),
)

service_linked_roles = Table(
    "service_linked_roles", metadata,
    # Roles made by CreateServiceLinkedRole: only DeleteServiceLinkedRole deletes them, and
    # their trust policy, permissions and boundary are AWS's to change (UnmodifiableEntity).
    Column("role_id", String(ID), ForeignKey("roles.role_id", ondelete="CASCADE"),
           primary_key=True),
    Column("service_name", String(256), nullable=False),
)

federation_sessions = Table(
    "federation_sessions", metadata,
    # Temporary credentials of a federated user (GetFederationToken), as in sts_sessions:
    # ASIA… key id, sealed secret, SHA-256 of the session token. The session ends with
    # the IAM user whose long-term key asked for it (FK cascade, auth version bump).
    _id("access_key_id", primary_key=True),
    _account_fk(),
    _user_fk(),
    Column("name", String(32), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("session_token_sha256", String(64), nullable=False),
    Column("session_policy", Text, nullable=True),  # the Policy parameter, as given
    Column("session_policy_arns", Text, nullable=True),  # JSON list of PolicyArns
    Column("session_tags", Text, nullable=True),  # JSON object {key: value}
    _ts("created_at"),
    _ts("expires_at"),
)

passkeys = Table(
    "passkeys", metadata,
    # A WebAuthn credential (passkey or FIDO security key) a user signs in with as MFA.
    # The serial number is AWS's form, ``arn:aws:iam::ACCOUNT:u2f/user/NAME/LABEL-SUFFIX``;
    # it is kept when the user is renamed, as AWS keeps a device's serial. The public key
    # is no secret (COSE, as the authenticator gave it); the credential id is unique per
    # RP and names the credential in an assertion.
    Column("serial_number", String(256), primary_key=True),
    _account_fk(),
    _user_fk(),
    Column("label", String(64), nullable=False),
    Column("credential_id", String(1400), nullable=False, unique=True),  # base64url
    Column("public_key", LargeBinary, nullable=False),
    # The authenticator's signature counter as last seen; a lower one is refused.
    Column("sign_count", BigInteger, nullable=False, default=0),
    Column("discoverable", Boolean, nullable=False, default=False),
    Column("rp_id", String(253), nullable=False),  # a credential is usable only there
    _ts("enabled_at"),
    _ts("last_used_at", nullable=True),
)

webauthn_challenges = Table(
    "webauthn_challenges", metadata,
    # A challenge handed to a browser, used at most once and only until it expires.
    # ``binding`` is what it is bound to: "session:<portal session id>" or, before
    # sign-in (passwordless), "signin:<SHA-256 of the sign-in nonce cookie>".
    Column("binding", String(128), nullable=False),
    Column("purpose", String(16), nullable=False),  # register | mfa | passwordless
    Column("challenge", String(128), nullable=False),  # base64url; sent to the browser
    Column("label", String(64), nullable=True),  # the name a new passkey will get
    _ts("expires_at"),
    PrimaryKeyConstraint("binding", "purpose"),
    Index("ix_webauthn_challenges_expires_at", "expires_at"),
    CheckConstraint("purpose IN ('register', 'mfa', 'passwordless')", name="purpose"),
)

account_settings = Table(
    "account_settings", metadata,
    # selfiam's own per-account settings (selfiam:UpdateAccountSignInSettings).
    Column("account_id", String(12), ForeignKey("accounts.account_id", ondelete="CASCADE"),
           primary_key=True),
    Column("passwordless_sign_in", Boolean, nullable=False, default=False),
)

saml_providers = Table(
    "saml_providers", metadata,
    # An IdP trusted for SAML 2.0 federation (CreateSAMLProvider). The metadata document
    # is kept as given; entity_id and the signing certificates are read from it on use.
    _id("provider_id", primary_key=True),
    _account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("metadata_document", Text, nullable=False),
    # SHA-256 (hex) of the document: what a process's parsed-metadata cache is keyed by,
    # so that a request reads no document it has parsed before.
    Column("metadata_sha256", String(64), nullable=False),
    Column("entity_id", String(1024), nullable=False),
    _ts("created_at"),
    _ts("valid_until"),
    UniqueConstraint("account_id", "name_lower"),
)

saml_assertions_used = Table(
    "saml_assertions_used", metadata,
    # Assertions already redeemed, until they expire, so that none is redeemed twice by
    # any process (a replay). ``digest`` is the SHA-256 (hex) of issuer and assertion id;
    # rows past ``expires_at`` are pruned as new assertions arrive.
    Column("digest", String(64), primary_key=True),
    _account_fk(),
    _ts("expires_at"),
    Index("ix_saml_assertions_used_expires_at", "expires_at"),
)

saml_portal_sessions = Table(
    "saml_portal_sessions", metadata,
    # A portal session started by a SAML response posted to /portal/saml: it wears one
    # role session (AssumeRoleWithSAML) and ends with it (FK cascade: the role deleted,
    # the session expired and purged). The id is the SHA-256 of the cookie's token.
    Column("session_id", String(64), primary_key=True),
    _account_fk(),
    Column("access_key_id", String(ID),
           ForeignKey("role_sessions.access_key_id", ondelete="CASCADE"),
           nullable=False, index=True),
    _ts("created_at"),
    _ts("expires_at"),
)
