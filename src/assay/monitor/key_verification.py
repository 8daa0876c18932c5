"""Verification of API keys: :class:`KeyVerifier` checks bearer tokens on the request path,
and the process-wide invalidation that key revocations use. Every public name is importable
from :mod:`assay.monitor.keys`.

**Verification.** :class:`KeyVerifier` caches what it read about a key for ``cache_ttl``
seconds (default 5), so a request costs a regular-expression match, a SHA-256 and a dict
lookup — a few microseconds — and touches the database only on a miss. Revocations made in
this process (by :func:`~assay.monitor.keys.revoke_key`, :func:`~assay.monitor.keys.rotate_key`
or :meth:`KeyVerifier.revoke`) drop the key from every verifier of the process at once, and
again when the transaction commits. Other replicas (other processes, other hosts) see a
revocation when their cache entry expires: within ``cache_ttl`` seconds.
"""

from __future__ import annotations

import hmac
import math
import threading
import weakref
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import Connection, Engine, event

from assay.monitor.clock import Clock
from assay.monitor.key_records import (
    _DEFAULT_REASON,
    _SELECT_ONE,
    _TOKEN,
    TOKEN_LENGTH,
    KeyInfo,
    _digest,
    _info,
    _stored_digest,
)

Reason = Literal["missing", "malformed", "unknown", "revoked", "bad_secret"]
"""Why a token was refused: ``missing`` (no token), ``malformed`` (not an ``amk_`` token),
``unknown`` (no key has the id), ``revoked`` (the right secret of a revoked key), ``bad_secret``
(a known id with the wrong secret)."""


@dataclass(frozen=True, slots=True)
class Verified:
    """A token that belongs to a valid key."""

    key_id: str
    name: str
    role: str
    rate_per_second: float | None = None

    @property
    def ok(self) -> Literal[True]:
        return True


@dataclass(frozen=True, slots=True)
class Failure:
    """A refused token: why, and the key id it named (``None`` when it named none)."""

    reason: Reason
    key_id: str | None = None

    @property
    def ok(self) -> Literal[False]:
        return False


_MISSING: Final = Failure("missing")
_MALFORMED: Final = Failure("malformed")


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes | None  # None: a stored hash of an unknown scheme, never matches
    revoked_at: float | None
    expires: float
    verified: Verified


_VERIFIERS: weakref.WeakSet[KeyVerifier] = weakref.WeakSet()
_VERIFIERS_LOCK = threading.Lock()


def _invalidate_everywhere(key_id: str) -> None:
    with _VERIFIERS_LOCK:
        verifiers = list(_VERIFIERS)
    for verifier in verifiers:
        verifier.invalidate(key_id)


def _invalidate_now_and_on_commit(conn: Connection, key_id: str) -> None:
    """Drop the key from this process's verifiers now, and again once the change commits:
    a verifier that reads the row between now and the commit still sees the old row."""
    _invalidate_everywhere(key_id)
    if conn.in_transaction():
        event.listen(conn, "commit", lambda _conn: _invalidate_everywhere(key_id), once=True)


