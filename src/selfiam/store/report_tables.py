"""Tables of the account-level operations of issue 15: where each principal last used each
action (service last accessed), the report jobs built from it, and the account's own
settings that AWS keeps outside IAM's entities (account properties, the STS token version,
outbound web identity federation). Same conventions as :mod:`selfiam.store.tables`, whose
``metadata`` they share; that module re-exports every table here.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
)

from selfiam.store.columns import ARN, ID, account_fk, metadata, timestamp

#: The report granularities of GenerateServiceLastAccessedDetails.
GRANULARITIES = ("SERVICE_LEVEL", "ACTION_LEVEL")

action_last_used = Table(
    "action_last_used",
    metadata,
    # The last authenticated request of a principal (an IAM user, or any session of a
    # role) for one action: one row per (principal, action), upserted by the audit writer
    # once per batch. The report of an entity reads its principals' rows by primary key,
    # so its cost grows with the principals and actions it reports, never with the trail.
    # No FK: like the audit trail, it outlives the principal (a role deleted and created
    # again has another id, so its history is not inherited).
    Column("principal_id", String(ID), primary_key=True),  # AIDA… / AROA…
    Column("action", String(128), primary_key=True),  # iam:CreateUser
    Column("account_id", String(12), nullable=False),
    Column("principal_arn", String(ARN), nullable=False),  # the user's or the role's ARN
    timestamp("last_at"),
    Column("region", String(32), nullable=False),
)

access_report_jobs = Table(
    "access_report_jobs",
    metadata,
    # A GenerateServiceLastAccessedDetails job: computed when it is generated (its work is
    # bounded by the entity's principals and the actions they may use) and kept, so that
    # every process answers Get* for it with the same report.
    Column("job_id", String(36), primary_key=True),
    account_fk(),
    Column("arn", String(ARN), nullable=False),
    Column("granularity", String(16), nullable=False),
    timestamp("created_at"),
    timestamp("completed_at"),
    Column("report", Text, nullable=False),  # JSON: the services and their entities
    Index("ix_access_report_jobs_created_at", "created_at"),
    CheckConstraint("granularity IN ('SERVICE_LEVEL', 'ACTION_LEVEL')", name="granularity"),
)

account_properties = Table(
    "account_properties",
    metadata,
    # PutAccountProperties: ``Namespace/PropertyName`` -> value.
    Column(
        "account_id",
        String(12),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(50), primary_key=True),
    Column("value", String(1024), nullable=False),
)

account_preferences = Table(
    "account_preferences",
    metadata,
    # SetSecurityTokenServicePreferences and outbound web identity federation.
    Column(
        "account_id",
        String(12),
        ForeignKey("accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # v1Token (the default: valid only in regions enabled by default) or v2Token.
    Column("sts_token_version", String(8), nullable=False, default="v1Token"),
    Column("outbound_federation", Boolean, nullable=False, default=False),
    # The issuer's unique id, kept when the feature is disabled (enabling it again gives
    # the same issuer, as in AWS).
    Column("outbound_issuer_id", String(36), nullable=True),
    CheckConstraint("sts_token_version IN ('v1Token', 'v2Token')", name="sts_token_version"),
)

outbound_signing_keys = Table(
    "outbound_signing_keys",
    metadata,
    # The keys an account's outbound web identity tokens (sts:GetWebIdentityToken) are
    # signed with, one per algorithm, made when the feature is first enabled. The private
    # key is sealed under the master key (associated data: the kid), like access keys'
    # secrets; the public JWK is served at the issuer's JWKS address.
    Column("kid", String(64), primary_key=True),
    account_fk(),
    Column("algorithm", String(8), nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("private_ciphertext", LargeBinary, nullable=False),
    timestamp("created_at"),
    CheckConstraint("algorithm IN ('ES384', 'RS256')", name="algorithm"),
)
