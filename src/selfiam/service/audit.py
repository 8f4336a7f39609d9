"""The audit trail: one record per request, allowed, denied or failed; never a secret.

A state change writes its record in its own transaction, so the change and its
record commit together. Reads and refusals change nothing, so their records are
queued and written in small batches by a background thread (``flush()`` waits
for the queue to drain), which keeps a write lock off every read. The thread
lets a batch gather for up to ``_LINGER`` seconds after its first record, so a
busy server writes one batch per interval rather than one transaction per
request (``flush()`` cuts the wait short).

The queue holds at most ``MAX_QUEUED`` items: past that, ``submit`` waits for the
writer (back-pressure) rather than grow memory or drop a record, so a flood of
requests faster than the database can take their records slows down instead.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from selfiam.store import tables as t
from selfiam.store.columns import UtcDateTime
from selfiam.store.engine import read_transaction, transaction
from selfiam.store.prepared import PreparedWrite

log = logging.getLogger(__name__)

_BATCH = 500
#: Records (and key uses) waiting for the writer: about 1 KiB each at most.
MAX_QUEUED = 20_000
#: How long a batch may wait for more records after its first one (seconds).
_LINGER = 0.02


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    request_id: str
    account_id: str | None
    caller_arn: str | None
    action: str
    resource: str | None
    decision: str
    error_code: str | None
    source_ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class KeyUse:
    """An access key was used (GetAccessKeyLastUsed); written with the audit batch."""

    access_key_id: str
    at: datetime
    service: str
    region: str


@dataclass(frozen=True, slots=True)
class ActionUse:
    """An IAM user or a role's session made an authenticated request for an action (service
    last accessed: AWS counts every attempt, allowed or not); written with the audit batch
    as one row per (principal, action), the latest."""

    account_id: str
    principal_id: str
    principal_arn: str
    action: str
    at: datetime
    region: str


_RECORD_FIELDS = tuple(f.name for f in fields(AuditRecord))


def write_action_uses(conn: Connection, uses: list[ActionUse]) -> None:
    """Upsert the latest use of each (principal, action) of the batch: one statement per
    distinct pair, however many requests the batch holds."""
    latest: dict[tuple[str, str], ActionUse] = {}
    for use in uses:
        key = (use.principal_id, use.action)
        seen = latest.get(key)
        if seen is None or use.at >= seen.at:
            latest[key] = use
    if not latest:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    table = t.action_last_used
    for use in latest.values():
        statement = insert(table).values(
            principal_id=use.principal_id,
            action=use.action,
            account_id=use.account_id,
            principal_arn=use.principal_arn,
            last_at=use.at,
            region=use.region[:32],
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["principal_id", "action"],
                set_={
                    "last_at": statement.excluded.last_at,
                    "region": statement.excluded.region,
                    "principal_arn": statement.excluded.principal_arn,
                },
                where=table.c.last_at <= statement.excluded.last_at,
            )
        )


def write_records(conn: Connection, records: list[AuditRecord]) -> None:
    if records:
        # A shallow row per record (dataclasses.asdict deep-copies every value, and
        # was most of the cost of writing the trail).
        rows = [{name: getattr(r, name) for name in _RECORD_FIELDS} for r in records]
        conn.execute(t.audit_records.insert(), rows)


_INSERT_RECORD = PreparedWrite(t.audit_records.insert())
_AT = UtcDateTime()


def write_record(conn: Connection, record: AuditRecord) -> None:
    """Write one record in ``conn``'s transaction (a write's own, committed with it; on
    PostgreSQL sent with the COMMIT, in its round trip)."""
    _INSERT_RECORD.execute_at_commit(
        conn, {name: getattr(record, name) for name in _RECORD_FIELDS}
    )


def copy_records(conn: Connection, records: list[AuditRecord]) -> None:
    """PostgreSQL: the same rows as ``write_records``, in one COPY: the batch's rows
    stream to the server in one round trip, without the parameter binding and the
    per-row work of an executemany (which was ~15 % of a busy read node's CPU)."""
    if not records:
        return
    driver = conn.connection.driver_connection  # a psycopg.Connection
    assert driver is not None
    columns = ", ".join(_RECORD_FIELDS)
    at = _AT.process_bind_param  # COPY bypasses SQLAlchemy's types: the column's, called here
    dialect = conn.dialect
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {t.audit_records.name} ({columns}) FROM STDIN") as copy,
    ):
        for r in records:
            copy.write_row(
                (
                    at(r.at, dialect),
                    r.request_id,
                    r.account_id,
                    r.caller_arn,
                    r.action,
                    r.resource,
                    r.decision,
                    r.error_code,
                    r.source_ip,
                    r.user_agent,
                )
            )


