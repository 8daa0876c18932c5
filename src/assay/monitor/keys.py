"""API keys of the monitoring service: roles, hashed storage, rotation, revocation, and a
verifier fast enough for the ingest path.

**Token format.** A key is handed out once, as a bearer token::

    amk_<id>_<secret>        e.g. amk_k3v9q2m7x0ab_Jx2…(43 characters)

``amk`` ("Assay monitor key") makes a leaked token easy to spot by secret scanners. ``<id>`` is
the public key id: 12 characters of ``[a-z0-9]`` (about 62 bits), stored in clear, printed by
``assay monitor keys list``, written to the access log and to ``events.key_id``. ``<secret>`` is
32 bytes from :mod:`secrets` in url-safe base64 (43 characters). The id holds no ``_``, so the
token splits unambiguously even when the secret contains one.

**Hashing.** Only a hash of the secret is stored: ``sha256$`` followed by the hex SHA-256 of
``amk-v1:<id>:<secret>`` (the id binds the hash to its row). A slow, salted KDF such as scrypt
or Argon2 exists to make guessing *human-chosen passwords* expensive after a database leak; a
secret of 256 random bits cannot be guessed whatever the hash costs, so a plain SHA-256 is
as safe here, and it keeps a verification at about a microsecond instead of the tens of
milliseconds an scrypt call with typical parameters costs — which would cap the ingest path at
a few dozen requests per second per core. A fast hash is the usual practice for
high-entropy, machine-generated API tokens such as these prefixed, GitHub- and Stripe-style
tokens. The ``sha256$`` prefix names the scheme so that another (for example a keyed HMAC
with a server-side pepper) can be added without breaking stored keys. Hashes are compared
with :func:`hmac.compare_digest`.

**Roles.** ``ingest`` posts events, labels, KPIs and predictions; ``read`` reads incidents,
actions, the route, metrics, the dashboard and events; ``admin`` can do everything, including
acknowledging and resolving incidents, key management and drills. ``read`` cannot ingest and
``ingest`` cannot read: a leaked ingest key on a model server exposes no traffic, and a
dashboard's read key cannot inject events. See :func:`allows`.

**Rotation and revocation.** :func:`rotate_key` creates a key with the same name, role and
rate and marks the old one ``replaced_by`` the new one. The old key is revoked at once, or,
with ``grace_s``, at ``now + grace_s`` so clients can be redeployed: ``revoked_at`` may lie in
the future, and a key counts as revoked from that moment. :func:`revoke_key` revokes at once
(and cuts a running grace period short). Revocations in force are also written to the
``revoked_keys`` table (served by ``GET /v1/keys/revoked``, read by the service's own
revocation check): :func:`revoke_key` and a rotation without grace period write it; a key in
its grace period is not listed. A key listed there is refused from its ``revoked_at`` even if
``api_keys`` says otherwise, so the ``revoke_keys`` action can record revocations there
directly. Revocation is final: no function un-revokes a key.

**Verification.** :class:`KeyVerifier` caches what it read about a key for ``cache_ttl``
seconds (default 5), so a request costs a regular-expression match, a SHA-256 and a dict
lookup — a few microseconds — and touches the database only on a miss. Revocations made in
this process (by :func:`revoke_key`, :func:`rotate_key` or :meth:`KeyVerifier.revoke`) drop the
key from every verifier of the process at once, and again when the transaction commits. Other
replicas (other processes, other hosts) see a revocation when their cache entry expires:
within ``cache_ttl`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import string
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine, bindparam, event, func, select

from assay.errors import AssayError
from assay.monitor.clock import Clock
from assay.monitor.store.schema import api_keys, revoked_keys

Role = Literal["ingest", "read", "admin"]
ROLES: Final[tuple[Role, ...]] = ("ingest", "read", "admin")
"""The roles a key can have. ``admin`` can do everything; ``read`` and ``ingest`` are
disjoint."""

Reason = Literal["missing", "malformed", "unknown", "revoked", "bad_secret"]
"""Why a token was refused: ``missing`` (no token), ``malformed`` (not an ``amk_`` token),
``unknown`` (no key has the id), ``revoked`` (the right secret of a revoked key), ``bad_secret``
(a known id with the wrong secret)."""

PREFIX: Final = "amk"
ID_LENGTH: Final = 12
SECRET_BYTES: Final = 32
SECRET_LENGTH: Final = 43  # url-safe base64 of 32 bytes, unpadded
TOKEN_LENGTH: Final = len(PREFIX) + 1 + ID_LENGTH + 1 + SECRET_LENGTH
HASH_SCHEME: Final = "sha256"

_ID_ALPHABET: Final = string.ascii_lowercase + string.digits
_TOKEN: Final = re.compile(
    rf"{PREFIX}_([a-z0-9]{{{ID_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})", re.ASCII
)
_KEY_ID: Final = re.compile(rf"[a-z0-9]{{{ID_LENGTH}}}", re.ASCII)
_NAME_MAX: Final = 200
_DEFAULT_REASON: Final = "revoked by an administrator"


class KeyManagementError(AssayError):
    """A key cannot be created, rotated or revoked as asked (bad role, name, rate, state)."""


class UnknownKeyError(KeyManagementError, KeyError):
    """No key has the given id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


