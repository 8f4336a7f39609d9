"""The audit trail on day two: exported as CloudTrail records, pruned past its retention."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.domain.errors import AwsError
from selfiam.service.audit import read_records, write_records
from selfiam.service.audit_export import audit_rows
from selfiam.service.audit_retention import AuditPruner, prune
from selfiam.service.bootstrap import initialize
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings
from selfiam.store.engine import transaction
from support.rows import audit_record


def started(tmp_path: Path) -> tuple[Runtime, str, str]:
    """A runtime with an account; the admin's secret access key."""
    runtime = open_runtime(Settings.from_env(data_dir=str(tmp_path / "data")))
    result = initialize(runtime)
    return runtime, result.account_id, result.secret_access_key


def test_export_writes_cloudtrail_records_and_no_secret(tmp_path: Path) -> None:
    runtime, account, admin_secret = started(tmp_path)
    root = Caller.root(account)
    info = RequestInfo(request_id="req-1", now=runtime.clock(), source_ip="192.0.2.7")
    runtime.invoke("iam", "CreateUser", {"UserName": "ann"}, root, info)
    key = runtime.invoke("iam", "CreateAccessKey", {"UserName": "ann"}, root, info)
    runtime.invoke("iam", "GetUser", {"UserName": "ann"}, root, info)
    ann = runtime.authenticate_access_key(
        key["AccessKey"]["AccessKeyId"], (info.now.strftime("%Y%m%d"), "us-east-1", "iam")
    )[0]
    try:
        runtime.invoke("iam", "CreateUser", {"UserName": "mallory"}, ann, info)
    except AwsError as err:
        assert err.code == "AccessDenied"
    runtime.audit.flush()

    out = tmp_path / "trail.json"
    result = CliRunner().invoke(
        cli, ["audit", "export", "--data-dir", str(tmp_path / "data"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    records = json.loads(text)["Records"]
    assert admin_secret not in text and key["AccessKey"]["SecretAccessKey"] not in text
    created = [r for r in records if r["eventName"] == "CreateUser" and r["requestID"] == "req-1"]
    assert created[0]["userIdentity"] == {
        "type": "Root",
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
    }
    assert created[0]["eventSource"] == "iam.amazonaws.com"
    assert created[0]["sourceIPAddress"] == "192.0.2.7"
    assert created[0]["eventType"] == "AwsApiCall" and created[0]["readOnly"] is False
    assert created[0]["recipientAccountId"] == account and created[0]["awsRegion"] == "us-east-1"
    assert "errorCode" not in created[0]
    denied = created[1]
    assert denied["userIdentity"]["type"] == "IAMUser"
    assert denied["userIdentity"]["userName"] == "ann"
    assert denied["errorCode"] == "AccessDenied"
    read = [r for r in records if r["eventName"] == "GetUser"]
    assert read[0]["readOnly"] is True
    assert len({r["eventID"] for r in records}) == len(records)
    assert records == sorted(records, key=lambda r: r["eventTime"])

    again = CliRunner().invoke(
        cli, ["audit", "export", "--data-dir", str(tmp_path / "data"), "-o", str(out)]
    )
    assert again.exit_code != 0 and "refusing to overwrite" in again.output
    # The same records keep their eventIDs in a second export.
    second = CliRunner().invoke(cli, ["audit", "export", "--data-dir", str(tmp_path / "data")])
    assert [r["eventID"] for r in json.loads(second.stdout)["Records"]] == [
        r["eventID"] for r in records
    ]


def test_export_reads_page_by_page_and_honours_the_window(tmp_path: Path) -> None:
    runtime, account, _ = started(tmp_path)
    now = runtime.clock()
    old = [audit_record(account, now - timedelta(days=d), f"old-{d}") for d in (5, 4, 3)]
    with transaction(runtime.engine) as conn:
        write_records(conn, old)
    until = now - timedelta(days=2)
    window = list(audit_rows(runtime.engine, now - timedelta(days=4, hours=1), until, page=1))
    assert [r.request_id for r in window] == ["old-4", "old-3"]


def test_retention_prunes_old_records_in_batches_and_keeps_the_rest(tmp_path: Path) -> None:
    runtime, account, _ = started(tmp_path)
    now = runtime.clock()
    runtime.audit.flush()
    kept = len(read_records(runtime.engine, limit=10_000))
    with transaction(runtime.engine) as conn:
        write_records(
            conn, [audit_record(account, now - timedelta(days=40), f"o{i}") for i in range(7)]
        )
        write_records(conn, [audit_record(account, now - timedelta(days=20), "recent")])
    pauses: list[int] = []
    removed = prune(
        runtime.engine, now - timedelta(days=30), limit=3, pause=lambda: pauses.append(1)
    )
    assert removed == 7
    assert len(pauses) == 2  # batches of 3, 3 and 1: a pause between full batches
    left = read_records(runtime.engine, limit=10_000)
    assert len(left) == kept + 1 and all(not r.request_id.startswith("o") for r in left)
    assert AuditPruner(runtime.engine, 10, runtime.clock).run_once() == 1
    assert AuditPruner(runtime.engine, 10, runtime.clock).run_once() == 0
