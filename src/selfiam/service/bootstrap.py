"""First-run set-up of an account: the rows no caller can create, then the rest as root.

The account row and AWS's managed policies exist before anyone can call
anything, so they are written here directly. Everything else — the admin user,
their key, the SelfService group and its policy — is created through
``Runtime.invoke`` as the account's root principal, authorized and audited
like any other request (DESIGN rule 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import aws_managed_policy_arn
from selfiam.domain.identifiers import new_account_id, new_request_id
from selfiam.service.aws_policies import sync_policies
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.passwords import temporary_password
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import transaction

SELF_SERVICE_GROUP = "SelfService"
SELF_SERVICE_POLICY = "SelfServiceCredentials"
ADMIN_USER = "admin"


def _policy_data(name: str) -> str:
    return resources.files("selfiam.domain").joinpath("policies", name).read_text()


def self_service_policy_document() -> str:
    """The checked-in SelfServiceCredentials document."""
    return _policy_data("self_service_credentials.json")


def seed_aws_managed_policies(conn: Connection) -> None:
    """Insert AWS's managed policies the database lacks, and bring the others to the
    dataset's default version (idempotent; :mod:`selfiam.service.aws_policies`)."""
    sync_policies(conn)


def create_account(conn: Connection, now: datetime, account_id: str | None = None) -> str:
    account_id = account_id or new_account_id()
    conn.execute(t.accounts.insert().values(account_id=account_id, created_at=now))
    return account_id


def existing_account(conn: Connection) -> str | None:
    return conn.execute(select(t.accounts.c.account_id).limit(1)).scalar_one_or_none()


@dataclass(frozen=True)
class InitResult:
    account_id: str
    user_name: str
    access_key_id: str
    secret_access_key: str
    password: str  # the admin's one-time console password (must be changed at first sign-in)


def root_request(runtime: Runtime) -> RequestInfo:
    return RequestInfo(
        request_id=new_request_id(),
        now=runtime.clock(),
        source_ip="local",
        user_agent="selfiam-cli",
    )


def initialize(runtime: Runtime, account_id: str | None = None) -> InitResult:
    """Create the account, the admin user (full access, a key, a one-time password), SelfService."""
    with transaction(runtime.engine) as conn:
        seed_aws_managed_policies(conn)
        account_id = create_account(conn, runtime.clock(), account_id)
    root = Caller.root(account_id)

    def call(op: str, **params: Any) -> dict[str, Any]:
        return runtime.invoke("iam", op, params, root, root_request(runtime))

    call("CreateUser", UserName=ADMIN_USER)
    call(
        "AttachUserPolicy",
        UserName=ADMIN_USER,
        PolicyArn=aws_managed_policy_arn("AdministratorAccess"),
    )
    key = call("CreateAccessKey", UserName=ADMIN_USER)["AccessKey"]
    password = temporary_password(runtime, account_id, ADMIN_USER)
    call("CreateLoginProfile", UserName=ADMIN_USER, Password=password, PasswordResetRequired=True)
    call("CreateGroup", GroupName=SELF_SERVICE_GROUP)
    policy = call(
        "CreatePolicy",
        PolicyName=SELF_SERVICE_POLICY,
        PolicyDocument=self_service_policy_document(),
        Description="Read IAM; manage only your own password, keys, certificates, SSH keys and MFA.",
    )["Policy"]
    call("AttachGroupPolicy", GroupName=SELF_SERVICE_GROUP, PolicyArn=policy["Arn"])
    runtime.audit.flush()
    return InitResult(account_id, ADMIN_USER, key["AccessKeyId"], key["SecretAccessKey"], password)
