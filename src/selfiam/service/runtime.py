"""The one way in: ``Runtime.invoke`` runs an operation for a caller, authorized and audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from selfiam.auth.passwords import PasswordHasher, default_hasher
from selfiam.auth.secretbox import SecretBox
from selfiam.domain.errors import (
    AwsError,
    InternalFailure,
    InvalidAction,
    InvalidClientTokenId,
    NoSuchEntity,
)
from selfiam.service.audit import ActionUse, AuditRecord, AuditWriter, KeyUse, write_record
from selfiam.service.authn import INVALID_TOKEN, CredentialCache
from selfiam.service.bounded import BoundedCache
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.context import OperationContext
from selfiam.service.invalidation import Invalidation
from selfiam.service.oidc.keys import IssuerKeys
from selfiam.service.principals import (
    PrincipalPolicies,
    load_role_policies,
    load_user_policies,
)
from selfiam.service.registry import Operation, find_operation
from selfiam.store.engine import (
    HeldReadConnection,
    is_read_only,
    read_transaction,
    transaction,
)
from selfiam.store.inline_reads import InlineReads
from selfiam.store.write_gate import WouldWait, free_turn, gate_of

__all__ = ["Runtime", "WouldWait", "utc_now"]

Clock = Callable[[], datetime]
#: Principals whose compiled policies a process keeps, and for how long (seconds).
MAX_PRINCIPALS = 10_000
PRINCIPALS_MAX_AGE = 15 * 60.0
#: (principal, action) pairs whose last use this process remembers having recorded.
MAX_ACTION_USES = 20_000
ACTION_USE_GRANULARITY = timedelta(minutes=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Runtime:
    """Holds what operations share: the database, the secret box, the clock and the caches."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        clock: Clock = utc_now,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.engine = engine
        self.box = box
        self.clock = clock
        self._hasher = hasher
        #: The change feed's view: which cached entries are still right (DESIGN rule 7).
        self.invalidation = Invalidation(engine)
        self.credentials = CredentialCache(box, self.invalidation)
        #: The SAML audience accepted besides AWS's sign-in URL (SELFIAM_SAML_AUDIENCE).
        self.saml_audience: str | None = None
        #: Where clients reach this server (SELFIAM_PUBLIC_URL): outbound tokens' issuer.
        self.public_url: str | None = None
        self.audit = AuditWriter(engine)
        self._reads = HeldReadConnection(engine)
        #: SQLite: a query costs microseconds of CPU and no wait (PostgreSQL: a round trip).
        self.local_database = engine.dialect.name == "sqlite"
        #: Whether cheap reads may run on the event loop (``read_inline``).
        self.inline_reads = InlineReads()
        self.invalidation.on_round_trip = self.inline_reads.round_trip
        self._reads.on_inline = self.inline_reads.inline_read
        #: principal id -> (stamp, compiled policies): filled only for callers
        #: authenticated by a verified signature (or an in-process caller), so at most one
        #: entry per user; bounded anyway (LRU) and reloaded after PRINCIPALS_MAX_AGE.
        self._principals: BoundedCache[str, tuple[int, PrincipalPolicies]] = BoundedCache(
            MAX_PRINCIPALS, PRINCIPALS_MAX_AGE
        )
        self._action_uses: BoundedCache[tuple[str, str], datetime] = BoundedCache(
            MAX_ACTION_USES, ACTION_USE_GRANULARITY.total_seconds()
        )
        #: Policy sets loaded from the database (tests count them).
        self.policy_loads = 0
        #: OpenID Connect issuers' keys (AssumeRoleWithWebIdentity), bounded and rate-limited.
        self.issuer_keys = IssuerKeys()

    @property
    def hasher(self) -> PasswordHasher:
        """The argon2id hasher for passwords (built on first use: it costs a hash)."""
        if self._hasher is None:
            self._hasher = default_hasher()
        return self._hasher

    @hasher.setter
    def hasher(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher

    # -- authentication -------------------------------------------------------------------

    def authenticate_access_key(
        self, access_key_id: str, scope: tuple[str, str, str], session_token: str | None = None
    ) -> tuple[Caller, bytes]:
        """The caller owning an active access key (or unexpired temporary credentials,
        with their ``session_token``), and its SigV4 signing key for ``scope``."""
        caller, signing_key, _ = self.authenticate_in_transaction(access_key_id, scope, session_token)
        return caller, signing_key

    def authenticate_in_transaction(
        self,
        access_key_id: str,
        scope: tuple[str, str, str],
        session_token: str | None = None,
        conn: Connection | None = None,
        verify: Callable[[bytes], None] | None = None,
    ) -> tuple[Caller, bytes, bool]:
        """As ``authenticate_access_key``, in ``conn`` (a ``read_session``) if given; the
        third value says the change feed was read in that transaction (``RequestInfo``'s
        ``feed_read``). ``verify`` checks the request's signature before anything is
        cached (``CredentialCache``)."""
        with nullcontext(conn) if conn is not None else read_transaction(self.engine) as c:
            self.invalidation.refresh(c)
            caller, signing_key = self.credentials.authenticate(
                c,
                access_key_id,
                scope,
                session_token=session_token,
                now=self.clock(),
                verify=verify,
            )
            return caller, signing_key, True

    def start_feed(self, wait: float = 5.0) -> None:
        """Listen to the change feed (PostgreSQL): cached callers are used only while it
        is up. Without it every request reads the database (correct, slower). Waits up to
        ``wait`` seconds for it to come up."""
        self.invalidation.start()
        if self.invalidation.postgres:
            self.invalidation.wait_until_trusted(wait)

    def close(self) -> None:
        """Stop the change feed's listener (PostgreSQL)."""
        self.invalidation.stop()

    def read_session(self) -> AbstractContextManager[Connection]:
        """One read transaction for a whole request: its authentication and, if the
        operation only reads, the operation (see ``invoke``'s ``conn``)."""
        return self._reads.transaction()

    async def write_turn(self) -> bool:
        """After a ``write_session(..., wait=False)`` refused with ``WouldWait.here``:
        wait, without blocking the event loop, until this process's other writers are
        done (True: try again), or give up after the write gate's own timeout (False)."""
        gate = gate_of(self.engine)
        return gate is not None and await free_turn(gate, gate.timeout)

    def read_inline(self) -> bool:
        """Whether a cheap read may run on the calling thread (the event loop's) without
        making it wait for more than the read's own queries (``store/inline_reads.py``):
        on SQLite unless forced off; on PostgreSQL while the database answers fast, the
        change feed is up (else the database may be away, and every cache is cold), the
        thread holds a connection needing no ping, and the audit queue is far from full
        (``submit`` would wait for the writer)."""
        inline = self.inline_reads
        if self.local_database:
            return inline.mode != "never"
        return (
            inline.allows()
            and self.invalidation.trusted()
            and not self.audit.crowded
            and self._reads.ready()
        )

    def write_session(
        self, service: str, name: str, *, wait: bool = True
    ) -> AbstractContextManager[Connection | None]:
        """One write transaction for a whole write request: its authentication and the
        operation (``invoke``'s ``conn``), committed when the block ends. A separate
        read transaction to authenticate cost a second BEGIN, version read and COMMIT
        (on PostgreSQL a second pool checkout and its ping). An operation with a
        ``prepare`` step (network work that must not hold a lock) or an unknown one gets
        None: ``invoke`` then opens its own transaction after ``prepare``.

        ``wait=False``: entering the block raises ``WouldWait``, before anything ran, if
        the transaction cannot start at once (``store.engine.transaction``), or if the
        operation would open its own transaction later, or if the audit queue is so full
        that the operation's ``submit`` could wait for the audit writer, which needs the
        write lock this transaction holds."""
        op = find_operation(service, name)
        if op is None or not op.writes or op.prepare is not None:
            if not wait:
                return _refused(f"{service}:{name} opens no write session")
            return nullcontext(None)
        if not wait and self.audit.crowded:
            return _refused("the audit queue is crowded")
        return transaction(self.engine, wait=wait)

    # -- authorization support --------------------------------------------------------------

    def principal_policies(
        self, conn: Connection, caller: Caller, feed_read: bool = False
    ) -> PrincipalPolicies:
        """The caller's policies, cached per principal until the change feed says that
        something they depend on changed (its user or role, a group, a managed policy).

        ``feed_read``: this request already read the feed in ``conn``'s transaction
        (at authentication); otherwise it is read now (SQLite; PostgreSQL's arrives by
        itself).
        """
        # A role's sessions share the role's policies (keyed by its AROA… id); each
        # session's own session policies travel in its Caller.
        # A federated user is limited by the policies of the IAM user who asked for it.
        principal_id = caller.role_id or caller.user_id or caller.origin_user_id
        assert principal_id is not None
        feed = self.invalidation
        if not feed_read:
            feed.refresh(conn)
        cached = self._principals.get(principal_id)
        if cached is not None and feed.fresh(cached[0], cached[1].depends_on):
            return cached[1]
        stamp = feed.stamp(conn)
        self.policy_loads += 1
        if caller.role_id is not None:
            loaded = load_role_policies(conn, caller.role_id)
            missing = f"The role with name {caller.role_name} cannot be found."
        else:
            loaded = load_user_policies(conn, principal_id)
            missing = f"The user with name {caller.user_name or principal_id} cannot be found."
        if loaded is None:
            raise NoSuchEntity(missing)
        self._principals.put(principal_id, (stamp, loaded))
        return loaded

    # -- invocation ----------------------------------------------------------------------

    def invoke(
        self,
        service: str,
        name: str,
        params: Mapping[str, Any],
        caller: Caller,
        info: RequestInfo,
        conn: Connection | None = None,
    ) -> dict[str, Any]:
        """Run one operation in one transaction; every request leaves an audit record.

        ``conn`` is the request's ``read_session`` or ``write_session``, if it has one: the
        operation runs in it (the transaction its caller was authenticated in), and the
        session commits it; a write given a read session runs in a write transaction of
        its own.
        """
        feed_read = info.feed_read
        op, info = self.admit(service, name, caller, info)
        action = f"{service}:{name}"
        in_session = conn is not None and (not op.writes or not is_read_only(conn))
        if in_session and feed_read and not info.feed_read:
            # a write in the write session its caller was authenticated in: that
            # transaction read the feed already (one statement less per write on SQLite)
            info = replace(info, feed_read=True)
        if conn is not None and in_session:
            begin: AbstractContextManager[Connection] = nullcontext(conn)
        elif op.writes:
            begin = transaction(self.engine)
        else:
            begin = read_transaction(self.engine)
        ctx: OperationContext | None = None
        refusal: AwsError | None = None
        published: int | None = None
        committed = False
        try:
            if op.prepare is not None:
                params = op.prepare(self, params, info)
            with begin as conn:
                ctx = OperationContext(self, conn, caller, info, action)
                try:
                    result = op.handler(ctx, params)
                except AwsError as err:
                    if not (op.writes and ctx.commit_on_error):
                        raise
                    # A failed secret check: its count commits, with the request's record.
                    refusal = err
                    published = self.invalidation.publish(conn, ctx.changes)
                    write_record(conn, self._record(ctx, caller, info, action, err))
                    if in_session:
                        conn.commit()  # the session's block ends with the error: no rollback
                else:
                    if ctx.decision is None and op.authorized:
                        raise InternalFailure(f"{action} ran without an authorization decision")
                    if op.writes:
                        published = self.invalidation.publish(conn, ctx.changes)
                        write_record(conn, self._record(ctx, caller, info, action, None))
                        if in_session:
                            # Commit here, not when the session closes: ``finish`` below
                            # applies the change and waits for the other nodes only once
                            # it is committed (its notification is sent at commit).
                            conn.commit()
                    else:
                        self.audit.submit(self._record(ctx, caller, info, action, None))
            committed = True
        except AwsError as err:
            if in_session and op.writes and conn is not None and conn.in_transaction():
                # Undo now, not when the session closes: the write lock is not held while
                # the record waits for room in the audit queue (whose writer needs it).
                conn.rollback()
            self.audit.submit(self._record(ctx, caller, info, action, err))
            raise
        finally:
            if published is not None:  # only a write publishes (store/change_feed.py)
                assert ctx is not None
                self.invalidation.finish(published, ctx.changes, committed=committed)
        if refusal is not None:
            raise refusal
        return result

    def admit(
        self, service: str, name: str, caller: Caller, info: RequestInfo
    ) -> tuple[Operation, RequestInfo]:
        """What every invocation checks before its transaction: the operation exists, the
        caller may call it at all, the key's use is noted; the ``info`` to run it with."""
        op = find_operation(service, name)
        if op is None:
            raise InvalidAction(f"Could not find operation {name} for version {_version(service)}")
        if (
            service == "iam"
            and caller.is_temporary
            and caller.role_id is None
            and caller.mfa_authenticated_at is None
        ):
            # AWS: GetSessionToken's credentials call no IAM operation unless obtained with MFA;
            # GetFederationToken's never do (they carry no MFA).
            error = InvalidClientTokenId(INVALID_TOKEN)
            self.audit.submit(self._record(None, caller, info, f"{service}:{name}", error))
            raise error
        if (
            caller.access_key_id
            and not caller.is_temporary
            and self.credentials.should_record_use(
                caller.access_key_id, info.service, info.region, info.now
            )
        ):
            self.audit.submit(KeyUse(caller.access_key_id, info.now, info.service, info.region))
        self._note_action_use(caller, f"{service}:{name}", info)
        if op.writes and info.feed_read:
            # a write decides in its own transaction (unless ``invoke`` runs it in the
            # session it was authenticated in): the feed is read again there
            info = replace(info, feed_read=False)
        return op, info

    def _note_action_use(self, caller: Caller, action: str, info: RequestInfo) -> None:
        """Service last accessed: a user's or a role session's authenticated attempt,
        whatever its decision, recorded at most once a minute per principal and action per
        process (AWS's own last-accessed data lags by hours)."""
        principal = caller.user_id or caller.role_id
        if principal is None or caller.federated_name is not None:
            return
        key = (principal, action)
        last = self._action_uses.get(key)
        if last is not None and timedelta(0) <= info.now - last < ACTION_USE_GRANULARITY:
            return
        self._action_uses.put(key, info.now)
        arn = (caller.role_arn or caller.arn) if caller.role_id else caller.arn
        self.audit.submit(
            ActionUse(caller.account_id, principal, arn, action, info.now, info.region)
        )

    def record_rejection(self, action: str, error: AwsError, info: RequestInfo) -> None:
        """Audit a request refused before any caller was established."""
        self.audit.submit(
            AuditRecord(
                at=info.now,
                request_id=info.request_id,
                account_id=None,
                caller_arn=None,
                action=action,
                resource=None,
                decision="error",
                error_code=error.code,
                source_ip=info.source_ip,
                user_agent=info.user_agent[:1024] if info.user_agent else None,
            )
        )

    @staticmethod
    def _record(
        ctx: OperationContext | None,
        caller: Caller,
        info: RequestInfo,
        action: str,
        error: AwsError | None,
    ) -> AuditRecord:
        decision = ctx.decision if ctx is not None and ctx.decision else "allowed"
        if error is not None and decision == "allowed":
            decision = "error"
        account_id, caller_arn = caller.account_id, caller.arn
        if ctx is not None and ctx.federated_principal is not None:
            # an unsigned request, once its token is verified, acts as its identity provider
            account_id, caller_arn = ctx.federated_principal
        return AuditRecord(
            at=info.now,
            request_id=info.request_id,
            account_id=account_id,
            caller_arn=caller_arn,
            action=action,
            resource=ctx.resource if ctx is not None else None,
            decision=decision,
            error_code=_audit_code(ctx, error),
            source_ip=info.source_ip,
            user_agent=info.user_agent[:1024] if info.user_agent else None,
        )


@contextmanager
def _refused(reason: str) -> Iterator[None]:
    raise WouldWait(reason)
    yield  # unreachable: a generator, so that entering the block raises


def _audit_code(ctx: OperationContext | None, error: AwsError | None) -> str | None:
    if error is None:
        return None
    return (ctx.audit_error_code if ctx is not None else None) or error.code


def _version(service: str) -> str:
    return "2011-06-15" if service == "sts" else "2010-05-08"
