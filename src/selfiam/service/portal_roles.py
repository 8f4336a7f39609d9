"""Switch role in the portal: which roles a member may switch to, and the role session a
portal session wears.

The portal switches with STS AssumeRole itself (called as the member through
``Runtime.invoke``: the trust policy, session name, duration, MFA check and audit are
the API's), then links the new role session to the portal session
(``role_sessions.portal_session_id``). The link is the only place the worn session's
credentials live: they never leave the server. The database ends the worn session with
its portal session (FK cascade), and deleting the role or the member ends it too.

:func:`switchable_roles` asks the policy engine, for each role of the account, the
question AssumeRole would ask (``sts:AssumeRole`` on the role, its trust policy as the
resource-based policy, the member's own policies) — once as the member is, and, if that
is denied while the member has no MFA in this session, once more with the MFA facts an
AssumeRole code would add. A page scans at most ``SCAN_LIMIT`` roles (bounded work).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import role_arn
from selfiam.policy import PolicyKind
from selfiam.service.authz import decide
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.compiled import compiled_policy
from selfiam.service.context import OperationContext
from selfiam.service.role_sessions import load_role_session
from selfiam.service.trust_principals import trust_to_evaluate
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

#: Roles whose trust policy one page of the switch-role list evaluates.
SCAN_LIMIT = 100
#: What AssumeRole adds to the request context when a right MFA code comes with it.
MFA_FACTS = {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "0"}


@dataclass(frozen=True, slots=True)
class SwitchableRole:
    name: str
    path: str
    arn: str
    description: str | None
    needs_mfa: bool  # admitted only with an MFA code (the session has no MFA)


def switchable_roles(
    runtime: Runtime, caller: Caller, info: RequestInfo, after: str = ""
) -> tuple[list[SwitchableRole], str | None]:
    """The roles after the name ``after`` (case-insensitive order) whose trust policy
    admits ``caller`` for ``sts:AssumeRole``, and the name to continue after (None at
    the end). At most ``SCAN_LIMIT`` roles are evaluated."""
    r = t.roles
    with read_transaction(runtime.engine) as conn:
        rows = conn.execute(
            select(r)
            .where(r.c.account_id == caller.account_id, r.c.name_lower > after.lower())
            .order_by(r.c.name_lower)
            .limit(SCAN_LIMIT + 1)
        ).all()
        more = len(rows) > SCAN_LIMIT
        rows = rows[:SCAN_LIMIT]
        ctx = OperationContext(runtime, conn, caller, info, "sts:AssumeRole")
        found = []
        for row in rows:
            verdict = _admits(ctx, row)
            if verdict is not None:
                arn = role_arn(caller.account_id, row.name, row.path)
                found.append(SwitchableRole(row.name, row.path, arn, row.description, verdict))
    return found, (rows[-1].name if more and rows else None)


def _admits(ctx: OperationContext, row: Row[Any]) -> bool | None:
    """None: the trust policy does not admit the caller; else whether it takes a code."""
    arn = role_arn(ctx.account_id, row.name, row.path)
    trust = compiled_policy(trust_to_evaluate(ctx.conn, row), PolicyKind.TRUST, arn)
    extra = {"sts:RoleSessionName": ctx.caller.user_name or ""}
    for mfa, context in ((False, extra), (True, {**extra, **MFA_FACTS})):
        if mfa and ctx.caller.mfa_authenticated_at is not None:
            return None
        decision = decide(ctx, "sts:AssumeRole", arn, extra_context=context, resource_policy=trust)
        if decision.evaluation.decision == "allowed":
            return mfa
    return None


def mfa_serial(runtime: Runtime, user_id: str) -> str | None:
    """The serial number of the member's (first) enabled MFA device, for AssumeRole's
    SerialNumber when the portal asks for a code."""
    m = t.mfa_devices
    with read_transaction(runtime.engine) as conn:
        serial: str | None = conn.execute(
            select(m.c.serial_number)
            .where(m.c.user_id == user_id)
            .order_by(m.c.serial_number)
            .limit(1)
        ).scalar_one_or_none()
    return serial


def wear(runtime: Runtime, session_id: str, user_id: str, access_key_id: str) -> bool:
    """Make the portal session wear the role session ``access_key_id`` (just issued to
    the member) in place of any it wore. False, and the new role session ended, if the
    portal session has ended meanwhile."""
    rs, ps = t.role_sessions, t.portal_sessions
    with transaction(runtime.engine) as conn:
        alive = conn.execute(
            select(ps.c.session_id).where(ps.c.session_id == session_id).with_for_update()
        ).first()
        conn.execute(rs.delete().where(rs.c.portal_session_id == session_id))
        if alive is None:
            conn.execute(rs.delete().where(rs.c.access_key_id == access_key_id))
            return False
        linked = conn.execute(
            rs.update()
            .where(rs.c.access_key_id == access_key_id, rs.c.user_id == user_id)
            .values(portal_session_id=session_id)
        )
        return bool(linked.rowcount)


def stop_wearing(runtime: Runtime, session_id: str) -> None:
    """Back to the member's own identity: the worn role session ends."""
    rs = t.role_sessions
    with transaction(runtime.engine) as conn:
        conn.execute(rs.delete().where(rs.c.portal_session_id == session_id))


def worn_caller(
    runtime: Runtime, conn: Connection, session_id: str, now: datetime
) -> tuple[Caller, datetime] | None:
    """The role session the portal session wears, as a Caller (a console session, as
    AWS's switched-role console is), and its expiry; None when it wears none or it has
    expired."""
    rs = t.role_sessions
    row = conn.execute(
        select(rs.c.access_key_id, rs.c.expires_at).where(rs.c.portal_session_id == session_id)
    ).first()
    if row is None or now >= row.expires_at:
        return None
    loaded = load_role_session(conn, runtime.box, row.access_key_id)
    if loaded is None:
        return None
    return replace(loaded.caller, via_console=True), loaded.expires_at