# ------------------------------------------------------------------------------------ roles


def allows(role: str, needed: str) -> bool:
    """Whether a key of ``role`` may call an endpoint that needs ``needed``.

    ``admin`` may do everything; otherwise the roles must match (``read`` cannot ingest,
    ``ingest`` cannot read). A role that is not in :data:`ROLES` (a damaged row) allows
    nothing. ``needed`` must be a role: a typo there is a programming error (``ValueError``).
    """
    if needed not in ROLES:
        raise ValueError(f"{needed!r} is not a role; roles: {', '.join(ROLES)}")
    return role == "admin" or role == needed


# ------------------------------------------------------------------------------ key records


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A stored key, without its hash. ``revoked_at`` is the effective revocation time (the
    earlier of ``api_keys.revoked_at`` and the key's ``revoked_keys`` entry); it lies in the
    future while a rotated key's grace period runs."""

    id: str
    name: str
    role: str
    created: float
    revoked_at: float | None = None
    replaced_by: str | None = None
    rate_per_second: float | None = None

    def status(self, now: float) -> Literal["active", "expiring", "revoked"]:
        """``active``; ``expiring`` (rotated, still valid until ``revoked_at``); ``revoked``."""
        if self.revoked_at is None:
            return "active"
        return "revoked" if self.revoked_at <= now else "expiring"

    def is_valid(self, now: float) -> bool:
        return self.revoked_at is None or self.revoked_at > now

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created": self.created,
            "revoked_at": self.revoked_at,
            "replaced_by": self.replaced_by,
            "rate_per_second": self.rate_per_second,
        }


def _effective(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.role,
    api_keys.c.hash,
    api_keys.c.created,
    api_keys.c.revoked_at,
    api_keys.c.replaced_by,
    api_keys.c.rate_per_second,
    revoked_keys.c.revoked_at.label("listed_at"),
)
_KEYS_JOINED = api_keys.outerjoin(revoked_keys, revoked_keys.c.key_id == api_keys.c.id)
_SELECT_KEYS = select(*_KEY_COLUMNS).select_from(_KEYS_JOINED)
_SELECT_ONE = _SELECT_KEYS.where(api_keys.c.id == bindparam("key_id"))


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        name=row.name,
        role=row.role,
        created=row.created,
        revoked_at=_effective(row.revoked_at, row.listed_at),
        replaced_by=row.replaced_by,
        rate_per_second=row.rate_per_second,
    )


def list_keys(conn: Connection) -> list[KeyInfo]:
    """Every key, revoked ones included, oldest first. Hashes are never returned."""
    rows = conn.execute(_SELECT_KEYS.order_by(api_keys.c.created, api_keys.c.id))
    return [_info(row) for row in rows]


def get_key(conn: Connection, key_id: str) -> KeyInfo:
    """The key ``key_id``; :class:`UnknownKeyError` if no key has that id."""
    row = conn.execute(_SELECT_ONE, {"key_id": key_id}).first()
    if row is None:
        raise _unknown(conn, key_id)
    return _info(row)


def _unknown(conn: Connection, key_id: str) -> UnknownKeyError:
    count = conn.execute(select(func.count()).select_from(api_keys)).scalar_one()
    hint = "" if _KEY_ID.fullmatch(key_id) else f" A key id is {ID_LENGTH} characters a-z, 0-9."
    if key_id.startswith(f"{PREFIX}_"):
        hint = " Pass the key id (the 12 characters after 'amk_'), not the whole token."
    known = f"{count} key(s) exist" if count else "no keys exist yet"
    return UnknownKeyError(
        f"no API key has id {key_id!r} ({known}).{hint} "
        "Run `assay monitor keys list` to see the ids."
    )


