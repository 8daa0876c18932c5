"""API keys of the monitoring service: roles, hashed storage, rotation, revocation, and a
verifier fast enough for the ingest path.

This module creates, rotates and revokes keys. Roles, the stored key records, the token format
and the hashing of secrets are in :mod:`assay.monitor.key_records`; :class:`KeyVerifier`, which
checks tokens on the request path, is in :mod:`assay.monitor.key_verification`. Every public
name of both is importable from here.

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

Revocations made in this process drop the key from every verifier of the process at once (see
:mod:`assay.monitor.key_verification`).
"""

from __future__ import annotations

import math
import secrets
from typing import Final

from sqlalchemy import Connection, select

from assay.monitor.key_records import (
    _DEFAULT_REASON,
    _SELECT_ONE,
    HASH_SCHEME,
    ID_LENGTH,
    PREFIX,
    ROLES,
    SECRET_BYTES,
    SECRET_LENGTH,
    TOKEN_LENGTH,
    KeyInfo,
    KeyManagementError,
    Role,
    UnknownKeyError,
    _new_id,
    allows,
    bearer_token,
    get_key,
    hash_secret,
    list_keys,
    parse_token,
)
from assay.monitor.key_verification import (
    Failure,
    KeyVerifier,
    Reason,
    Verified,
    _invalidate_now_and_on_commit,
)
from assay.monitor.store.schema import api_keys, revoked_keys

__all__ = [
    "HASH_SCHEME",
    "ID_LENGTH",
    "PREFIX",
    "ROLES",
    "SECRET_BYTES",
    "SECRET_LENGTH",
    "TOKEN_LENGTH",
    "Failure",
    "KeyInfo",
    "KeyManagementError",
    "KeyVerifier",
    "Reason",
    "Role",
    "UnknownKeyError",
    "Verified",
    "allows",
    "bearer_token",
    "bootstrap_admin",
    "create_key",
    "get_key",
    "hash_secret",
    "list_keys",
    "parse_token",
    "revoke_key",
    "rotate_key",
    "validate_name",
    "validate_rate",
    "validate_role",
]

_NAME_MAX: Final = 200


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
