"""Tables of issue 15's credentials: users' service-specific credentials (CodeCommit and
Keyspaces passwords, Bedrock and CloudWatch Logs API keys) and the account's server
certificates. Same conventions as :mod:`selfiam.store.tables`, whose ``metadata`` they
share; that module re-exports both tables.

Secrets are sealed (:mod:`selfiam.auth.secretbox`): a credential's password or API key
secret under the credential's id as associated data, a server certificate's private key
under the certificate's id. ``service/rekey.py`` re-seals both columns.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Table, Text, UniqueConstraint

from selfiam.store.columns import account_fk, id_column, metadata, status_check, timestamp, user_fk

service_specific_credentials = Table(
    "service_specific_credentials", metadata,
    id_column("credential_id", primary_key=True),  # ACCA…
    user_fk(index=False),  # leads the index below
    Column("service_name", String(64), nullable=False),
    # CodeCommit/Keyspaces: ServiceUserName; Bedrock/Logs: ServiceCredentialAlias.
    Column("service_user_name", String(200), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),  # AD = credential id
    Column("status", String(8), nullable=False, default="Active"),
    timestamp("created_at"),
    timestamp("expires_at", nullable=True),  # API keys created with CredentialAgeDays
    # The two-per-service quota counts by (user, service), under the user's row lock.
    Index("ix_service_specific_credentials_user_id_service_name", "user_id", "service_name"),
    status_check(),
)

server_certificates = Table(
    "server_certificates", metadata,
    id_column("server_certificate_id", primary_key=True),  # ASCA…
    account_fk(),
    Column("name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    Column("body", Text, nullable=False),  # PEM, as uploaded
    Column("chain", Text, nullable=True),  # PEM, as uploaded
    Column("private_key_ciphertext", LargeBinary, nullable=False),  # AD = certificate id
    timestamp("uploaded_at"),
    timestamp("expires_at"),  # the certificate's notAfter (Expiration)
    UniqueConstraint("account_id", "name_lower"),
)
