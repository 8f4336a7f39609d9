"""Who is calling, and the facts of the request that policies may test."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from selfiam.policy import PolicySet


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal: an IAM user, a session of a role, or the account's root.

    ``access_key_id`` is the key the request was signed with (None for the CLI
    acting as root, or for a portal session). ``mfa_authenticated_at`` is set
    only for credentials obtained with an MFA code (temporary credentials and
    portal sessions), as in AWS. ``via_console`` marks a portal session: like
    AWS's console sessions (temporary credentials), it always carries
    ``aws:MultiFactorAuthPresent`` — "false" when signed in without MFA.

    A role session (AssumeRole) has no ``user_id``: ``arn`` is its assumed-role ARN
    (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``), ``role_arn`` the role's own,
    ``origin_user_id`` the IAM user who started it (directly or through a chain of
    roles), and ``session_policies`` what the Policy/PolicyArns parameters narrowed it to.

    A federated user (GetFederationToken) has neither: ``federated_name`` is its name,
    ``arn`` ``arn:aws:sts::ACCOUNT:federated-user/NAME``, ``origin_user_id`` the IAM user
    whose policies it is limited to, and ``session_policies`` (never None: without a
    session policy it may do nothing) the other limit.
    """

    account_id: str
    arn: str
    user_id: str | None = None
    user_name: str | None = None
    access_key_id: str | None = None
    session_token_id: str | None = None
    mfa_authenticated_at: datetime | None = None
    principal_tags: tuple[tuple[str, str], ...] = field(default=())
    via_console: bool = False
    role_id: str | None = None
    role_name: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    source_identity: str | None = None
    origin_user_id: str | None = None
    token_issued_at: datetime | None = None
    session_policies: PolicySet | None = None
    federated_name: str | None = None
    #: An unsigned request (AssumeRoleWithWebIdentity, AssumeRoleWithSAML): no principal,
    #: no permission.
    anonymous: bool = False

    @property
    def is_root(self) -> bool:
        return (
            self.user_id is None
            and self.role_id is None
            and self.federated_name is None
            and not self.anonymous
        )

    @property
    def is_federated(self) -> bool:
        return self.federated_name is not None

    @property
    def is_role_session(self) -> bool:
        return self.role_id is not None

    @property
    def principal_type(self) -> str:
        if self.role_id is not None:
            return "AssumedRole"
        if self.anonymous:
            return "Anonymous"
        if self.federated_name is not None:
            return "FederatedUser"
        return "Account" if self.is_root else "User"

    @property
    def unique_id(self) -> str:
        """``aws:userid`` and GetCallerIdentity's UserId: AIDA…, AROA…:SESSION,
        ACCOUNT:NAME for a federated user, or the account id for the root."""
        if self.role_id is not None:
            return f"{self.role_id}:{self.session_name}"
        if self.federated_name is not None:
            return f"{self.account_id}:{self.federated_name}"
        return self.user_id or self.account_id

    @property
    def principal_arn(self) -> str:
        """``aws:PrincipalArn``: a role session's is its role's ARN, as in AWS."""
        return self.role_arn or self.arn

    @property
    def is_temporary(self) -> bool:
        return self.session_token_id is not None

    @staticmethod
    def unsigned() -> Caller:
        """The caller of an unsigned request: the operation establishes who it is (a web
        identity token, a SAML response) and never authorizes as this caller."""
        return Caller(account_id="", arn="anonymous", anonymous=True)

    @staticmethod
    def root(account_id: str) -> Caller:
        return Caller(account_id=account_id, arn=f"arn:aws:iam::{account_id}:root")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where and when a request came from; the clock is passed in, never read in the core."""

    request_id: str
    now: datetime
    source_ip: str = "127.0.0.1"
    secure_transport: bool = False
    user_agent: str = ""
    region: str = "us-east-1"
    service: str = "iam"
    # The change feed was read in the transaction the request's credentials were
    # authenticated in (its first read), which a read operation runs in too (DESIGN rule 7).
    feed_read: bool = False
