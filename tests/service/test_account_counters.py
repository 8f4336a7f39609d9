"""The account counters (store/counters.py) never drift from the tables they count.

A random mix of creates and deletes of every counted kind, through the operations,
offboarding and plain SQL deletes (a cascade), on SQLite and PostgreSQL; after each
step GetAccountSummary's counts equal ``COUNT(*)`` of the tables. And the account
quotas still hold when creators race (PostgreSQL, several threads).
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import Engine, text

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import create_account, seed_aws_managed_policies
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.offboarding import offboard_user
from selfiam.service.operations import users as users_module
from selfiam.service.operations.account import account_counts
from selfiam.service.runtime import Runtime
from selfiam.store import counters
from selfiam.store.engine import read_transaction, transaction
from support.clock import Clock

ACCOUNT = "123456789012"
OTHER = "210987654321"
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
SUMMARY_OF_KIND = {
    counters.USERS: "Users",
    counters.GROUPS: "Groups",
    counters.ROLES: "Roles",
    counters.POLICIES: "Policies",
    counters.INSTANCE_PROFILES: "InstanceProfiles",
    counters.MFA_DEVICES: "MFADevices",
    counters.MFA_DEVICES_IN_USE: "MFADevicesInUse",
    counters.ATTACHMENTS: "PolicyVersionsInUse",
}


@pytest.fixture
def runtime(migrated_engine: Engine) -> Iterator[Runtime]:
    clock = Clock()
    with transaction(migrated_engine) as conn:
        seed_aws_managed_policies(conn)
        create_account(conn, clock(), ACCOUNT)
        create_account(conn, clock(), OTHER)
    rt = Runtime(migrated_engine, SecretBox(SecretBox.generate_key()), clock=clock)
    yield rt
    rt.audit.flush()


def _call(rt: Runtime, operation: str, account: str = ACCOUNT, **params: Any) -> dict[str, Any]:
    info = RequestInfo(request_id=new_request_id(), now=rt.clock(), service="iam")
    return rt.invoke("iam", operation, params, Caller.root(account), info)


def _true_counts(engine: Engine, account: str) -> dict[str, int]:
    with read_transaction(engine) as conn:
        found = {kind: 0 for kind in counters.KINDS}
        for kind, query in counters.COUNT_QUERIES.items():
            for account_id, n in conn.execute(text(query)).all():
                if account_id == account:
                    found[kind] = int(n)
        return found


def _assert_no_drift(rt: Runtime) -> None:
    for account in (ACCOUNT, OTHER):
        true = _true_counts(rt.engine, account)
        with read_transaction(rt.engine) as conn:
            summary = account_counts(conn, account)
        for kind, key in SUMMARY_OF_KIND.items():
            assert summary[key] == true[kind], (account, key)
        assert summary["Providers"] == true[counters.OIDC_PROVIDERS]
    summary = _call(rt, "GetAccountSummary")["SummaryMap"]
    assert summary["Users"] == _true_counts(rt.engine, ACCOUNT)[counters.USERS]


class Mix:
    """Random steps over a small name space, so that creates collide with existing
    names and deletes hit both existing and missing entities."""

    def __init__(self, rt: Runtime, seed: int) -> None:
        self.rt, self.rnd = rt, random.Random(seed)

    def name(self, prefix: str) -> str:
        return f"{prefix}{self.rnd.randrange(6)}"

    def step(self) -> None:
        action = self.rnd.choice(
            [
                self.create_user,
                self.create_user,
                self.delete_user,
                self.offboard,
                self.sql_delete,
                self.mfa,
                self.attach,
                self.group,
                self.role,
                self.policy,
                self.attach,
                self.mfa,
                self.profile,
                self.provider,
                self.other_account,
            ]
        )
        # Already exists, no such entity, delete conflict: nothing was counted.
        with contextlib.suppress(AwsError):
            action()

    def create_user(self) -> None:
        user = self.name("u")
        _call(self.rt, "CreateUser", UserName=user)
        if self.rnd.random() < 0.5:
            _call(self.rt, "CreateGroup", GroupName=self.name("g"))
        _call(self.rt, "AddUserToGroup", UserName=user, GroupName=self.name("g"))

    def delete_user(self) -> None:
        _call(self.rt, "DeleteUser", UserName=self.name("u"))

    def offboard(self) -> None:
        info = RequestInfo(request_id=new_request_id(), now=self.rt.clock(), service="selfiam")
        offboard_user(self.rt, Caller.root(ACCOUNT), self.name("u"), info)

    def sql_delete(self) -> None:
        """A delete no operation made (an operator's SQL): the cascades are counted too."""
        table = self.rnd.choice(["users", "groups", "roles"])
        with transaction(self.rt.engine) as conn:
            conn.execute(text(f"DELETE FROM {table} WHERE name = :n"), {"n": self.name(table[0])})

    def group(self) -> None:
        name = self.name("g")
        if self.rnd.random() < 0.6:
            _call(self.rt, "CreateGroup", GroupName=name)
        else:
            _call(self.rt, "DeleteGroup", GroupName=name)

    def role(self) -> None:
        name = self.name("r")
        if self.rnd.random() < 0.6:
            _call(self.rt, "CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST)
        else:
            _call(self.rt, "DeleteRole", RoleName=name)

    def policy(self) -> None:
        name = self.name("p")
        if self.rnd.random() < 0.6:
            _call(self.rt, "CreatePolicy", PolicyName=name, PolicyDocument=DOC)
        else:
            _call(self.rt, "DeletePolicy", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{name}")

    def attach(self) -> None:
        kind = self.rnd.choice(["User", "Group", "Role"])
        arn = self.rnd.choice([READ_ONLY, f"arn:aws:iam::{ACCOUNT}:policy/{self.name('p')}"])
        verb = "Attach" if self.rnd.random() < 0.7 else "Detach"
        _call(
            self.rt,
            f"{verb}{kind}Policy",
            **{f"{kind}Name": self.name(kind[0].lower()), "PolicyArn": arn},
        )

    def mfa(self) -> None:
        name = self.name("m")
        serial = f"arn:aws:iam::{ACCOUNT}:mfa/{name}"
        choice = self.rnd.randrange(4)
        if choice < 2:
            user = self.name("u")
            with contextlib.suppress(AwsError):
                _call(self.rt, "CreateUser", UserName=user)
            created = _call(self.rt, "CreateVirtualMFADevice", VirtualMFADeviceName=name)
            seed = created["VirtualMFADevice"]["Base32StringSeed"].decode()
            app, now = pyotp.TOTP(seed), self.rt.clock()
            self.rt.clock.now = now + timedelta(minutes=2)  # type: ignore[attr-defined]
            now = self.rt.clock()
            _call(
                self.rt,
                "EnableMFADevice",
                UserName=user,
                SerialNumber=serial,
                AuthenticationCode1=app.at(now - timedelta(seconds=30)),
                AuthenticationCode2=app.at(now),
            )
        elif choice == 2:
            _call(self.rt, "DeactivateMFADevice", UserName=self.name("u"), SerialNumber=serial)
        else:
            _call(self.rt, "DeleteVirtualMFADevice", SerialNumber=serial)

    def profile(self) -> None:
        name = self.name("i")
        if self.rnd.random() < 0.6:
            _call(self.rt, "CreateInstanceProfile", InstanceProfileName=name)
        else:
            _call(self.rt, "DeleteInstanceProfile", InstanceProfileName=name)

    def provider(self) -> None:
        url = f"https://issuer{self.rnd.randrange(3)}.example.com"
        if self.rnd.random() < 0.6:
            _call(
                self.rt,
                "CreateOpenIDConnectProvider",
                Url=url,
                ClientIDList=["app"],
                ThumbprintList=["a" * 40],
            )
        else:
            arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url.removeprefix('https://')}"
            _call(self.rt, "DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=arn)

    def other_account(self) -> None:
        name = self.name("u")
        if self.rnd.random() < 0.6:
            _call(self.rt, "CreateUser", OTHER, UserName=name)
        else:
            _call(self.rt, "DeleteUser", OTHER, UserName=name)


@pytest.mark.parametrize("seed", [1, 2])
def test_counters_equal_the_tables_after_a_random_mix(runtime: Runtime, seed: int) -> None:
    mix = Mix(runtime, seed)
    for step in range(120):
        mix.step()
        if step % 10 == 9:
            _assert_no_drift(runtime)
    _assert_no_drift(runtime)


def test_backfill_sets_the_true_counts(runtime: Runtime) -> None:
    """What migration 0014 does to an existing database: counters from the tables."""
    mix = Mix(runtime, 3)
    for _ in range(60):
        mix.step()
    with transaction(runtime.engine) as conn:
        conn.execute(text("UPDATE account_counters SET n = n + 7"))
        for statement in counters.backfill_statements():
            conn.execute(text(statement))
    _assert_no_drift(runtime)


def test_the_users_quota_holds_when_creators_race(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads create users while the quota (lowered to 5) is almost reached."""
    monkeypatch.setattr(users_module, "USERS_QUOTA", 5)
    for i in range(3):
        _call(runtime, "CreateUser", UserName=f"early{i}")
    errors: list[str] = []
    start = threading.Barrier(8)

    def create(i: int) -> None:
        start.wait()
        try:
            _call(runtime, "CreateUser", UserName=f"racer{i}")
        except AwsError as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == ["LimitExceeded"] * 6
    assert _call(runtime, "GetAccountSummary")["SummaryMap"]["Users"] == 5
    _assert_no_drift(runtime)