# ------------------------------------------------------------------------- tokens and hashes


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def _digest(key_id: str, secret: str) -> bytes:
    return hashlib.sha256(f"amk-v1:{key_id}:{secret}".encode()).digest()


def hash_secret(key_id: str, secret: str) -> str:
    """The stored form of a key's secret: ``sha256$<hex>``."""
    return f"{HASH_SCHEME}${_digest(key_id, secret).hex()}"


def _stored_digest(stored: str) -> bytes | None:
    scheme, _, hexed = stored.partition("$")
    if scheme != HASH_SCHEME:
        return None
    try:
        return bytes.fromhex(hexed)
    except ValueError:
        return None


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else ``None``."""
    if len(token) != TOKEN_LENGTH:
        return None
    match = _TOKEN.fullmatch(token)
    return None if match is None else (match[1], match[2])


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value (``None`` if absent or
    another scheme)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


# ---------------------------------------------------------------------- creating and revoking


def validate_name(name: str) -> str:
    """``name`` stripped; :class:`KeyManagementError` if empty, too long or unprintable."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > _NAME_MAX or any(not c.isprintable() for c in cleaned):
        raise KeyManagementError(
            f"key name {name!r} is not usable: give 1 to {_NAME_MAX} printable characters "
            "that say who or what holds the key, for example --name model-server-eu."
        )
    return cleaned


def validate_role(role: str) -> Role:
    """``role`` if it is one of :data:`ROLES`; :class:`KeyManagementError` naming them if not."""
    for known in ROLES:
        if role == known:
            return known
    raise KeyManagementError(
        f"role {role!r} is not a key role. Use one of {', '.join(ROLES)} "
        "(ingest: post events; read: dashboards and scrapes; admin: everything)."
    )


def validate_rate(rate: float | None) -> float | None:
    """A key's own rate: ``None`` or a positive finite number of requests per second."""
    if rate is None:
        return None
    if not math.isfinite(rate) or rate <= 0:
        raise KeyManagementError(
            f"rate {rate!r} is not a rate: give a positive number of requests per second "
            "(for example --rate 50), or leave it out to use the spec's monitor.limits."
        )
    return float(rate)


def create_key(
    conn: Connection,
    *,
    name: str,
    role: str,
    now: float,
    rate_per_second: float | None = None,
) -> tuple[KeyInfo, str]:
    """Store a new key and return it with its token — the only time the token exists outside
    the caller: only its hash is stored."""
    info = KeyInfo(
        id="",
        name=validate_name(name),
        role=validate_role(role),
        created=now,
        rate_per_second=validate_rate(rate_per_second),
    )
    return _insert(conn, info)


def _insert(conn: Connection, template: KeyInfo) -> tuple[KeyInfo, str]:
    for _ in range(8):  # 36**12 ids: a collision is astronomically rare, but cheap to handle
        key_id = _new_id()
        if conn.execute(_SELECT_ONE, {"key_id": key_id}).first() is None:
            break
    else:  # pragma: no cover - needs eight collisions in a row
        raise KeyManagementError("could not draw an unused key id; try again")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    conn.execute(
        api_keys.insert().values(
            id=key_id,
            name=template.name,
            role=template.role,
            hash=hash_secret(key_id, secret),
            created=template.created,
            revoked_at=None,
            replaced_by=None,
            rate_per_second=template.rate_per_second,
        )
    )
    info = KeyInfo(
        id=key_id,
        name=template.name,
        role=template.role,
        created=template.created,
        rate_per_second=template.rate_per_second,
    )
    return info, f"{PREFIX}_{key_id}_{secret}"


def bootstrap_admin(
    conn: Connection, *, name: str, now: float, force: bool = False
) -> tuple[KeyInfo, str]:
    """The first admin key, for ``assay monitor keys bootstrap``. Refuses while a valid admin
    key exists (revoked ones do not count, so this is also how access is regained after every
    admin key was revoked), unless ``force``."""
    admins = [k for k in list_keys(conn) if k.role == "admin" and k.is_valid(now)]
    if admins and not force:
        named = ", ".join(f"{k.id} ({k.name})" for k in admins)
        raise KeyManagementError(
            f"an admin key already exists: {named}. Use it to create more keys "
            "(`assay monitor keys create --role admin`), or pass --force to add another "
            "admin key anyway."
        )
    return create_key(conn, name=name, role="admin", now=now)