class KeyVerifier:
    """Checks bearer tokens against ``api_keys``, with an in-memory cache.

    What a lookup finds (the key's hash, role and revocation time) is cached for
    ``cache_ttl`` seconds on ``clock``; keys found revoked stay cached (revocation is final).
    Tokens and secrets are never cached, only the stored hash. A cache hit costs a few
    microseconds; a miss costs one primary-key query (a blocking call: tens of microseconds on
    SQLite, about a round trip on PostgreSQL). Unknown ids are not cached, so a key created
    on another replica works at once.

    Local revocations (:func:`~assay.monitor.keys.revoke_key`,
    :func:`~assay.monitor.keys.rotate_key`, :meth:`revoke`) invalidate the key in every
    verifier of the process at once; other processes see them within ``cache_ttl``.
    Thread-safe.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        cache_ttl: float = 5.0,
        max_entries: int = 10_000,
    ) -> None:
        if not cache_ttl >= 0:
            raise ValueError(f"cache_ttl must be zero or positive, got {cache_ttl}")
        self._engine = engine
        self._clock = clock
        self.cache_ttl = cache_ttl
        self._max_entries = max(1, max_entries)
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self.lookups = 0
        """Database lookups so far (cache misses)."""
        with _VERIFIERS_LOCK:
            _VERIFIERS.add(self)

    def verify(self, token: str | None) -> Verified | Failure:
        """Check ``token`` (an ``amk_`` token, not the header: see
        :func:`~assay.monitor.keys.bearer_token`)."""
        if not token:
            return _MISSING
        if len(token) != TOKEN_LENGTH:
            return _MALFORMED
        match = _TOKEN.fullmatch(token)
        if match is None:
            return _MALFORMED
        key_id = match[1]
        now = self._clock.now()
        entry = self._cache.get(key_id)
        if entry is None or entry.expires <= now:
            entry = self._load(key_id, now)
            if entry is None:
                return Failure("unknown", key_id)
        digest = _digest(key_id, match[2])
        if entry.digest is None or not hmac.compare_digest(digest, entry.digest):
            return Failure("bad_secret", key_id)
        if entry.revoked_at is not None and entry.revoked_at <= now:
            return Failure("revoked", key_id)
        return entry.verified

    def is_active(self, key_id: str) -> bool:
        """Whether ``key_id`` names a key that exists and is not revoked (for a dashboard
        session, which carries the key's id but not its secret); cached like :meth:`verify`."""
        now = self._clock.now()
        entry = self._cache.get(key_id)
        if entry is None or entry.expires <= now:
            entry = self._load(key_id, now)
            if entry is None:
                return False
        return entry.revoked_at is None or entry.revoked_at > now

    def _load(self, key_id: str, now: float) -> _Entry | None:
        generation = self._generation
        with self._engine.connect() as conn:
            row = conn.execute(_SELECT_ONE, {"key_id": key_id}).first()
        with self._lock:
            self.lookups += 1
        if row is None:
            return None
        info = _info(row)
        revoked = info.revoked_at is not None and info.revoked_at <= now
        expires = math.inf if revoked else now + self.cache_ttl
        if info.revoked_at is not None and not revoked:
            expires = min(expires, info.revoked_at)  # re-read when the grace period ends
        entry = _Entry(
            digest=_stored_digest(row.hash),
            revoked_at=info.revoked_at,
            expires=expires,
            verified=Verified(info.id, info.name, info.role, info.rate_per_second),
        )
        with self._lock:
            if self._generation == generation:  # no invalidation raced with the read
                if len(self._cache) >= self._max_entries:
                    self._evict(now)
                self._cache[key_id] = entry
        return entry

    def _evict(self, now: float) -> None:
        """Drop expired entries, then the oldest half if the cache is still full."""
        live = {k: e for k, e in self._cache.items() if e.expires > now}
        if len(live) >= self._max_entries:
            keep = list(live.items())[len(live) // 2 :]
            live = dict(keep)
        self._cache = live

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget ``key_id`` (or everything): the next verification reads the database."""
        with self._lock:
            self._generation += 1
            if key_id is None:
                self._cache = {}
            else:
                self._cache.pop(key_id, None)

    def revoke(
        self, key_id: str, *, reason: str = _DEFAULT_REASON, incident_id: int | None = None
    ) -> KeyInfo:
        """Revoke ``key_id`` now (on the verifier's clock) in a transaction of its own; the
        key is refused from the moment this returns."""
        # Imported here: assay.monitor.keys imports this module (for the invalidation helpers
        # and to re-export the verifier), so a module-level import would be a cycle.
        from assay.monitor.keys import revoke_key

        with self._engine.begin() as conn:
            info = revoke_key(
                conn, key_id, now=self._clock.now(), reason=reason, incident_id=incident_id
            )
        self.invalidate(key_id)
        return info
