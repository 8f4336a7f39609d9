"""A SQLite database migrated to head with AWS's managed policies, copied per test.

Seeding the 1,594 AWS managed policies takes about half a second; a template built once
per process and copied (a file copy, milliseconds) keeps fixtures that want them cheap.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from selfiam.service.aws_policies import sync_aws_managed_policies
from selfiam.store.engine import create_engine_for
from selfiam.store.migrate import upgrade_to_head


@cache
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="selfiam-seeded-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade_to_head(engine)
    sync_aws_managed_policies(engine)
    engine.dispose()
    return path


def seeded_sqlite(target: Path) -> str:
    """Copy the template to ``target`` (a new file); return its URL."""
    shutil.copyfile(_template(), target)
    return f"sqlite:///{target}"
