from __future__ import annotations

from pathlib import Path

from selfiam.settings import Settings


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.data_dir == Path(".selfiam")
    assert s.database_url == f"sqlite:///{Path('.selfiam/selfiam.db').absolute()}"
    assert s.master_key_file == Path(".selfiam/master.key")
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.is_sqlite


def test_data_dir_drives_the_other_paths(tmp_path: Path) -> None:
    s = Settings.from_env({"SELFIAM_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path}/selfiam.db"
    assert s.master_key_file == tmp_path / "master.key"


def test_env_then_arguments_win() -> None:
    env = {
        "SELFIAM_DATA_DIR": "/d",
        "SELFIAM_DATABASE_URL": "postgresql://db/selfiam",
        "SELFIAM_MASTER_KEY_FILE": "/keys/k",
        "SELFIAM_HOST": "0.0.0.0",
        "SELFIAM_PORT": "9000",
    }
    s = Settings.from_env(env)
    assert (s.database_url, s.master_key_file, s.host, s.port) == (
        "postgresql://db/selfiam", Path("/keys/k"), "0.0.0.0", 9000,
    )
    assert not s.is_sqlite
    s = Settings.from_env(env, port=1234, host="::1", database_url="sqlite:///x.db")
    assert (s.port, s.host, s.database_url) == (1234, "::1", "sqlite:///x.db")