def rotate_key(
    conn: Connection, key_id: str, *, now: float, grace_s: float = 0.0
) -> tuple[KeyInfo, str]:
    """Replace ``key_id`` with a new key of the same name, role and rate.

    The old key is marked ``replaced_by`` the new one and revoked at ``now + grace_s``: at
    once by default (and listed in ``revoked_keys``), or after a grace period in which both
    tokens work, so the clients can be redeployed with the new token first (``revoked_keys``
    lists only revocations in force, so a key in its grace period is not listed there).
    Rotating a revoked or already rotated key is refused.
    """
    if not math.isfinite(grace_s) or grace_s < 0:
        raise KeyManagementError(
            f"grace period {grace_s!r} is not usable: give zero or a positive number of seconds."
        )
    old = get_key(conn, key_id)
    if old.replaced_by is not None:
        raise KeyManagementError(
            f"key {key_id} was already rotated: it is replaced by {old.replaced_by}. "
            f"Rotate {old.replaced_by} instead."
        )
    if not old.is_valid(now):
        raise KeyManagementError(
            f"key {key_id} is revoked; rotating it would bring its access back. Create a new "
            f"key instead: `assay monitor keys create --name {old.name!r} --role {old.role}`."
        )
    template = KeyInfo(
        id="", name=old.name, role=old.role, created=now, rate_per_second=old.rate_per_second
    )
    new, token = _insert(conn, template)
    revoked_at = now + grace_s
    conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id)
        .values(revoked_at=revoked_at, replaced_by=new.id)
    )
    if grace_s == 0:
        _list_revocation(conn, key_id, revoked_at, f"rotated: replaced by {new.id}", None)
    # With a grace period the old key is not listed in revoked_keys: a key listed there counts
    # as revoked now (the service and the revoke_keys action read the table that way); its
    # end is api_keys.revoked_at, which the verifier and `keys list` honour.
    _invalidate_now_and_on_commit(conn, key_id)
    return new, token


def revoke_key(
    conn: Connection,
    key_id: str,
    *,
    now: float,
    reason: str = _DEFAULT_REASON,
    incident_id: int | None = None,
) -> KeyInfo:
    """Revoke ``key_id`` at ``now`` (cutting a rotation's grace period short) and list it in
    ``revoked_keys``. Revoking a revoked key changes nothing. Verifiers of this process drop
    the key at once."""
    info = get_key(conn, key_id)
    if info.revoked_at is not None and info.revoked_at <= now:
        return info
    conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=now))
    _list_revocation(conn, key_id, now, reason, incident_id)
    _invalidate_now_and_on_commit(conn, key_id)
    return KeyInfo(
        id=info.id,
        name=info.name,
        role=info.role,
        created=info.created,
        revoked_at=now,
        replaced_by=info.replaced_by,
        rate_per_second=info.rate_per_second,
    )


def _list_revocation(
    conn: Connection, key_id: str, when: float, reason: str, incident_id: int | None
) -> None:
    """Insert or update the key's ``revoked_keys`` row (portable: no dialect upsert)."""
    existing = conn.execute(
        select(revoked_keys.c.incident_id).where(revoked_keys.c.key_id == key_id)
    ).first()
    if existing is None:
        conn.execute(
            revoked_keys.insert().values(
                key_id=key_id, revoked_at=when, reason=reason, incident_id=incident_id
            )
        )
    else:
        conn.execute(
            revoked_keys.update()
            .where(revoked_keys.c.key_id == key_id)
            .values(
                revoked_at=when,
                reason=reason,
                incident_id=incident_id if incident_id is not None else existing.incident_id,
            )
        )


# ------------------------------------------------------------------------------ verification


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

    Local revocations (:func:`revoke_key`, :func:`rotate_key`, :meth:`revoke`) invalidate the
    key in every verifier of the process at once; other processes see them within
    ``cache_ttl``. Thread-safe.
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
        """Check ``token`` (an ``amk_`` token, not the header: see :func:`bearer_token`)."""
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
        with self._engine.begin() as conn:
            info = revoke_key(
                conn, key_id, now=self._clock.now(), reason=reason, incident_id=incident_id
            )
        self.invalidate(key_id)
        return info
