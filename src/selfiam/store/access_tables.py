"""Tables for what came with roles and federation: role sessions and their identity
providers (OpenID Connect, SAML), instance profiles and service-linked roles, federated
users' sessions, passkeys and their challenges, account sign-in settings, and the
throttles counting every check of a secret. Same conventions as :mod:`selfiam.store.tables`,
whose ``metadata`` they share; that module re-exports every table here.
"""

from __future__ import annotations

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

from selfiam.store.columns import (
    ID,
    account_fk,
    id_column,
    metadata,
    timestamp,
    user_fk,
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
    timestamp("locked_until", nullable=True),
    # When the row may be forgotten (deleted) if nothing happens to it before.
    timestamp("expires_at"),
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
    id_column("access_key_id", primary_key=True),
    account_fk(),
    Column("role_id", String(ID), ForeignKey("roles.role_id", ondelete="CASCADE"),
           nullable=False),
    # None for a federated session (AssumeRoleWithWebIdentity, AssumeRoleWithSAML), and
    # for the sessions chained from one: those hang on their identity provider.
    user_fk(nullable=True),
    # The credentials AssumeRole was called with (an AKIA, or a parent session's ASIA key):
    # recorded, not a foreign key, since a parent session may expire before its child.
    Column("issuer_access_key_id", String(ID), nullable=True),
    Column("chained", Boolean, nullable=False, default=False),  # called with role credentials
    Column("session_name", String(64), nullable=False),
    Column("source_identity", String(64), nullable=True),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("session_token_sha256", String(64), nullable=False),
    timestamp("mfa_authenticated_at", nullable=True),
    Column("mfa_serial_number", String(256), nullable=True),
    Column("session_policy", Text, nullable=True),  # the Policy parameter, as given
    Column("session_policy_arns", Text, nullable=True),  # JSON list of PolicyArns
    Column("session_tags", Text, nullable=True),  # JSON object {key: value}
    Column("transitive_tag_keys", Text, nullable=True),  # JSON list
    timestamp("created_at"),
    timestamp("expires_at"),
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
    # A role's sessions (its cascade), and its expired ones in time order: AssumeRole's
    # pruning reads only what it deletes, however many live sessions the role has.
    Index("ix_role_sessions_role_id_expires_at", "role_id", "expires_at"),
)

oidc_providers = Table(
    "oidc_providers", metadata,
    # IAM OpenID Connect providers (CreateOpenIDConnectProvider). ``name`` is the URL
    # without its ``https://`` (host lower-cased): the ARN's resource part
    # ``oidc-provider/NAME`` and what a token's ``iss`` must equal after the scheme.
    # Client ids and thumbprints are short bounded lists (100 and 5), kept as JSON.
    id_column("provider_id", primary_key=True),
    account_fk(),
    Column("name", String(255), nullable=False),
    Column("client_ids", Text, nullable=False),  # JSON list, in the order added
    Column("thumbprints", Text, nullable=False),  # JSON list
    timestamp("created_at"),
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
    id_column("instance_profile_id", primary_key=True),  # AIPA…
    account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    timestamp("created_at"),
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
    account_fk(),
    Column("status", String(16), nullable=False),
    timestamp("created_at"),
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
    id_column("access_key_id", primary_key=True),
    account_fk(),
    user_fk(),
    Column("name", String(32), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = access key id
    Column("session_token_sha256", String(64), nullable=False),
    Column("session_policy", Text, nullable=True),  # the Policy parameter, as given
    Column("session_policy_arns", Text, nullable=True),  # JSON list of PolicyArns
    Column("session_tags", Text, nullable=True),  # JSON object {key: value}
    timestamp("created_at"),
    timestamp("expires_at"),
)

passkeys = Table(
    "passkeys", metadata,
    # A WebAuthn credential (passkey or FIDO security key) a user signs in with as MFA.
    # The serial number is AWS's form, ``arn:aws:iam::ACCOUNT:u2f/user/NAME/LABEL-SUFFIX``;
    # it is kept when the user is renamed, as AWS keeps a device's serial. The public key
    # is no secret (COSE, as the authenticator gave it); the credential id is unique per
    # RP and names the credential in an assertion.
    Column("serial_number", String(256), primary_key=True),
    account_fk(),
    user_fk(),
    Column("label", String(64), nullable=False),
    Column("credential_id", String(1400), nullable=False, unique=True),  # base64url
    Column("public_key", LargeBinary, nullable=False),
    # The authenticator's signature counter as last seen; a lower one is refused.
    Column("sign_count", BigInteger, nullable=False, default=0),
    Column("discoverable", Boolean, nullable=False, default=False),
    Column("rp_id", String(253), nullable=False),  # a credential is usable only there
    timestamp("enabled_at"),
    timestamp("last_used_at", nullable=True),
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
    timestamp("expires_at"),
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
    id_column("provider_id", primary_key=True),
    account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("metadata_document", Text, nullable=False),
    # SHA-256 (hex) of the document: what a process's parsed-metadata cache is keyed by,
    # so that a request reads no document it has parsed before.
    Column("metadata_sha256", String(64), nullable=False),
    Column("entity_id", String(1024), nullable=False),
    timestamp("created_at"),
    timestamp("valid_until"),
    UniqueConstraint("account_id", "name_lower"),
)

saml_assertions_used = Table(
    "saml_assertions_used", metadata,
    # Assertions already redeemed, until they expire, so that none is redeemed twice by
    # any process (a replay). ``digest`` is the SHA-256 (hex) of issuer and assertion id;
    # rows past ``expires_at`` are pruned as new assertions arrive.
    Column("digest", String(64), primary_key=True),
    account_fk(),
    timestamp("expires_at"),
    Index("ix_saml_assertions_used_expires_at", "expires_at"),
)

saml_portal_sessions = Table(
    "saml_portal_sessions", metadata,
    # A portal session started by a SAML response posted to /portal/saml: it wears one
    # role session (AssumeRoleWithSAML) and ends with it (FK cascade: the role deleted,
    # the session expired and purged). The id is the SHA-256 of the cookie's token.
    Column("session_id", String(64), primary_key=True),
    account_fk(),
    Column("access_key_id", String(ID),
           ForeignKey("role_sessions.access_key_id", ondelete="CASCADE"),
           nullable=False, index=True),
    timestamp("created_at"),
    timestamp("expires_at"),
)
