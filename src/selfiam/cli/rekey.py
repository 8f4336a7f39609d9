"""``selfiam rotate-master-key``: a new master key, every sealed secret re-sealed under it."""

from __future__ import annotations

import click

from selfiam.cli.options import database_options, open_for_command, settings_from
from selfiam.cli.printable import echo, printable
from selfiam.service.rekey import rotate_master_key


@click.command("rotate-master-key")
@database_options
def rotate_master_key_command(data_dir: str | None, database_url: str | None) -> None:
    """Re-seal every access-key secret, session secret and TOTP seed under a new master key.

    Servers keep running: they follow the key files as they change. Interrupted, the
    command resumes where it stopped when run again (the new key waits in
    master.key.next, the old one in master.key.old until every secret opens under the
    new key). Several nodes with their own copy of the key file: see docs/operations.md.
    """
    settings = settings_from(data_dir, database_url)
    runtime = open_for_command(settings)
    key = printable(settings.master_key_file)
    try:
        done = rotate_master_key(runtime, settings.master_key_file)
    finally:
        runtime.audit.flush()
    echo(f"{'started' if done.started else 'resumed'} the rotation of {key}")
    for number, report in enumerate(done.passes, start=1):
        counts = ", ".join(f"{n} {printable(k)}" for k, n in report.resealed.items()) or "none"
        echo(f"  pass {number}: re-sealed {report.total} secrets ({counts})")
        for where in report.unreadable:
            echo(f"  does not open under either key: {printable(where)}", err=True)
    if not done.finished:
        raise click.ClickException(
            "stopped: some secrets open under neither key; both keys are kept. Delete or "
            "restore those rows, then run selfiam rotate-master-key again."
        )
    echo(
        f"done: every secret is sealed under the new key in {key}; the old key is deleted. "
        "Backups taken before now need the old key: back up the new one apart."
    )
