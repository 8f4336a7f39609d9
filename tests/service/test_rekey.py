"""Master-key rotation: every sealed column covered, every secret re-sealed, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import LargeBinary, select

from selfiam.auth.secretbox import SecretBox, SecretBoxError, next_key_file, read_key_file
from selfiam.cli.main import cli
from selfiam.service.bootstrap import initialize
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.service.rekey import SEALED, PassReport, old_key_file, reseal_column
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction
from support.server_certs import upload


def test_every_sealed_column_is_re_sealed() -> None:
    sealed = {
        (table.name, column.name)
        for table in t.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, LargeBinary) and column.name.endswith("_ciphertext")
    }
    assert sealed == {(c.table.name, c.blob) for c in SEALED}


def account(tmp_path: Path, database_url: str | None = None) -> tuple[Runtime, str]:
    settings = Settings.from_env(data_dir=str(tmp_path / "data"), database_url=database_url)
    runtime = open_runtime(settings)
    result = initialize(runtime)
    root = Caller.root(result.account_id)
    info = RequestInfo(request_id="t", now=runtime.clock())
    for name in ("ann", "bob", "cid"):
        runtime.invoke("iam", "CreateUser", {"UserName": name}, root, info)
        key = runtime.invoke("iam", "CreateAccessKey", {"UserName": name}, root, info)
        runtime.invoke("iam", "CreateVirtualMFADevice", {"VirtualMFADeviceName": name}, root, info)
    credential = {"UserName": "ann", "ServiceName": "codecommit.amazonaws.com"}
    runtime.invoke("iam", "CreateServiceSpecificCredential", credential, root, info)
    up = upload()
    certificate = {
        "ServerCertificateName": "web",
        "CertificateBody": up.body,
        "PrivateKey": up.private_key,
    }
    runtime.invoke("iam", "UploadServerCertificate", certificate, root, info)
    scope = (info.now.strftime("%Y%m%d"), "us-east-1", "sts")
    cid = runtime.authenticate_access_key(key["AccessKey"]["AccessKeyId"], scope)[0]
    runtime.invoke("sts", "GetSessionToken", {}, cid, info)
    runtime.audit.flush()
    return runtime, result.account_id


def blobs(runtime: Runtime) -> list[tuple[bytes, bytes]]:
    """Every sealed blob with its associated data."""
    out = []
    with read_transaction(runtime.engine) as conn:
        for column in SEALED:
            table = column.table
            query = select(table).where(table.c[column.blob].is_not(None))
            rows = conn.execute(query.order_by(table.c[column.key])).all()
            out += [(getattr(r, column.blob), column.associated_data(r)) for r in rows]
    return out


def rotate(tmp_path: Path, database_url: str | None = None) -> tuple[int, str]:
    args = ["rotate-master-key", "--data-dir", str(tmp_path / "data")]
    args += ["--database-url", database_url] if database_url else []
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_rotation_re_seals_every_secret_under_the_new_key_only(
    tmp_path: Path, db_url: str, request: pytest.FixtureRequest
) -> None:
    runtime, _ = account(tmp_path, db_url)
    request.addfinalizer(runtime.close)  # PostgreSQL: its change feed, before the database goes
    key_file = tmp_path / "data" / "master.key"
    old = SecretBox(read_key_file(key_file))
    before = blobs(runtime)
    # 4 access keys (the admin's too), 3 MFA seeds, a session, a service-specific
    # credential's password, a server certificate's private key
    assert len(before) == 10
    code, out = rotate(tmp_path, db_url)
    assert code == 0, out
    assert "re-sealed 10 secrets" in out
    new = SecretBox(read_key_file(key_file))
    after = blobs(runtime)
    for (was, ad), (now, _) in zip(before, after, strict=True):
        assert new.open(now, ad) == old.open(was, ad)
        with pytest.raises(SecretBoxError):
            old.open(now, ad)
    assert not next_key_file(key_file).exists() and not old_key_file(key_file).exists()
    # The runtime opened before the rotation follows the key file: its keys still verify.
    assert runtime.box.open(*after[0]) == old.open(*before[0])
    assert runtime.box.opens_with_current(*after[0])
    code, out = rotate(tmp_path, db_url)  # a second rotation: a third key, nothing lost
    assert code == 0 and "re-sealed 10 secrets" in out


def test_an_interrupted_rotation_resumes(tmp_path: Path) -> None:
    runtime, _ = account(tmp_path)
    key_file = tmp_path / "data" / "master.key"
    original = blobs(runtime)
    old = SecretBox(read_key_file(key_file))
    # Interrupted after the new key was made and one column re-sealed.
    upcoming = next_key_file(key_file)
    upcoming.write_text(_b64(SecretBox.generate_key()))
    upcoming.chmod(0o600)
    partial = SecretBox(read_key_file(upcoming), [read_key_file(key_file)])
    report = PassReport()
    reseal_column(runtime, partial, SEALED[0], report)
    assert report.total == 4
    code, out = rotate(tmp_path)
    assert code == 0, out
    assert out.startswith("resumed")
    assert "pass 1: re-sealed 6 secrets" in out  # only what the first run had not done
    new = SecretBox(read_key_file(key_file))
    for (was, ad), (now, _) in zip(original, blobs(runtime), strict=True):
        assert new.open(now, ad) == old.open(was, ad)


def test_interrupted_after_the_swap_the_last_pass_still_runs(tmp_path: Path) -> None:
    runtime, _ = account(tmp_path)
    key_file = tmp_path / "data" / "master.key"
    # The swap happened (old key kept aside), but the last pass did not: a secret a server
    # sealed under the old key meanwhile is still under it.
    old_key_file(key_file).write_text(key_file.read_text())
    old_key_file(key_file).chmod(0o600)
    key_file.unlink()
    key_file.write_text(_b64(SecretBox.generate_key()))
    key_file.chmod(0o600)
    code, out = rotate(tmp_path)
    assert code == 0, out
    assert "re-sealed 10 secrets" in out and not old_key_file(key_file).exists()
    new = SecretBox(read_key_file(key_file))
    assert all(new.opens_with_current(blob, ad) for blob, ad in blobs(runtime))


def test_a_secret_no_key_opens_stops_the_rotation_before_the_old_key_goes(tmp_path: Path) -> None:
    runtime, _ = account(tmp_path)
    key_file = tmp_path / "data" / "master.key"
    stranger = SecretBox(SecretBox.generate_key())
    with runtime.engine.begin() as conn:
        row = conn.execute(select(t.access_keys).limit(1)).one()
        conn.execute(
            t.access_keys.update()
            .where(t.access_keys.c.access_key_id == row.access_key_id)
            .values(secret_ciphertext=stranger.seal(b"x", row.access_key_id.encode()))
        )
    code, out = rotate(tmp_path)
    assert code != 0 and "open under neither key" in out
    assert row.access_key_id in out
    assert next_key_file(key_file).exists()  # both keys kept: nothing is lost


def _b64(key: bytes) -> str:
    import base64

    return base64.b64encode(key).decode() + "\n"
