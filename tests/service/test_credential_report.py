"""GenerateCredentialReport / GetCredentialReport: AWS's columns, values and four-hour cycle.

Rows the report reads that no committed operation writes yet (login profiles, MFA devices,
signing certificates, key use) are inserted straight into the tables.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call, Clock

from selfiam.domain.errors import (
    AccessDenied,
    CredentialReportExpired,
    CredentialReportNotPresent,
    CredentialReportNotReady,
)
from selfiam.service.bootstrap import self_service_policy_document
from selfiam.service.caller import Caller
from selfiam.service.operations import credential_report
from selfiam.service.operations.credential_report import COLUMNS
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import transaction

CallerFor = Callable[[str], Caller]


def iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


def report(call: Call, **kw: Any) -> tuple[list[str], list[dict[str, str]]]:
    response = call("GetCredentialReport", **kw)
    assert response["ReportFormat"] == "text/csv"
    assert isinstance(response["Content"], bytes)
    text = response["Content"].decode("utf-8")
    header = text.splitlines()[0].split(",")
    return header, list(csv.DictReader(io.StringIO(text)))


def by_user(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["user"]: row for row in rows}


def generate(call: Call, **kw: Any) -> dict[str, Any]:
    """GenerateCredentialReport, then wait (as a client polls) until the report is built."""
    first = call("GenerateCredentialReport", **kw)
    for _ in range(3000):
        if call("GenerateCredentialReport", **kw)["State"] == "COMPLETE":
            return first
        time.sleep(0.01)
    raise AssertionError("the credential report was never completed")


def user_id(call: Call, name: str) -> str:
    uid: str = call("GetUser", UserName=name)["User"]["UserId"]
    return uid


def test_no_report_until_one_is_generated(call: Call) -> None:
    with pytest.raises(CredentialReportNotPresent) as missing:
        call("GetCredentialReport")
    assert (missing.value.code, missing.value.status) == ("ReportNotPresent", 410)
    assert missing.value.message == ""  # AWS's recorded answer carries no message


def test_generate_then_complete_within_four_hours(call: Call, clock: Clock) -> None:
    first = generate(call)
    assert first == {
        "State": "STARTED",
        "Description": "No report exists. Starting a new report generation task",
    }
    generated = clock.now
    clock.now += timedelta(hours=3, minutes=59)
    assert call("GenerateCredentialReport") == {"State": "COMPLETE"}
    assert call("GetCredentialReport")["GeneratedTime"] == generated


def test_header_and_root_row(call: Call) -> None:
    generate(call)
    header, rows = report(call)
    assert header == list(COLUMNS)
    assert len(header) == 22
    root = rows[0]
    assert root == {
        "user": "<root_account>",
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "user_creation_time": "2026-11-27T12:00:00+00:00",
        "password_enabled": "not_supported",
        "password_last_used": "no_information",
        "password_last_changed": "not_supported",
        "password_next_rotation": "not_supported",
        "mfa_active": "false",
        "access_key_1_active": "false",
        "access_key_1_last_rotated": "N/A",
        "access_key_1_last_used_date": "N/A",
        "access_key_1_last_used_region": "N/A",
        "access_key_1_last_used_service": "N/A",
        "access_key_2_active": "false",
        "access_key_2_last_rotated": "N/A",
        "access_key_2_last_used_date": "N/A",
        "access_key_2_last_used_region": "N/A",
        "access_key_2_last_used_service": "N/A",
        "cert_1_active": "false",
        "cert_1_last_rotated": "N/A",
        "cert_2_active": "false",
        "cert_2_last_rotated": "N/A",
    }


def test_a_user_with_no_credentials(call: Call, clock: Clock) -> None:
    call("CreateUser", UserName="alice", Path="/team/")
    generate(call)
    alice = by_user(report(call)[1])["alice"]
    assert alice["arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/alice"
    assert alice["user_creation_time"] == iso(clock.now)
    assert {k: v for k, v in alice.items() if k not in ("user", "arn", "user_creation_time")} == {
        "password_enabled": "false",
        "password_last_used": "N/A",
        "password_last_changed": "N/A",
        "password_next_rotation": "N/A",
        "mfa_active": "false",
        **{f"access_key_{n}_{c}": "N/A" for n in (1, 2) for c in (
            "last_rotated", "last_used_date", "last_used_region", "last_used_service")},
        "access_key_1_active": "false",
        "access_key_2_active": "false",
        "cert_1_active": "false",
        "cert_1_last_rotated": "N/A",
        "cert_2_active": "false",
        "cert_2_last_rotated": "N/A",
    }  # fmt: skip


def test_passwords_mfa_keys_and_certificates(call: Call, runtime: Runtime, clock: Clock) -> None:
    for name in ("bob", "carol", "dave"):
        call("CreateUser", UserName=name)
    bob, carol, dave = (user_id(call, n) for n in ("bob", "carol", "dave"))
    created = clock.now
    changed = created + timedelta(minutes=5)
    used = created + timedelta(minutes=30)
    clock.now = created + timedelta(hours=1)
    old_key = call("CreateAccessKey", UserName="carol")["AccessKey"]["AccessKeyId"]
    clock.now = created + timedelta(hours=2)
    new_key = call("CreateAccessKey", UserName="carol")["AccessKey"]["AccessKeyId"]
    call("UpdateAccessKey", UserName="carol", AccessKeyId=new_key, Status="Inactive")
    with transaction(runtime.engine) as conn:
        conn.execute(
            t.accounts.update()
            .where(t.accounts.c.account_id == ACCOUNT)
            .values(password_policy=json.dumps({"max_password_age": 90}))
        )
        conn.execute(
            t.login_profiles.insert(),
            [
                {"user_id": uid, "password_hash": "argon2id-hash", "created_at": changed,
                 "password_changed_at": changed, "password_reset_required": False}
                for uid in (bob, carol)
            ],
        )  # fmt: skip
        conn.execute(
            t.users.update().where(t.users.c.user_id == carol).values(password_last_used=used)
        )
        # dave had a password once and signed in with it; it is gone now.
        conn.execute(
            t.users.update().where(t.users.c.user_id == dave).values(password_last_used=used)
        )
        conn.execute(
            t.mfa_devices.insert(),
            [
                {"serial_number": f"arn:aws:iam::{ACCOUNT}:mfa/{name}", "account_id": ACCOUNT,
                 "name": name, "name_lower": name, "path": "/", "seed_ciphertext": b"sealed",
                 "user_id": uid, "enabled_at": enabled, "created_at": created}
                for name, uid, enabled in (("bob", bob, used), ("carol", carol, None))
            ],
        )  # fmt: skip
        conn.execute(
            t.access_keys.update()
            .where(t.access_keys.c.access_key_id == old_key)
            .values(last_used_at=used, last_used_service="iam", last_used_region="us-east-1")
        )
        conn.execute(
            t.signing_certificates.insert(),
            [
                {"certificate_id": cid, "account_id": ACCOUNT, "user_id": carol, "body": "PEM",
                 "fingerprint_sha256": cid.lower() * 2, "status": status, "uploaded_at": at}
                for cid, status, at in (("CERT2", "Inactive", used), ("CERT1", "Active", changed))
            ],
        )  # fmt: skip

    generate(call)
    rows = by_user(report(call)[1])
    assert list(rows) == ["<root_account>", "bob", "carol", "dave"]

    assert rows["bob"]["password_enabled"] == "true"
    assert rows["bob"]["password_last_used"] == "no_information"  # has one, never used it
    assert rows["bob"]["password_last_changed"] == iso(changed)
    assert rows["bob"]["password_next_rotation"] == iso(changed + timedelta(days=90))
    assert rows["bob"]["mfa_active"] == "true"
    assert rows["bob"]["access_key_1_active"] == "false"

    carol_row = rows["carol"]
    assert carol_row["password_last_used"] == iso(used)
    assert carol_row["mfa_active"] == "false"  # a device assigned but never enabled
    assert carol_row["access_key_1_active"] == "true"  # key 1 is the older key
    assert carol_row["access_key_1_last_rotated"] == iso(created + timedelta(hours=1))
    assert carol_row["access_key_1_last_used_date"] == iso(used)
    assert carol_row["access_key_1_last_used_region"] == "us-east-1"
    assert carol_row["access_key_1_last_used_service"] == "iam"
    assert carol_row["access_key_2_active"] == "false"  # inactive
    assert carol_row["access_key_2_last_rotated"] == iso(created + timedelta(hours=2))
    assert carol_row["access_key_2_last_used_date"] == "N/A"  # never used
    assert carol_row["access_key_2_last_used_region"] == "N/A"
    assert carol_row["access_key_2_last_used_service"] == "N/A"
    assert (carol_row["cert_1_active"], carol_row["cert_1_last_rotated"]) == ("true", iso(changed))
    assert (carol_row["cert_2_active"], carol_row["cert_2_last_rotated"]) == ("false", iso(used))

    dave_row = rows["dave"]
    assert dave_row["password_enabled"] == "false"
    assert dave_row["password_last_used"] == iso(used)
    assert dave_row["password_last_changed"] == "N/A"
    assert dave_row["password_next_rotation"] == "N/A"


def test_the_report_is_a_snapshot_that_expires_after_four_hours(call: Call, clock: Clock) -> None:
    call("CreateUser", UserName="alice")
    generate(call)
    call("CreateUser", UserName="bob")
    assert call("GenerateCredentialReport") == {"State": "COMPLETE"}
    assert "bob" not in by_user(report(call)[1])

    clock.now += timedelta(hours=4)
    with pytest.raises(CredentialReportExpired) as expired:
        call("GetCredentialReport")
    assert (expired.value.code, expired.value.status) == ("ReportExpired", 410)
    regenerated = generate(call)
    assert regenerated["State"] == "STARTED"
    assert call("GetCredentialReport")["GeneratedTime"] == clock.now
    assert "bob" in by_user(report(call)[1])


def test_deleted_users_leave_the_next_report(call: Call, clock: Clock) -> None:
    call("CreateUser", UserName="alice")
    generate(call)
    call("DeleteUser", UserName="alice")
    clock.now += timedelta(hours=5)
    generate(call)
    assert list(by_user(report(call)[1])) == ["<root_account>"]


def test_names_that_need_csv_quoting_round_trip(call: Call) -> None:
    call("CreateUser", UserName="a,b")
    generate(call)
    assert "a,b" in by_user(report(call)[1])


def test_authorization(call: Call, caller_for: CallerFor) -> None:
    call("CreateUser", UserName="mallory")
    mallory = caller_for("mallory")
    for operation in ("GenerateCredentialReport", "GetCredentialReport"):
        with pytest.raises(AccessDenied) as denied:
            call(operation, caller=mallory)
        assert denied.value.message == (
            f"User: arn:aws:iam::{ACCOUNT}:user/mallory is not authorized to perform: "
            f"iam:{operation} on resource: * because no identity-based policy allows the "
            f"iam:{operation} action"
        )

    # The self-service group reads IAM without MFA, reports included.
    call("CreateGroup", GroupName="SelfService")
    arn = call(
        "CreatePolicy", PolicyName="SelfService", PolicyDocument=self_service_policy_document()
    )["Policy"]["Arn"]
    call("AttachGroupPolicy", GroupName="SelfService", PolicyArn=arn)
    call("AddUserToGroup", GroupName="SelfService", UserName="mallory")
    assert generate(call, caller=mallory)["State"] == "STARTED"
    assert "mallory" in by_user(report(call, caller=mallory)[1])


def test_a_run_in_progress_and_a_node_that_died_mid_report(
    call: Call, runtime: Runtime, clock: Clock
) -> None:
    """A claim left by a node that died: INPROGRESS and ReportInProgress until it is
    stale, then the next GenerateCredentialReport starts the report again."""
    call("CreateUser", UserName="alice")
    with transaction(runtime.engine) as conn:
        conn.execute(
            t.credential_reports.insert().values(
                account_id=ACCOUNT,
                generated_at=clock.now,
                content="",
                state="STARTED",
                token="0" * 32,
            )
        )
    assert call("GenerateCredentialReport") == {"State": "INPROGRESS"}
    with pytest.raises(CredentialReportNotReady) as busy:
        call("GetCredentialReport")
    assert (busy.value.code, busy.value.status) == ("ReportInProgress", 404)
    assert busy.value.message == (
        "The request was rejected because the credential report is still being generated."
    )
    clock.now += credential_report.STALE_AFTER
    assert generate(call)["State"] == "STARTED"
    assert "alice" in by_user(report(call)[1])


def test_the_report_is_written_in_batches(call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users are read a batch at a time (keyset on the name): every user, in name order."""
    monkeypatch.setattr(credential_report, "BATCH", 2)
    names = ["erin", "Bob", "alice", "dave", "carol"]
    for name in names:
        call("CreateUser", UserName=name)
    call("CreateAccessKey", UserName="dave")
    generate(call)
    rows = report(call)[1]
    assert [r["user"] for r in rows] == ["<root_account>", "alice", "Bob", "carol", "dave", "erin"]
    assert by_user(rows)["dave"]["access_key_1_active"] == "true"
