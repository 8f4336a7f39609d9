"""PostgreSQL's audit writer stores its batches with COPY (service/audit.py
``copy_records``): the rows read back are the ones ``write_records``' INSERT stores, to
the byte, whatever the text holds (COPY's text format escapes tabs, newlines,
backslashes and ``\\N``), and the writer's batches send no INSERT into the trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from selfiam.service.audit import AuditRecord, AuditWriter, copy_records, write_records
from selfiam.store import tables as t
from selfiam.store.engine import create_engine_for, read_transaction, transaction
from support.postgres import fresh_database

AWKWARD = [
    "plain",
    "tab\there",
    "new\nline\r\n",
    "back\\slash \\N \\\\N",
    "\\N",
    "",
    "quote ' \" , ;",
    "unicode é ü 日本 🙂",
    "| pipe | and \x7f",
]


@pytest.fixture
def engine(postgres_template_url: str) -> Iterator[Engine]:
    with fresh_database(template=postgres_template_url) as url:
        made = create_engine_for(url)
        try:
            yield made
        finally:
            made.dispose()


def records(tag: str) -> list[AuditRecord]:
    base = datetime(2026, 12, 2, 4, 5, 6, 789012, tzinfo=UTC)
    other = timezone(timedelta(hours=-7, minutes=-30))
    made = []
    for i, value in enumerate(AWKWARD):
        made.append(
            AuditRecord(
                at=(base + timedelta(microseconds=i)).astimezone(other if i % 2 else UTC),
                request_id=f"{tag}-{i}",
                account_id=None if i % 3 == 0 else "123456789012",
                caller_arn=value,
                action=f"iam:{value[:20]}",
                resource=None if i % 2 else value,
                decision=("allowed", "explicitDeny", "implicitDeny", "error")[i % 4],
                error_code=None if i % 4 != 3 else value[:64],
                source_ip=value[:64],
                user_agent=None if i == 4 else value * 3,
            )
        )
    return made


def stored(engine: Engine, tag: str) -> list[tuple[Any, ...]]:
    ar = t.audit_records
    with read_transaction(engine) as conn:
        rows = conn.execute(
            select(*(c for c in ar.c if c.name != "id"))
            .where(ar.c.request_id.like(f"{tag}-%"))
            .order_by(ar.c.request_id)
        ).all()
    return [(r[0].isoformat(), *[_bytes(v) for v in r[1:]]) for r in rows]


def _bytes(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else value


def test_copy_stores_what_executemany_stores(engine: Engine) -> None:
    with transaction(engine) as conn:
        write_records(conn, records("many"))
    with transaction(engine) as conn:
        copy_records(conn, records("copy"))
    by_insert = stored(engine, "many")
    by_copy = stored(engine, "copy")
    assert len(by_insert) == len(AWKWARD)
    assert [r[2:] for r in by_copy] == [r[2:] for r in by_insert]
    assert [r[0] for r in by_copy] == [r[0] for r in by_insert]  # the times, to the µs
    assert all(r[0].endswith("+00:00") for r in by_copy)


def test_copy_refuses_a_naive_time_as_the_insert_does(engine: Engine) -> None:
    naive = records("naive")[0]
    naive = AuditRecord(**{**{f: getattr(naive, f) for f in naive.__slots__}, "at": datetime(2026, 1, 1)})
    with pytest.raises(ValueError), transaction(engine) as conn:
        copy_records(conn, [naive])


def test_the_writer_copies_its_batches(engine: Engine) -> None:
    statements: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql)
    )
    writer = AuditWriter(engine)
    for record in records("writer"):
        writer.submit(record)
    writer.flush()
    assert len(stored(engine, "writer")) == len(AWKWARD)
    assert not [s for s in statements if "INSERT INTO audit_records" in s]
