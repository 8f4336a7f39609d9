"""``selfiam backup`` and ``selfiam restore`` on a data directory, without a server."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.service.backup import serving


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_restore_checks_the_file_and_the_data_directory_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("init", "--data-dir", str(data), "--output", "json")[0] == 0
    database = data / "selfiam.db"
    backup = tmp_path / "backup.db"
    assert run("backup", str(backup), "--data-dir", str(data))[0] == 0

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    before = database.read_bytes()
    code, out = run("restore", str(junk), "--data-dir", str(data))
    assert code != 0 and "not a" in out
    assert database.read_bytes() == before

    with serving(data):  # what `selfiam serve` holds while it runs
        code, out = run("restore", str(backup), "--data-dir", str(data))
    assert code != 0 and "a selfiam server is running" in out
    assert database.read_bytes() == before
    assert not list(data.glob("*.before-restore-*"))

    code, out = run("restore", str(backup), "--data-dir", str(data))
    assert code == 0, out
    assert len(list(data.glob("selfiam.db.before-restore-*"))) == 1
