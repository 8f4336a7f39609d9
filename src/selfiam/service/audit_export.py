"""The audit trail as CloudTrail records (``selfiam audit export --format cloudtrail``).

Each audit record becomes one CloudTrail event record, so that tools which read
CloudTrail log files (``{"Records": [...]}``) can read selfiam's trail. Only what the
trail holds is written: it never held a secret (no parameter values, no credentials),
so neither does an export. CloudTrail fields the trail does not record are left out
(``principalId``, ``accessKeyId``, ``errorMessage``, ``requestParameters``,
``responseElements``): CloudTrail documents them as optional.

The records are read in keyset pages of ``PAGE`` rows by id, so an export of any size
holds one page in memory; ``eventID`` is derived from the record's id and account, so the
same record keeps its eventID in every export (consumers can de-duplicate).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Engine, select

from selfiam.store import tables as t
from selfiam.store.engine import read_transaction

EVENT_VERSION = "1.11"
#: IAM and STS's global endpoints record their events in us-east-1.
REGION = "us-east-1"
PAGE = 1_000
_EVENT_IDS = uuid.UUID("8a3f2c51-5e0b-4d5e-9a55-3f0a4f3cde11")
_SOURCES = {
    "iam": "iam.amazonaws.com",
    "sts": "sts.amazonaws.com",
    "signin": "signin.amazonaws.com",
}
_READ_PREFIXES = ("Get", "List", "Simulate", "Describe")


def _identity(caller_arn: str | None) -> dict[str, Any]:
    if not caller_arn:
        return {"type": "Unknown"}
    parts = caller_arn.split(":", 5)
    account = parts[4] if len(parts) == 6 else None
    resource = parts[5] if len(parts) == 6 else ""
    identity: dict[str, Any] = {"arn": caller_arn, "accountId": account}
    if resource == "root":
        identity["type"] = "Root"
    elif resource.startswith("user/"):
        identity.update(type="IAMUser", userName=resource.rsplit("/", 1)[-1])
    elif resource.startswith("assumed-role/"):
        identity["type"] = "AssumedRole"
    elif resource.startswith("federated-user/"):
        identity["type"] = "FederatedUser"
    else:
        identity["type"] = "Unknown"
    return {"type": identity.pop("type"), **identity}


def cloudtrail_record(row: Any) -> dict[str, Any]:
    """One audit row as a CloudTrail event record."""
    service, _, name = str(row.action).partition(":")
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": _identity(row.caller_arn),
        "eventTime": row.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": _SOURCES.get(service, service),
        "eventName": name or service,
        "awsRegion": REGION,
        "sourceIPAddress": row.source_ip,
        "userAgent": row.user_agent,
    }
    if row.error_code:
        record["errorCode"] = row.error_code
    elif row.decision in ("explicitDeny", "implicitDeny"):
        record["errorCode"] = "AccessDenied"
    record.update(
        requestID=row.request_id,
        eventID=str(uuid.uuid5(_EVENT_IDS, f"{row.account_id}/{row.id}")),
        readOnly=name.startswith(_READ_PREFIXES),
        eventType="AwsConsoleSignIn" if service == "signin" else "AwsApiCall",
        managementEvent=True,
        recipientAccountId=row.account_id,
        eventCategory="Management",
    )
    return record


def audit_rows(
    engine: Engine,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = PAGE,
) -> Iterator[Any]:
    """The records made in [since, until), oldest first, one page in memory at a time."""
    ar = t.audit_records
    after = 0
    while True:
        query = select(ar).where(ar.c.id > after).order_by(ar.c.id).limit(page)
        if since is not None:
            query = query.where(ar.c.at >= since)
        if until is not None:
            query = query.where(ar.c.at < until)
        with read_transaction(engine) as conn:
            rows = conn.execute(query).all()
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].id


def write_cloudtrail(
    engine: Engine, out: IO[str], since: datetime | None = None, until: datetime | None = None
) -> int:
    """Write ``{"Records": [...]}`` to ``out``, record by record; how many records."""
    out.write('{"Records": [')
    count = 0
    for row in audit_rows(engine, since, until):
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(cloudtrail_record(row), ensure_ascii=True))
        count += 1
    out.write("\n]}\n" if count else "]}\n")
    return count
