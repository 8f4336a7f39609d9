"""Day-two operations against a live server: an online backup, a restore refused while
the server runs and done once it stopped, and the access log."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from selfiam.domain.errors import AwsError
from selfiam.service.audit import read_records, write_records
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.settings import Settings
from support.mfa import Authenticator
from support.rows import audit_record
from support.server import _selfiam_cmd, another_node, live_server, stop


def user_exists(data_dir: Path, account: str, name: str) -> bool:
    runtime = open_runtime(Settings.from_env(data_dir=str(data_dir)))
    info = RequestInfo(request_id="test", now=runtime.clock())
    try:
        runtime.invoke("iam", "GetUser", {"UserName": name}, Caller.root(account), info)
        return True
    except AwsError as err:
        assert err.code == "NoSuchEntity"
        return False
    finally:
        runtime.audit.flush()
        runtime.engine.dispose()


def test_backup_while_serving_then_restore_once_stopped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    target = tmp_path / "backup.db"
    with live_server(data) as srv:
        iam = srv.client()
        iam.create_user(UserName="kept")
        done = srv.selfiam("backup", str(target))
        assert done.returncode == 0, done.stderr
        assert "does NOT contain" in done.stdout
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        again = srv.selfiam("backup", str(target))
        assert again.returncode != 0 and "refusing to overwrite" in again.stderr
        iam.delete_user(UserName="kept")
        refused = srv.selfiam("restore", str(target))
        assert refused.returncode != 0 and "a selfiam server is running" in refused.stderr
        assert not user_exists(data, srv.account_id, "kept")
        # The backup's admin key still signs: the backup holds its sealed secret.
        stop(srv.process)
        restored = srv.selfiam("restore", str(target))
        assert restored.returncode == 0, restored.stderr
        assert "kept as" in restored.stdout
        assert user_exists(data, srv.account_id, "kept")


def test_restore_refuses_a_backup_the_master_key_does_not_open(tmp_path: Path) -> None:
    target = tmp_path / "backup.db"
    with live_server(tmp_path / "one") as one:
        assert one.selfiam("backup", str(target)).returncode == 0
    with live_server(tmp_path / "two") as two:
        stop(two.process)
        refused = two.selfiam("restore", str(target))
    assert refused.returncode != 0
    assert "does not open the backup's secrets" in refused.stderr


def test_access_log_has_a_line_per_request_and_no_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data, serve_args=("--access-log",)) as srv:
        iam = srv.client()
        iam.create_user(UserName="logged")
        key = iam.create_access_key(UserName="logged")["AccessKey"]
        iam.create_login_profile(UserName="logged", Password="Xy!9-long-enough-Pass")
        srv.client(service="sts").get_caller_identity()
    log = (data / "server.log").read_text()
    lines = [line for line in log.splitlines() if " POST / " in line]
    assert len(lines) == 4
    assert all(" 200 " in line and "req=" in line and 'ua="Boto3/' in line for line in lines)
    for secret in (
        srv.admin_secret,
        key["SecretAccessKey"],
        "Xy!9-long-enough-Pass",
        "Authorization",
        "AWS4-HMAC-SHA256",
        "Signature",
        "Action=",
        "logged",
    ):
        assert secret not in log
    exported = srv.selfiam("audit", "export", "--since", "1h")
    assert exported.returncode == 0, exported.stderr
    records = json.loads(exported.stdout)["Records"]
    made = [r for r in records if r["eventName"] == "CreateLoginProfile"][-1:]
    assert made[0]["sourceIPAddress"] == "127.0.0.1"
    assert made[0]["userAgent"].startswith("Boto3/")
    assert made[0]["userIdentity"]["userName"] == "admin"
    assert made[0]["requestID"] in log  # the access log line leads to the audit record
    for secret in (srv.admin_secret, key["SecretAccessKey"], "Xy!9-long-enough-Pass"):
        assert secret not in exported.stdout


def test_serve_prunes_audit_records_past_their_retention(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data) as srv:
        srv.client().create_user(UserName="recent")
    engine = create_engine(srv.database_url)
    old = datetime.now(UTC) - timedelta(days=45)
    with engine.begin() as conn:
        write_records(conn, [audit_record(srv.account_id, old, f"old-{i}") for i in range(2_500)])
    engine.dispose()
    before = len(read_records(create_engine(srv.database_url), limit=100_000))
    with another_node(srv, "pruner", ("--audit-retention-days", "30")):
        left = wait_for_count(srv.database_url, before - 2_500)
    assert left == before - 2_500
    names = {r.request_id for r in read_records(create_engine(srv.database_url), limit=100_000)}
    assert not any(name.startswith("old-") for name in names)


def wait_for_count(url: str, wanted: int) -> int:
    """The number of audit records once the pruner got them to ``wanted`` (or gave up)."""
    engine = create_engine(url)
    try:
        for _ in range(600):
            count = len(read_records(engine, limit=100_000))
            if count <= wanted:
                return count
            time.sleep(0.1)
        return count
    finally:
        engine.dispose()


def test_without_access_log_nothing_is_logged_per_request(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data) as srv:
        srv.client().get_user()
    assert " POST / " not in (data / "server.log").read_text()


def test_rotation_while_serving_keeps_every_secret_working(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data) as srv:
        iam, sts = srv.client(), srv.client(service="sts")
        iam.create_user(UserName="mfa-user")
        iam.add_user_to_group(GroupName="SelfService", UserName="mfa-user")
        key = iam.create_access_key(UserName="mfa-user")["AccessKey"]
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName="mfa-user")
        serial = device["VirtualMFADevice"]["SerialNumber"]
        app = Authenticator(device["VirtualMFADevice"]["Base32StringSeed"].decode())
        iam.enable_mfa_device(UserName="mfa-user", SerialNumber=serial, **app.enable_codes())
        temporary = sts.get_session_token()["Credentials"]
        old_key = (data / "master.key").read_text()

        rotated = srv.selfiam("rotate-master-key")
        assert rotated.returncode == 0, rotated.stderr
        assert "done" in rotated.stdout
        assert (data / "master.key").read_text() != old_key
        assert not (data / "master.key.next").exists() and not (data / "master.key.old").exists()

        # The server started under the old key answers requests signed with keys sealed
        # before the rotation, and checks a TOTP code against a seed re-sealed since.
        assert iam.get_user()["User"]["UserName"] == "admin"
        member = srv.client(key["AccessKeyId"], key["SecretAccessKey"])
        assert member.get_user()["User"]["UserName"] == "mfa-user"
        session = srv.client(
            temporary["AccessKeyId"],
            temporary["SecretAccessKey"],
            service="sts",
            token=temporary["SessionToken"],
        )
        assert session.get_caller_identity()["Account"] == srv.account_id
        member_sts = srv.client(key["AccessKeyId"], key["SecretAccessKey"], service="sts")
        with_mfa = member_sts.get_session_token(SerialNumber=serial, TokenCode=app.next_code())
        assert with_mfa["Credentials"]["AccessKeyId"].startswith("ASIA")
        # A key made after the rotation works too.
        fresh = iam.create_access_key(UserName="mfa-user")["AccessKey"]
        assert srv.client(fresh["AccessKeyId"], fresh["SecretAccessKey"]).get_user()


def test_backup_of_a_postgresql_database_says_how(tmp_path: Path) -> None:
    url = "postgresql+psycopg://selfiam@db.invalid/selfiam"
    done = subprocess.run(
        [*_selfiam_cmd("backup", str(tmp_path / "b"), "--database-url", url)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "pg_dump --format=custom" in done.stdout and "pg_restore" in done.stdout
    assert "does NOT contain" in done.stdout
    assert not (tmp_path / "b").exists()
