"""The credential report: every user of the account and the state of their credentials, as CSV.

What AWS does, and selfiam copies (IAM User Guide, "Getting credential reports for your
AWS account"; API reference GenerateCredentialReport / GetCredentialReport):

* A report is generated at most once every four hours. GenerateCredentialReport answers
  ``STARTED`` when it starts a new report (none exists, or the last one is older than four
  hours) and ``COMPLETE`` when a report of the last four hours exists (nothing is redone).
  Both build the report in the background: while it is being built,
  GenerateCredentialReport answers ``INPROGRESS`` and GetCredentialReport
  ``ReportInProgress`` (404). ``GeneratedTime`` is when the run started.
* GetCredentialReport returns the stored CSV (``Content``, a blob: base64 on the wire),
  ``ReportFormat`` ``text/csv`` and ``GeneratedTime``. No report: ``ReportNotPresent``
  (410). A report older than four hours has expired: ``ReportExpired`` (410) — generate a
  new one.
* The columns are AWS's, in AWS's order; the first row is the account's root user,
  ``<root_account>``. Times are ISO 8601 with ``+00:00`` (as AWS writes them), booleans
  ``true``/``false``. ``N/A`` where a value does not apply (no password, no key, key
  never used), ``no_information`` for a password that exists but has never been used,
  ``not_supported`` for the root user's password columns.

Access key 1 is the user's older key, key 2 the newer (likewise certificates).
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import root_arn, user_arn
from selfiam.domain.errors import (
    CredentialReportExpired,
    CredentialReportNotPresent,
    CredentialReportNotReady,
)
from selfiam.domain.password_rules import PasswordPolicy
from selfiam.service.context import OperationContext
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction
from selfiam.store.locks import lock_account_row

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

log = logging.getLogger(__name__)

REPORT_LIFETIME = timedelta(hours=4)
#: A run not finished this long after it started is taken over by the next call.
STALE_AFTER = timedelta(minutes=5)
#: How long a build thread waits to see the claim its request is committing.
CLAIM_WAIT = timedelta(seconds=30)
#: Users read per query while the report is written.
BATCH = 500
STARTED = "STARTED"
COMPLETE = "COMPLETE"
REPORT_FORMAT = "text/csv"
STARTED_NEW = "No report exists. Starting a new report generation task"
STARTED_EXPIRED = "The last report is older than 4 hours. Starting a new report generation task"

COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)

NOT_APPLICABLE = "N/A"
NO_INFORMATION = "no_information"
NOT_SUPPORTED = "not_supported"


def iso(value: datetime) -> str:
    """AWS's report time format: seconds precision, ``+00:00`` offset."""
    return value.replace(microsecond=0).isoformat()


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _time_or_na(value: datetime | None) -> str:
    return iso(value) if value is not None else NOT_APPLICABLE


def _key_columns(key: Any | None) -> list[str]:
    if key is None:
        return ["false", NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]
    used = key.last_used_at is not None
    return [
        _flag(key.status == "Active"),
        iso(key.created_at),
        _time_or_na(key.last_used_at),
        (key.last_used_region or NOT_APPLICABLE) if used else NOT_APPLICABLE,
        (key.last_used_service or NOT_APPLICABLE) if used else NOT_APPLICABLE,
    ]


def _cert_columns(cert: Any | None) -> list[str]:
    if cert is None:
        return ["false", NOT_APPLICABLE]
    return [_flag(cert.status == "Active"), iso(cert.uploaded_at)]


def _password_policy(conn: Connection, account_id: str) -> PasswordPolicy | None:
    """The account's own password policy (None: IAM's default, under which passwords never
    expire)."""
    text = conn.execute(
        select(t.accounts.c.password_policy).where(t.accounts.c.account_id == account_id)
    ).scalar_one_or_none()
    return PasswordPolicy.from_json(text) if text else None


