"""Account-level settings that AWS keeps outside IAM's entities (issue 15):
GetAccountProperties / PutAccountProperties and SetSecurityTokenServicePreferences
(reflected in GetAccountSummary's ``GlobalEndpointTokenVersion``); outbound web identity
federation, whose switch is kept here too, is in ``outbound_federation.py``.

All of them authorize on ``*`` (the IAM Service Authorization Reference lists no resource
type for them): an administrator's, never a member's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from selfiam.domain.errors import InvalidInput, LimitExceeded
from selfiam.service.context import OperationContext
from selfiam.service.registry import operation
from selfiam.store import tables as t

#: AWS's shape of a property key (API_PutAccountProperties.html): ``Namespace/PropertyName``.
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/[A-Za-z0-9_-]+")
#: The properties an account may hold (selfiam's bound; AWS defines a few per namespace).
MAX_PROPERTIES = 100
#: GetAccountSummary's GlobalEndpointTokenVersion for each preference.
TOKEN_VERSIONS = {"v1Token": 1, "v2Token": 2}


# -- preferences --------------------------------------------------------------------------


def preferences(conn: Connection, account_id: str) -> Any | None:
    p = t.account_preferences
    return conn.execute(select(p).where(p.c.account_id == account_id)).first()


def sts_token_version(conn: Connection, account_id: str) -> int:
    """GetAccountSummary's ``GlobalEndpointTokenVersion``: 1 unless set to v2Token."""
    row = preferences(conn, account_id)
    return TOKEN_VERSIONS[row.sts_token_version] if row is not None else 1


def set_preferences(conn: Connection, account_id: str, **values: Any) -> None:
    p = t.account_preferences
    updated = conn.execute(p.update().where(p.c.account_id == account_id).values(**values))
    if updated.rowcount == 0:
        conn.execute(p.insert().values(account_id=account_id, **values))


@operation("SetSecurityTokenServicePreferences")
def set_sts_preferences(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    set_preferences(
        ctx.conn, ctx.account_id, sts_token_version=str(params["GlobalEndpointTokenVersion"])
    )
    return {}


# -- account properties -------------------------------------------------------------------


@operation("GetAccountProperties", writes=False)
def get_account_properties(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    ap = t.account_properties
    rows = ctx.conn.execute(
        select(ap.c.key, ap.c.value).where(ap.c.account_id == ctx.account_id).order_by(ap.c.key)
    ).all()
    return {"Properties": {key: value for key, value in rows}}


@operation("PutAccountProperties")
def put_account_properties(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Keys are ``Namespace/PropertyName``, exactly one ``/``, all of one namespace; a value
    of ``true``/``false`` is stored as given (AWS checks each key's type; selfiam defines
    no property with a type of its own, so it keeps what it is told)."""
    ctx.authorize("*")
    given: Mapping[str, Any] = params["Properties"]
    if not given:
        raise InvalidInput("Properties must contain at least one property.")
    namespaces = set()
    for key, value in given.items():
        if not _KEY.fullmatch(str(key)) or len(str(key)) > 50:
            raise InvalidInput(
                f"Property key {key} is not valid: it must be Namespace/PropertyName."
            )
        if not 1 <= len(str(value)) <= 1024:
            raise InvalidInput(f"The value of property {key} must be 1 to 1024 characters.")
        namespaces.add(str(key).split("/", 1)[0])
    if len(namespaces) > 1:
        raise InvalidInput("All properties of a request must belong to the same namespace.")
    ap = t.account_properties
    ctx.conn.execute(delete(ap).where(ap.c.account_id == ctx.account_id, ap.c.key.in_(list(given))))
    held = ctx.conn.execute(
        select(func.count()).select_from(ap).where(ap.c.account_id == ctx.account_id)
    ).scalar_one()
    if held + len(given) > MAX_PROPERTIES:
        raise LimitExceeded(f"Cannot exceed quota for AccountProperties: {MAX_PROPERTIES}.")
    ctx.conn.execute(
        ap.insert(),
        [{"account_id": ctx.account_id, "key": str(k), "value": str(v)} for k, v in given.items()],
    )
    return {}
