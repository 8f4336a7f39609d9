"""A role trust policy's user and role principals, kept by unique id as IAM keeps them.

AWS (IAM User Guide, "IAM role trust policy examples"): when a trust policy naming a
user or role ARN is saved, the ARN is transformed to the principal's unique id, so
that deleting the user or role and creating another with the same name does not let
the new one assume the role; GetRole transforms the id back to the principal's ARN
while it exists (its current ARN: a renamed user shows its new one), and shows the
bare id once it is gone.

selfiam keeps the document as written and, beside it (``role_trust_principals``),
which id each such ARN named and the document with the ARNs replaced by those ids:
AssumeRole evaluates that one, and the policy engine matches an ``AIDA…``/``AROA…``
principal against the caller's user id or its role's id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import ArnError, parse_iam_arn, role_arn, user_arn
from selfiam.domain.errors import MalformedPolicyDocument
from selfiam.policy import Policy
from selfiam.service.lookup import find_role, find_user
from selfiam.store import tables as t
from selfiam.store.prepared import PreparedSelect

_rtp = t.role_trust_principals
_TRUST_BY_ID = PreparedSelect(
    select(_rtp.c.document_by_id).where(_rtp.c.role_id == bindparam("role_id"))
)


def principal_ids(conn: Connection, account_id: str, policy: Policy) -> dict[str, str]:
    """{ARN as written: unique id} for each user or role of this account the trust
    policy names. One that does not exist is AWS's MalformedPolicyDocument "Invalid
    principal in policy"; other accounts, wildcards and other principal kinds are kept
    as written."""
    found: dict[str, str] = {}
    for stmt in policy.statements:
        for value in stmt.principal.aws if stmt.principal is not None else ():
            if value in found or "*" in value or "?" in value:
                continue
            try:
                parsed = parse_iam_arn(value)
            except ArnError:
                continue
            if parsed.account != account_id or parsed.resource_type not in ("user", "role"):
                continue
            is_user = parsed.resource_type == "user"
            row = (find_user if is_user else find_role)(conn, account_id, parsed.name)
            if row is None or row.path != parsed.path:
                raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{value}"')
            found[value] = row.user_id if is_user else row.role_id
    return found


def _replaced(document: str, replacements: Mapping[str, str]) -> str:
    """``document`` with each "AWS" principal value that is a key of ``replacements``
    replaced by its value (Principal and NotPrincipal)."""
    parsed = json.loads(document)
    statements = parsed.get("Statement")
    for stmt in statements if isinstance(statements, list) else [statements]:
        if not isinstance(stmt, dict):
            continue
        for element in ("Principal", "NotPrincipal"):
            spec = stmt.get(element)
            if not isinstance(spec, dict) or "AWS" not in spec:
                continue
            values = spec["AWS"]
            if isinstance(values, str):
                spec["AWS"] = replacements.get(values, values)
            elif isinstance(values, list):
                spec["AWS"] = [replacements.get(v, v) if isinstance(v, str) else v for v in values]
    return json.dumps(parsed)


def store_trust(conn: Connection, role_id: str, document: str, ids: Mapping[str, str]) -> None:
    """Record (or replace) what ``document``'s user and role ARNs name."""
    conn.execute(_rtp.delete().where(_rtp.c.role_id == role_id))
    if ids:
        conn.execute(
            _rtp.insert().values(
                role_id=role_id,
                principal_ids=json.dumps(dict(ids)),
                document_by_id=_replaced(document, ids),
            )
        )


def trust_to_evaluate(conn: Connection, role: Row[Any]) -> str:
    """The trust policy AssumeRole evaluates: its user and role ARNs as the ids they named."""
    by_id = _TRUST_BY_ID.scalar(conn, {"role_id": role.role_id})
    return str(by_id) if by_id is not None else str(role.assume_role_policy_document)


def shown_trust(conn: Connection, roles: Iterable[Row[Any]]) -> dict[str, str]:
    """role id -> the trust policy as GetRole shows it: each user or role it named by
    its current ARN, or by its unique id once deleted. One query per kind for all."""
    rows = {r.role_id: r for r in roles}
    shown = {rid: str(r.assume_role_policy_document) for rid, r in rows.items()}
    if not rows:
        return shown
    mapped = conn.execute(
        select(_rtp.c.role_id, _rtp.c.principal_ids).where(_rtp.c.role_id.in_(list(rows)))
    ).all()
    if not mapped:
        return shown
    ids_of: dict[str, dict[str, str]] = {m.role_id: json.loads(m.principal_ids) for m in mapped}
    wanted = {i for ids in ids_of.values() for i in ids.values()}
    u, r = t.users, t.roles
    current: dict[str, str] = {}
    for row in conn.execute(
        select(u.c.user_id, u.c.account_id, u.c.name, u.c.path).where(u.c.user_id.in_(wanted))
    ):
        current[row.user_id] = user_arn(row.account_id, row.name, row.path)
    for row in conn.execute(
        select(r.c.role_id, r.c.account_id, r.c.name, r.c.path).where(r.c.role_id.in_(wanted))
    ):
        current[row.role_id] = role_arn(row.account_id, row.name, row.path)
    for role_id, ids in ids_of.items():
        now: dict[str, str] = {arn: current.get(uid, uid) for arn, uid in ids.items()}
        if any(arn != shown_as for arn, shown_as in now.items()):
            shown[role_id] = _replaced(shown[role_id], now)
    return shown