def _by_user(rows: Iterable[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.user_id, []).append(row)
    return grouped


def _root_row(account_id: str, created_at: datetime) -> list[str]:
    """selfiam's root acts through the CLI: it has no password, MFA device, key or certificate."""
    return [
        "<root_account>",
        root_arn(account_id),
        iso(created_at),
        NOT_SUPPORTED,
        NO_INFORMATION,
        NOT_SUPPORTED,
        NOT_SUPPORTED,
        "false",
        *_key_columns(None),
        *_key_columns(None),
        *_cert_columns(None),
        *_cert_columns(None),
    ]


def _password_columns(user: Any, profile: Any | None, policy: PasswordPolicy | None) -> list[str]:
    if profile is None:
        # A user who had a password once keeps its last-used date (as GetUser shows it).
        last_used = iso(user.password_last_used) if user.password_last_used else NOT_APPLICABLE
        return ["false", last_used, NOT_APPLICABLE, NOT_APPLICABLE]
    last_used = iso(user.password_last_used) if user.password_last_used else NO_INFORMATION
    expires = policy.expires_at(profile.password_changed_at) if policy is not None else None
    return ["true", last_used, iso(profile.password_changed_at), _time_or_na(expires)]


def _user_batches(conn: Connection, account_id: str) -> Iterator[list[Any]]:
    """The account's users by name, ``BATCH`` at a time (keyset on the unique name)."""
    u = t.users
    after = ""
    while True:
        rows = list(
            conn.execute(
                select(u)
                .where(u.c.account_id == account_id, u.c.name_lower > after)
                .order_by(u.c.name_lower)
                .limit(BATCH)
            )
        )
        if not rows:
            return
        yield rows
        after = rows[-1].name_lower


def _batch_rows(
    conn: Connection, account_id: str, users: list[Any], policy: PasswordPolicy | None
) -> Iterator[list[str]]:
    """The report's rows of one batch of users: one query per kind of credential."""
    # The batch's users as a subquery over the name range it covers (a statement SQLite
    # prepares once), not a list of 500 bound ids (a new statement every batch).
    u = t.users
    ids = select(u.c.user_id).where(
        u.c.account_id == account_id,
        u.c.name_lower >= users[0].name_lower,
        u.c.name_lower <= users[-1].name_lower,
    )
    lp, ak, sc, mfa = t.login_profiles, t.access_keys, t.signing_certificates, t.mfa_devices
    profiles = {row.user_id: row for row in conn.execute(select(lp).where(lp.c.user_id.in_(ids)))}
    keys = _by_user(
        conn.execute(
            select(ak).where(ak.c.user_id.in_(ids)).order_by(ak.c.created_at, ak.c.access_key_id)
        )
    )
    certs = _by_user(
        conn.execute(
            select(sc).where(sc.c.user_id.in_(ids)).order_by(sc.c.uploaded_at, sc.c.certificate_id)
        )
    )
    with_mfa = set(
        conn.execute(
            select(mfa.c.user_id).where(mfa.c.user_id.in_(ids), mfa.c.enabled_at.is_not(None))
        ).scalars()
    )
    with_mfa.update(
        conn.execute(select(t.passkeys.c.user_id).where(t.passkeys.c.user_id.in_(ids))).scalars()
    )
    for user in users:
        user_keys = keys.get(user.user_id, [])
        user_certs = certs.get(user.user_id, [])
        yield [
            user.name,
            user_arn(account_id, user.name, user.path),
            iso(user.created_at),
            *_password_columns(user, profiles.get(user.user_id), policy),
            _flag(user.user_id in with_mfa),
            *_key_columns(user_keys[0] if user_keys else None),
            *_key_columns(user_keys[1] if len(user_keys) > 1 else None),
            *_cert_columns(user_certs[0] if user_certs else None),
            *_cert_columns(user_certs[1] if len(user_certs) > 1 else None),
        ]


def write_report(conn: Connection, account_id: str, out: TextIO) -> None:
    """Write the account's credential report as CSV to ``out``, ``BATCH`` users at a time:
    memory and each query's size stay bounded whatever the account holds."""
    created = conn.execute(
        select(t.accounts.c.created_at).where(t.accounts.c.account_id == account_id)
    ).scalar_one()
    policy = _password_policy(conn, account_id)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(_root_row(account_id, created))
    for users in _user_batches(conn, account_id):
        writer.writerows(_batch_rows(conn, account_id, users, policy))


def build_report(conn: Connection, account_id: str) -> str:
    """The CSV text of the account's credential report, read straight from the tables."""
    out = io.StringIO()
    write_report(conn, account_id, out)
    return out.getvalue()


def _stored_report(conn: Connection, account_id: str) -> Any | None:
    cr = t.credential_reports
    return conn.execute(select(cr).where(cr.c.account_id == account_id)).first()


def _build_in_background(runtime: Runtime, account_id: str, token: str) -> None:
    """Build the report ``token`` names and store it, unless another run took it over.

    The thread starts before the transaction that claimed the report commits: it waits
    to see the claim, and gives up if it does not show (rolled back, or replaced by a later
    GenerateCredentialReport that restarted a stalled run) within ``CLAIM_WAIT``.
    """
    cr = t.credential_reports
    deadline = time.monotonic() + CLAIM_WAIT.total_seconds()
    try:
        while True:
            with read_transaction(runtime.engine) as conn:
                stored = _stored_report(conn, account_id)
                if stored is not None and stored.token == token:
                    content = build_report(conn, account_id)
                    break
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        with transaction(runtime.engine) as conn:
            conn.execute(
                cr.update()
                .where(cr.c.account_id == account_id, cr.c.token == token)
                .values(state=COMPLETE, content=content, token=None)
            )
    except Exception:  # the claim goes stale and the next GenerateCredentialReport retries
        log.exception("credential report of account %s failed", account_id)


@operation("GenerateCredentialReport")
def generate_credential_report(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Answer at once; the report is built by a thread of this process (state in the
    database, so that every node answers alike): STARTED, INPROGRESS until it is stored,
    then COMPLETE for four hours. A run that has not finished ``STALE_AFTER`` after it
    started (its node died) is started again by the next call."""
    ctx.authorize("*")
    now = ctx.info.now
    lock_account_row(ctx.conn, ctx.account_id)  # one claim at a time per account
    stored = _stored_report(ctx.conn, ctx.account_id)
    if (
        stored is not None
        and stored.state == COMPLETE
        and now - stored.generated_at < (REPORT_LIFETIME)
    ):
        return {"State": "COMPLETE"}
    if stored is not None and stored.state == STARTED and now - stored.generated_at < STALE_AFTER:
        return {"State": "INPROGRESS"}
    token = secrets.token_hex(16)
    cr = t.credential_reports
    values = {"generated_at": now, "content": "", "state": STARTED, "token": token}
    if stored is None:
        ctx.conn.execute(cr.insert().values(account_id=ctx.account_id, **values))
    else:
        ctx.conn.execute(cr.update().where(cr.c.account_id == ctx.account_id).values(**values))
    threading.Thread(
        target=_build_in_background,
        args=(ctx.runtime, ctx.account_id, token),
        name=f"credential-report-{ctx.account_id}",
        daemon=True,
    ).start()
    expired = stored is not None and stored.state == COMPLETE
    return {"State": STARTED, "Description": STARTED_EXPIRED if expired else STARTED_NEW}


@operation("GetCredentialReport", writes=False)
def get_credential_report(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    stored = _stored_report(ctx.conn, ctx.account_id)
    if stored is None:
        # AWS's recorded answer carries no message at all.
        raise CredentialReportNotPresent("")
    if stored.state != COMPLETE:
        raise CredentialReportNotReady(
            "The request was rejected because the credential report is still being generated."
        )
    if ctx.info.now - stored.generated_at >= REPORT_LIFETIME:
        raise CredentialReportExpired(
            "The request was rejected because the most recent credential report has expired. "
            "To generate a new credential report, use GenerateCredentialReport."
        )
    return {
        "Content": stored.content.encode("utf-8"),
        "ReportFormat": REPORT_FORMAT,
        "GeneratedTime": stored.generated_at,
    }