def write_key_uses(conn: Connection, uses: list[KeyUse]) -> None:
    for use in uses:
        conn.execute(
            t.access_keys.update()
            .where(t.access_keys.c.access_key_id == use.access_key_id)
            .values(last_used_at=use.at, last_used_service=use.service, last_used_region=use.region)
        )


class AuditWriter:
    """Writes queued audit records in batches on a daemon thread."""

    def __init__(self, engine: Engine, max_queued: int = MAX_QUEUED) -> None:
        self._engine = engine
        self._queue: queue.Queue[AuditRecord | KeyUse | ActionUse] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set by flush(): write now, don't linger

    def submit(self, record: AuditRecord | KeyUse | ActionUse) -> None:
        self._ensure_thread()
        self._queue.put(record)

    @property
    def crowded(self) -> bool:
        """Whether the queue is over half full, so that a ``submit`` soon might wait."""
        return self._queue.qsize() * 2 > self._queue.maxsize > 0

    def flush(self) -> None:
        """Block until every record submitted so far is written."""
        if self._thread is not None:
            self._wake.set()
            self._queue.join()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="selfiam-audit", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            if self._wake.wait(_LINGER):
                self._wake.clear()
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [r for r in batch if isinstance(r, AuditRecord)]
            uses = [u for u in batch if isinstance(u, KeyUse)]
            actions = [a for a in batch if isinstance(a, ActionUse)]
            try:
                self._write(records, uses, actions)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(
        self, records: list[AuditRecord], uses: list[KeyUse], actions: list[ActionUse]
    ) -> None:
        """Write a batch; if it fails, write item by item so one bad row loses only itself."""
        try:
            with transaction(self._engine) as conn:
                if conn.dialect.name == "postgresql":
                    copy_records(conn, records)
                else:
                    write_records(conn, records)
                write_key_uses(conn, uses)
                write_action_uses(conn, actions)
            return
        except Exception:  # the trail must not take the server down
            log.exception(
                "could not write a batch of %d audit records; retrying one by one", len(records)
            )
        for record in records:
            try:
                with transaction(self._engine) as conn:
                    write_records(conn, [record])
            except Exception:
                log.exception("could not write the audit record of request %s", record.request_id)


def read_records(
    engine: Engine,
    *,
    caller_arn_suffix: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    limit: int = 100,
    account_id: str | None = None,
) -> list[AuditRecord]:
    """The newest audit records first, filtered by caller (ARN ending), time, action and
    (when given) the account they belong to."""
    ar = t.audit_records
    query = select(ar).order_by(ar.c.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(ar.c.account_id == account_id)
    if caller_arn_suffix:
        query = query.where(
            ar.c.caller_arn.like(f"%{_escape_like(caller_arn_suffix)}", escape="\\")
        )
    if since is not None:
        query = query.where(ar.c.at >= since)
    if action:
        query = query.where(ar.c.action == action)
    with read_transaction(engine) as conn:
        rows = conn.execute(query).all()
    return [
        AuditRecord(
            at=r.at,
            request_id=r.request_id,
            account_id=r.account_id,
            caller_arn=r.caller_arn,
            action=r.action,
            resource=r.resource,
            decision=r.decision,
            error_code=r.error_code,
            source_ip=r.source_ip,
            user_agent=r.user_agent,
        )
        for r in rows
    ]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
