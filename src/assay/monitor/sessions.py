"""Signed session cookies for the monitor's dashboard.

A person signs in on ``/login`` by pasting an API key once; the page then carries a session
cookie instead of the key, so the key never sits in the browser's storage or in a script's
reach. The cookie is stateless: it names the key id, the role, the key's name and an expiry,
and ends in an HMAC-SHA256 over all of them, so any replica that knows the secret can check it
without a database read, and nobody without the secret can make or alter one.

**The secret** is shared by the replicas of one monitor through its database (the service
stores it as a flag on first start and every replica reads it), so a cookie issued by one
replica is good on all. Replacing the flag signs everybody out.

**Format.** ``<payload>.<mac>``: ``payload`` is the compact JSON
``[1, key_id, role, name, expires]`` in URL-safe base64 without padding; ``mac`` is the
HMAC-SHA256 with the secret over ``assay-session.`` followed by that base64 text, URL-safe
base64 too. Every character is in ``[A-Za-z0-9_.-]``, legal in a cookie without quoting.
The leading ``1`` versions the layout. The payload is signed, not encrypted: the key's id,
name and role are no secret to the person holding the cookie.

**Cookie attributes** (set by :mod:`assay.monitor.dashboard`): ``HttpOnly`` (no script reads
it), ``SameSite=Strict`` (the browser never sends it on a request another site starts),
``Path=/``, ``Max-Age`` of the session's lifetime, and ``Secure`` when the page was served
over https.

**CSRF.** Every state-changing call from the page (acknowledge, resolve) sends a JSON body
with ``Content-Type: application/json``. A cross-site HTML form cannot send that content type,
and a cross-site script that tries needs a CORS preflight, which the monitor never grants; on
top of that ``SameSite=Strict`` keeps the cookie off any request another site starts.

**Revocation.** A session lasts ``ttl`` seconds (8 hours by default) whatever happens to its
key afterwards, unless whoever checks the cookie also checks the key id against the
revocation list (``Session.key_id`` is there for that).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from typing import Final

from assay.monitor.clock import Clock

DEFAULT_TTL: Final = 8 * 3600.0
"""How long a session lasts, in seconds of the service's clock."""

MIN_SECRET_BYTES: Final = 16
MAX_COOKIE_CHARS: Final = 4096
"""Longer cookie values are refused before any work: browsers keep at most 4 KiB."""

_VERSION: Final = 1
_CONTEXT: Final = b"assay-session."


@dataclass(frozen=True, slots=True)
class Session:
    """Who a valid session cookie speaks for, and until when (seconds since the epoch, on
    the service's clock)."""

    key_id: str
    name: str
    role: str
    expires: float


class SessionSigner:
    """Issues and checks session cookies signed with ``secret``.

    ``clock`` is the service's clock (:mod:`assay.monitor.clock`), so a drill run with
    ``--time-scale`` ages sessions at the same rate as everything else. ``ttl`` is the
    lifetime of a session in seconds.
    """

    def __init__(self, secret: bytes, *, clock: Clock, ttl: float = DEFAULT_TTL) -> None:
        if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the session secret must be at least {MIN_SECRET_BYTES} random bytes")
        if not (ttl > 0 and math.isfinite(ttl)):
            raise ValueError(f"the session lifetime must be a positive number of seconds: {ttl}")
        self._secret = secret
        self.clock = clock
        self.ttl = float(ttl)

    def issue(self, key_id: str, name: str, role: str) -> str:
        """A cookie value for the holder of key ``key_id`` (named ``name``, with ``role``),
        good for ``ttl`` seconds from now."""
        for field, value in (("key_id", key_id), ("role", role)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"a session needs a non-empty {field}, got {value!r}")
        if not isinstance(name, str):
            raise ValueError(f"a session's name must be text, got {name!r}")
        expires = math.floor(self.clock.now() + self.ttl)
        text = json.dumps(
            [_VERSION, key_id, role, name, expires], separators=(",", ":"), ensure_ascii=False
        )
        payload = _b64encode(text.encode("utf-8"))
        return f"{payload}.{_b64encode(self._mac(payload))}"

    def verify(self, cookie: str | None) -> Session | None:
        """The session ``cookie`` stands for, or ``None`` when it is missing, malformed,
        signed with another secret, altered, or expired."""
        if (
            not isinstance(cookie, str)
            or not cookie
            or len(cookie) > MAX_COOKIE_CHARS
            or not cookie.isascii()
        ):
            return None
        payload, dot, mac = cookie.partition(".")
        if not dot or not payload or not mac or "." in mac:
            return None
        given = _b64decode(mac)
        if given is None or not hmac.compare_digest(given, self._mac(payload)):
            return None
        raw = _b64decode(payload)
        if raw is None:
            return None
        try:
            fields = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(fields, list) or len(fields) != 5 or fields[0] != _VERSION:
            return None
        _, key_id, role, name, expires = fields
        if not (
            isinstance(key_id, str)
            and key_id
            and isinstance(role, str)
            and role
            and isinstance(name, str)
            and isinstance(expires, int | float)
            and not isinstance(expires, bool)
        ):
            return None
        if not expires > self.clock.now():
            return None
        return Session(key_id=key_id, name=name, role=role, expires=float(expires))

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._secret, _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """URL-safe base64 without padding, in its one canonical spelling; anything else (other
    characters, padding, unused bits set) is ``None``, so no two cookie values mean the same."""
    if not text.isascii() or any(c in "=+/" for c in text) or len(text) % 4 == 1:
        return None
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if _b64encode(data) == text else None
