"""``selfiam server-certificate upload/list/delete`` on a real database: the key is read
from a file, sealed by the service and never printed; refusals are one line with AWS's code."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from selfiam.cli.main import cli
from support.server_certs import ec_key, key_pem, upload


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_upload_list_delete(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = run("init", "--data-dir", data, "--output", "json")
    assert code == 0, out
    account = json.loads(out)["account_id"]
    up = upload()
    files = {}
    for name, text in (("cert", up.body), ("key", up.private_key), ("chain", up.chain)):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text(text)
    code, out = run(
        "server-certificate", "upload", "web", "--data-dir", data, "--path", "/cloudfront/",
        "--body", str(files["cert"]), "--key", str(files["key"]), "--chain", str(files["chain"]),
    )  # fmt: skip
    assert code == 0, out
    assert f"arn:aws:iam::{account}:server-certificate/cloudfront/web" in out
    assert "expires 2028-01-01" in out and "PRIVATE" not in out

    code, out = run("server-certificate", "list", "--data-dir", data)
    assert code == 0 and out.startswith("web  ") and "expires 2028-01-01" in out

    (tmp_path / "other.pem").write_text(key_pem(ec_key()))
    code, out = run(
        "server-certificate", "upload", "bad", "--data-dir", data,
        "--body", str(files["cert"]), "--key", str(tmp_path / "other.pem"),
    )  # fmt: skip
    assert code != 0 and "KeyPairMismatch" in out and "PRIVATE" not in out

    code, out = run("server-certificate", "delete", "web", "--data-dir", data)
    assert code == 0, out
    code, out = run("server-certificate", "list", "--data-dir", data)
    assert code == 0 and out == ""
    code, out = run("server-certificate", "delete", "web", "--data-dir", data)
    assert code != 0 and "NoSuchEntity" in out
