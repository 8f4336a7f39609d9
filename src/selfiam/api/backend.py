"""The API's view of the service layer: authenticate a signature's key, invoke an operation."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.engine import Connection

from selfiam.api.endpoint import RequestMeta
from selfiam.auth.sigv4 import SigV4Credential
from selfiam.domain.errors import AwsError
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.registry import find_operation
from selfiam.service.runtime import Runtime


class RuntimeBackend:
    """Adapts ``Runtime`` to the endpoint's ``ApiBackend`` protocol."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def session(
        self, service: str, action: str, wait: bool = True
    ) -> AbstractContextManager[object]:
        """A read (which cannot change what authentication saw) runs in the same read
        transaction as its authentication; so does a write, in its write transaction
        (``Runtime.write_session``: one transaction and one commit per request), which
        with ``wait=False`` raises ``WouldWait`` on entry unless it starts at once."""
        if _is_read(service, action):
            return self.runtime.read_session()
        return self.runtime.write_session(service, action, wait=wait)

    def authenticate(
        self, session: object, cred: SigV4Credential, verify: Callable[[bytes], None]
    ) -> object:
        scope = (cred.date, cred.region, cred.service)
        caller, _, feed_read = self.runtime.authenticate_in_transaction(
            cred.access_key_id,
            scope,
            session_token=cred.security_token,
            conn=_conn(session),
            verify=verify,
        )
        return caller, feed_read

    def unsigned(self) -> object:
        return Caller.unsigned(), False

    def invoke(
        self,
        session: object,
        service: str,
        operation: str,
        params: dict[str, Any],
        caller: object,
        meta: RequestMeta,
    ) -> dict[str, Any]:
        assert isinstance(caller, tuple)
        principal, feed_read = caller
        assert isinstance(principal, Caller)
        info = _request_info(service, meta, feed_read)
        return self.runtime.invoke(service, operation, params, principal, info, _conn(session))

    def is_fast(self, service: str, action: str) -> bool:
        """Reads hash no password and take no write lock, so on SQLite they never block
        for long; an unknown action is refused quickly (InvalidAction). On PostgreSQL
        every query waits for a round trip, which stalls every other request meanwhile:
        reads run inline only while the database measurably answers fast
        (``Runtime.read_inline``). The reads whose cost grows with the request or the
        account rather than a few indexed rows (`_HEAVY_READS`) go to the threadpool."""
        return (
            (service, action) not in _HEAVY_READS
            and _is_read(service, action)
            and self.runtime.read_inline()
        )

    def may_try_inline(self, service: str, action: str) -> bool:
        """A write declared light (``registry.operation``'s ``light``: a few indexed rows,
        nothing slow of its own) on SQLite: what makes it wait is the write lock alone, so
        it runs inline when ``session(..., wait=False)`` takes the lock at once.
        PostgreSQL: never (every statement waits for the network; ``transaction``'s
        ``wait=False`` is where a try-without-waiting there would go)."""
        op = find_operation(service, action)
        return op is not None and op.light and self.runtime.local_database

    async def write_turn(self) -> bool:
        return await self.runtime.write_turn()

    def reject(self, service: str, action: str, error: AwsError, meta: RequestMeta) -> None:
        self.runtime.record_rejection(f"{service}:{action}", error, _request_info(service, meta))


#: Reads that may take long on any database: the simulator and the context-key operations
#: parse and evaluate the policies the request carries (a megabyte of them); a page of
#: GetAccountAuthorizationDetails holds up to 1,000 entities with every policy document and
#: version; GetCredentialReport sends a report as long as the account's user list;
#: ListEntitiesForPolicy reads every entity attached to the policy before it pages;
#: GetPolicyVersion URL-encodes a document that, for AWS's own policies, reaches 150,000
#: characters (ReadOnlyAccess: 90,000); the service-last-accessed reads parse a stored
#: report as long as the entity's services and principals. (GetAccountSummary reads the
#: account's counter rows, store/counters.py: cheap, so not here.)
_HEAVY_READS = frozenset(
    ("iam", action)
    for action in (
        "SimulateCustomPolicy",
        "SimulatePrincipalPolicy",
        "GetContextKeysForCustomPolicy",
        "GetContextKeysForPrincipalPolicy",
        "GetAccountAuthorizationDetails",
        "GetCredentialReport",
        "ListEntitiesForPolicy",
        "GetPolicyVersion",
        "GetServiceLastAccessedDetails",
        "GetServiceLastAccessedDetailsWithEntities",
        "ListPoliciesGrantingServiceAccess",
    )
) | {("sts", "GetWebIdentityToken")}  # unseals a key and signs (RSA: a millisecond)


def _request_info(service: str, meta: RequestMeta, feed_read: bool = False) -> RequestInfo:
    """The service layer's view of the request; ``feed_read`` if its authentication read
    the change feed in the transaction it will run in."""
    return RequestInfo(
        request_id=meta.request_id,
        now=meta.now,
        source_ip=meta.source_ip,
        secure_transport=meta.secure_transport,
        user_agent=meta.user_agent,
        region=meta.region,
        service=service,
        feed_read=feed_read,
    )


def _is_read(service: str, action: str) -> bool:
    op = find_operation(service, action)
    return op is None or not op.writes


def _conn(session: object) -> Connection | None:
    assert session is None or isinstance(session, Connection)
    return session
