"""API key records and tokens: roles, the stored key rows, the token format and the hash of a
secret — what key management (:mod:`assay.monitor.keys`) and the verifier
(:mod:`assay.monitor.key_verification`) share. Every public name is importable from
:mod:`assay.monitor.keys`.

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
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, bindparam, func, select

from assay.errors import AssayError
from assay.monitor.store.schema import api_keys, revoked_keys

Role = Literal["ingest", "read", "admin"]
ROLES: Final[tuple[Role, ...]] = ("ingest", "read", "admin")
"""The roles a key can have. ``admin`` can do everything; ``read`` and ``ingest`` are
disjoint."""

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
