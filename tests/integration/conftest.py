"""A live selfiam server per test module, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.postgres import fresh_database
from support.server import LiveServer, live_server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("selfiam-data")
    if request.param == "sqlite":
        with live_server(data_dir) as srv:
            yield srv
    else:
        with fresh_database() as url, live_server(data_dir, url) as srv:
            yield srv


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("selfiam-data")) as srv:
        yield srv
