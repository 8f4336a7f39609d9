"""Runtime settings, from environment variables with command-line overrides.

Every path derives from the data directory unless set on its own, so a
single ``SELFIAM_DATA_DIR`` (default ``./.selfiam``) is enough for the
embedded SQLite set-up, and several nodes sharing PostgreSQL set
``SELFIAM_DATABASE_URL`` and point ``SELFIAM_MASTER_KEY_FILE`` at the same
key (the key must be identical on every node, or sealed secrets won't open).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = ".selfiam"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_PORTAL_IDLE_MINUTES = 30
DEFAULT_PORTAL_MAX_HOURS = 12


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    master_key_file: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: A portal session ends after this long without a request...
    portal_idle_minutes: int = DEFAULT_PORTAL_IDLE_MINUTES
    #: ...and at the latest this long after sign-in.
    portal_max_hours: int = DEFAULT_PORTAL_MAX_HOURS
    #: The portal's public address (``https://iam.example.com``): its host is the WebAuthn
    #: RP ID of passkeys. None: the host each request names.
    public_url: str | None = None
    #: A SAML audience accepted besides https://signin.aws.amazon.com/saml (e.g. the
    #: portal's own https://HOST/portal/saml).
    saml_audience: str | None = None
    #: One line per request on stdout (``serve --access-log``): never a secret.
    access_log: bool = False
    #: Audit records older than this many days are pruned in the background; None: kept.
    audit_retention_days: int | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        database_url: str | None = None,
        master_key_file: str | os.PathLike[str] | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> Settings:
        """Build settings: explicit arguments win over the environment, which
        wins over the defaults. ``env`` defaults to ``os.environ``."""
        env = os.environ if env is None else env
        data = Path(data_dir or env.get("SELFIAM_DATA_DIR") or DEFAULT_DATA_DIR)
        url = database_url or env.get("SELFIAM_DATABASE_URL") or sqlite_url_for(data)
        key = Path(master_key_file or env.get("SELFIAM_MASTER_KEY_FILE") or data / "master.key")
        port_text = env.get("SELFIAM_PORT")
        idle = env.get("SELFIAM_PORTAL_IDLE_MINUTES")
        max_hours = env.get("SELFIAM_PORTAL_MAX_HOURS")
        public_url = env.get("SELFIAM_PUBLIC_URL") or None
        retention = env.get("SELFIAM_AUDIT_RETENTION_DAYS")
        return cls(
            data_dir=data,
            database_url=url,
            master_key_file=key,
            host=host or env.get("SELFIAM_HOST") or DEFAULT_HOST,
            port=port if port is not None else int(port_text) if port_text else DEFAULT_PORT,
            portal_idle_minutes=_positive(idle, "SELFIAM_PORTAL_IDLE_MINUTES")
            or DEFAULT_PORTAL_IDLE_MINUTES,
            portal_max_hours=_positive(max_hours, "SELFIAM_PORTAL_MAX_HOURS")
            or DEFAULT_PORTAL_MAX_HOURS,
            public_url=public_url,
            saml_audience=env.get("SELFIAM_SAML_AUDIENCE") or None,
            access_log=env.get("SELFIAM_ACCESS_LOG", "") == "1",
            audit_retention_days=_positive(retention, "SELFIAM_AUDIT_RETENTION_DAYS"),
        )


def _positive(text: str | None, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {text!r}")
    return int(text)


def sqlite_url_for(data_dir: Path) -> str:
    """The default database: ``sqlite:///<data_dir>/selfiam.db`` (absolute path)."""
    return f"sqlite:///{(data_dir / 'selfiam.db').absolute()}"
