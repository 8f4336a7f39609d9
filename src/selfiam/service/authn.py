"""Authentication of access keys, with caches that stay right across processes.

Every entry is stamped when it is loaded and lists the change keys it depends on
(its access key, its user's credentials, its user or role, the managed policies of
its session): the change feed (service/invalidation.py, DESIGN rule 7) refuses it
once any of them changed, so a deleted user or deactivated key is refused by every
process on its very next request, and a change to another user reloads nothing.
Secrets are decrypted only on a cache miss, and only to derive SigV4 signing keys.

Temporary credentials (``ASIA…`` keys from GetSessionToken) must come with
their session token, and long-term keys without one. The token is checked
against its stored SHA-256 in constant time, and the expiry against the clock
on every request: neither is cached away. A deleted user's sessions go with
the user's row (FK cascade) and the user's change key, at once. Role sessions
(AssumeRole) are loaded by :mod:`selfiam.service.role_sessions` and end the same
way with their role or with the user who started them; federated users
(GetFederationToken) by :mod:`selfiam.service.federation_sessions`.

Every cache here is bounded (DESIGN rule 8) and filled only once a request's
signature has been verified: ``authenticate`` derives the scope's signing key,
hands it to the caller's ``verify`` and stores the entry and the key only if
that returns. The entries (``MAX_KEYS`` access keys, each with at most
``MAX_SCOPES`` signing keys) are forgotten ``ENTRY_MAX_AGE`` seconds after they
were loaded; the key-use stamps, keyed by key, service and region (regions are
checked against AWS's list before this point), hold ``MAX_KEY_USES`` entries.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.auth.secretbox import SecretBox
from selfiam.auth.sigv4 import derive_signing_key
from selfiam.domain.arns import user_arn
from selfiam.domain.errors import ExpiredToken, InvalidClientTokenId
from selfiam.domain.identifiers import TEMPORARY_ACCESS_KEY_PREFIX
from selfiam.service.bounded import BoundedCache
from selfiam.service.caller import Caller
from selfiam.service.federation_sessions import load_federation_session
from selfiam.service.invalidation import Invalidation
from selfiam.service.principals import load_user_tags
from selfiam.service.role_sessions import load_role_session
from selfiam.store import change_feed as feed
from selfiam.store import tables as t

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
KEY_USE_GRANULARITY = timedelta(minutes=1)
#: Access keys whose caller and signing keys a process keeps, least recently used out first.
MAX_KEYS = 10_000
#: Signing keys kept per access key: one per (date, region, service) in use; a client
#: signs for one or two regions and services, and two dates around midnight.
MAX_SCOPES = 8
#: Seconds an entry is kept after it was loaded (a reload costs one query and a decryption).
ENTRY_MAX_AGE = 15 * 60.0
#: Key-use stamps (per key, service and region) and latest uses (per key) kept.
MAX_KEY_USES = 20_000
#: Seconds a latest use is kept: the audit writer stores it in the database within
#: milliseconds, and GetAccessKeyLastUsed reads it there afterwards.
LATEST_USE_MAX_AGE = 5 * 60.0

Scope = tuple[str, str, str]


def _signing_keys() -> BoundedCache[Scope, bytes]:
    return BoundedCache(MAX_SCOPES, ENTRY_MAX_AGE)


@dataclass
class _KeyEntry:
    caller: Caller
    secret: str
    stamp: int = 0
    depends_on: tuple[str, ...] = ()
    signing_keys: BoundedCache[Scope, bytes] = field(default_factory=_signing_keys)
    # Temporary credentials only:
    token_sha256: bytes | None = None
    expires_at: datetime | None = None


class CredentialCache:
    """access key id -> (caller, signing keys), until the change feed says otherwise
    (bounds: see the module's docstring)."""

    def __init__(
        self,
        box: SecretBox,
        invalidation: Invalidation,
        *,
        max_keys: int = MAX_KEYS,
        max_key_uses: int = MAX_KEY_USES,
    ) -> None:
        self._box = box
        self._feed = invalidation
        #: Entries loaded from the database (tests count them).
        self.loads = 0
        self._entries: BoundedCache[str, _KeyEntry] = BoundedCache(max_keys, ENTRY_MAX_AGE)
        self._last_use: BoundedCache[tuple[str, str, str], datetime] = BoundedCache(
            max_key_uses, KEY_USE_GRANULARITY.total_seconds()
        )
        self._latest_use: BoundedCache[str, tuple[datetime, str, str]] = BoundedCache(
            max_key_uses, LATEST_USE_MAX_AGE
        )

    def authenticate(
        self,
        conn: Connection,
        access_key_id: str,
        scope: Scope,
        *,
        session_token: str | None = None,
        now: datetime | None = None,
        verify: Callable[[bytes], None] | None = None,
    ) -> tuple[Caller, bytes]:
        """The caller behind ``access_key_id`` and the signing key for ``scope``
        (date, region, service).

        InvalidClientTokenId if the key is unknown or inactive, if a temporary key
        comes without its session token (or with another one), or a long-term key
        with one; ExpiredToken if temporary credentials expired before ``now``.
        ``verify`` checks the request's signature with the signing key and raises if
        it does not match; nothing is cached unless it returns. Without it, the
        caller vouches for the request itself (in-process callers and tests).
        """
        temporary = access_key_id.startswith(TEMPORARY_ACCESS_KEY_PREFIX)
        if temporary != (session_token is not None):
            raise InvalidClientTokenId(INVALID_TOKEN)
        entry = self._entries.get(access_key_id)
        loaded = False
        if entry is None or not self._feed.fresh(entry.stamp, entry.depends_on, credentials=True):
            stamp = self._feed.stamp(conn)
            self.loads += 1
            load = self._load_session if temporary else self._load
            entry, loaded = load(conn, access_key_id), True
            entry.stamp, entry.depends_on = stamp, _depends_on(entry.caller)
        if session_token is not None:
            self._check_session(access_key_id, entry, session_token, now)
        key = entry.signing_keys.get(scope)
        derived = key is None
        if key is None:
            key = derive_signing_key(entry.secret, *scope)
        if verify is not None:
            verify(key)
        if derived:
            entry.signing_keys.put(scope, key)
        if loaded:
            self._entries.put(access_key_id, entry)
        return entry.caller, key

    def sizes(self) -> tuple[int, int, int, int]:
        """(access keys, signing keys over all of them, key-use stamps, latest uses) held."""
        entries = self._entries.values()
        scopes = sum(len(entry.signing_keys) for entry in entries)
        return len(entries), scopes, len(self._last_use), len(self._latest_use)

    def _load(self, conn: Connection, access_key_id: str) -> _KeyEntry:
        ak, u = t.access_keys, t.users
        row = conn.execute(
            select(
                ak.c.secret_ciphertext, ak.c.status, u.c.user_id, u.c.name, u.c.path, u.c.account_id
            )
            .select_from(ak.join(u, ak.c.user_id == u.c.user_id))
            .where(ak.c.access_key_id == access_key_id)
        ).first()
        if row is None or row.status != "Active":
            raise InvalidClientTokenId(INVALID_TOKEN)
        caller, secret = self._owner(conn, row, access_key_id)
        return _KeyEntry(caller, secret)

    def _owner(
        self, conn: Connection, row: Any, access_key_id: str, **session: Any
    ) -> tuple[Caller, str]:
        """The user a key row (joined with its user) belongs to, as a Caller, and the
        key's secret, decrypted; ``session`` adds temporary credentials' own fields."""
        secret = self._box.open(row.secret_ciphertext, access_key_id.encode()).decode()
        caller = Caller(
            account_id=row.account_id,
            arn=user_arn(row.account_id, row.name, row.path),
            user_id=row.user_id,
            user_name=row.name,
            access_key_id=access_key_id,
            principal_tags=load_user_tags(conn, row.user_id),
            **session,
        )
        return caller, secret

    def _check_session(
        self, access_key_id: str, entry: _KeyEntry, token: str, now: datetime | None
    ) -> None:
        assert entry.token_sha256 is not None and entry.expires_at is not None
        if now is None:
            raise ValueError("temporary credentials are checked against the clock: pass now")
        digest = hashlib.sha256(token.encode()).digest()
        if not hmac.compare_digest(digest, entry.token_sha256):
            raise InvalidClientTokenId(INVALID_TOKEN)
        if now >= entry.expires_at:
            self._entries.pop(access_key_id)
            raise ExpiredToken(EXPIRED_TOKEN)

    def _load_session(self, conn: Connection, access_key_id: str) -> _KeyEntry:
        s, u = t.sts_sessions, t.users
        row = conn.execute(
            select(
                s.c.secret_ciphertext,
                s.c.session_token_sha256,
                s.c.mfa_authenticated_at,
                s.c.expires_at,
                s.c.created_at,
                u.c.user_id,
                u.c.name,
                u.c.path,
                u.c.account_id,
            )
            .select_from(s.join(u, s.c.user_id == u.c.user_id))
            .where(s.c.access_key_id == access_key_id)
        ).first()
        if row is None:
            return self._load_role_session(conn, access_key_id)
        caller, secret = self._owner(
            conn,
            row,
            access_key_id,
            session_token_id=access_key_id,
            mfa_authenticated_at=row.mfa_authenticated_at,
            token_issued_at=row.created_at,  # aws:TokenIssueTime
        )
        return _KeyEntry(
            caller,
            secret,
            token_sha256=bytes.fromhex(row.session_token_sha256),
            expires_at=row.expires_at,
        )

    def _load_role_session(self, conn: Connection, access_key_id: str) -> _KeyEntry:
        loaded = load_role_session(conn, self._box, access_key_id)
        if loaded is None:
            loaded = load_federation_session(conn, self._box, access_key_id)
        if loaded is None:
            raise InvalidClientTokenId(INVALID_TOKEN)
        return _KeyEntry(
            loaded.caller,
            loaded.secret,
            token_sha256=loaded.token_sha256,
            expires_at=loaded.expires_at,
        )

    def should_record_use(
        self, access_key_id: str, service: str, region: str, now: datetime
    ) -> bool:
        """Record a key's last use at most once a minute per service and region per process."""
        k = (access_key_id, service, region)
        last = self._last_use.get(k)
        if last is not None and now - last < KEY_USE_GRANULARITY:
            return False
        self._last_use.put(k, now)
        self._latest_use.put(access_key_id, (now, service, region))
        return True

    def recorded_use(self, access_key_id: str) -> tuple[datetime, str, str] | None:
        """The latest use of a key this process recorded: (when, service, region).

        It reaches the database with the audit writer's next batch, a few
        milliseconds later; until then only this process knows it.
        """
        return self._latest_use.get(access_key_id)


def _depends_on(caller: Caller) -> tuple[str, ...]:
    """The change keys a cached caller depends on: its access key, its user (as a user and
    as credentials), its role, the user who started its session, its session's managed
    policies."""
    found = [feed.key(feed.ACCESS_KEY, caller.access_key_id or "")]
    for user_id in dict.fromkeys(u for u in (caller.user_id, caller.origin_user_id) if u):
        found += (feed.key(feed.USER, user_id), feed.key(feed.CREDENTIALS, user_id))
    if caller.role_id:
        found.append(feed.key(feed.ROLE, caller.role_id))
    if caller.session_policies is not None:
        found += (
            feed.key(feed.POLICY, p.policy_id)
            for p in caller.session_policies.policies
            if p.policy_id.startswith("arn:")
        )
    return tuple(found)
