"""Masking detected entities: redact, keyed hash, or partial.

``redact``
    ``[EMAIL]``, ``[PHONE]``, … — the kind only.
``hash``
    ``<EMAIL:1f0c9a7e52d4b38c>`` — the first 64 bits of HMAC-SHA256 under a secret key of the
    entity's kind and normalised value (lower-case e-mail, E.164 phone, card digits, …). The
    same entity masks to the same token under one key however it is written, so masked
    tables still join and count; without the key nobody can test guesses against a token.
    A plain hash would not do: the nine-digit SSNs or the phone numbers of a country are few
    enough to hash them all and look the token up.
``partial``
    Keeps what is customary to show and no more: the last 4 card digits, the SSN's last 4,
    a phone's last 2, an IBAN's country and last 4, an e-mail's first letters and top-level
    domain, an IPv4's first octet, an IPv6's first group, a known key's prefix; a birth
    date keeps only its punctuation. Evidence shows examples masked this way.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from typing import Literal

from assay.errors import AssayError
from assay.privacy.detectors import KNOWN_SECRETS, Match, scan_text

MaskMethod = Literal["redact", "hash", "partial"]
METHODS: tuple[MaskMethod, ...] = ("redact", "hash", "partial")

LABELS = {
    "email": "EMAIL",
    "phone": "PHONE",
    "payment_card": "CARD",
    "iban": "IBAN",
    "us_ssn": "SSN",
    "ipv4": "IP",
    "ipv6": "IP",
    "date_of_birth": "DOB",
    "secret": "SECRET",
}
"""The label of each kind in masks."""

MIN_KEY_BYTES = 16
KEY_MISSING = (
    "masking with --method hash needs a secret key, and none was given. Set {env} "
    "(for example `export {env}=$(python -c 'import secrets; print(secrets.token_hex(32))')`) "
    "or pass --key-file FILE; keep the key secret and use the same one wherever masked tables "
    "must join."
)
KEY_SHORT = (
    "the masking key has {n} bytes; a key needs at least {need}. Generate one with "
    "`python -c 'import secrets; print(secrets.token_hex(32))'`."
)
METHOD_UNKNOWN = "masking method {method!r} is not one of redact, hash, partial."


def as_key(key: bytes | str | None, *, env: str = "ASSAY_MASK_KEY") -> bytes:
    """The HMAC key as bytes; raises :class:`AssayError` (exit 2) if missing or short."""
    if key is None or key == b"" or key == "":
        raise AssayError(KEY_MISSING.format(env=env))
    raw = key.encode() if isinstance(key, str) else key
    if len(raw) < MIN_KEY_BYTES:
        raise AssayError(KEY_SHORT.format(n=len(raw), need=MIN_KEY_BYTES))
    return raw


def keyed_token(kind: str, normalized: str, key: bytes) -> str:
    """``<LABEL:16 hex digits>``: HMAC-SHA256 under ``key`` of ``kind`` and the value."""
    digest = hmac.new(key, f"{kind}\x00{normalized}".encode(), hashlib.sha256).hexdigest()
    return f"<{LABELS[kind]}:{digest[:16]}>"


def partial(kind: str, value: str) -> str:
    """``value`` with all but the customary few characters replaced by ``*``."""
    if kind == "email":
        local, _, domain = value.rpartition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    if kind in ("payment_card", "us_ssn"):
        return _keep_last_digits(value, 4)
    if kind == "phone":
        return _keep_last_digits(value, 2)
    if kind == "iban":
        compact = value.replace(" ", "")
        return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]
    if kind == "ipv4":
        return value.split(".", 1)[0] + ".*.*.*"
    if kind == "ipv6":
        head = value.split(":", 1)[0]
        return f"{head}:****" if head else "::****"
    if kind == "date_of_birth":
        return "".join("*" if ch.isalnum() else ch for ch in value)
    known = KNOWN_SECRETS.fullmatch(value)
    if known and value.startswith("-----"):
        return "-----BEGIN *** PRIVATE KEY-----"
    prefix = _secret_prefix(value) if known else ""
    return f"{prefix}****"


def _keep_last_digits(value: str, keep: int) -> str:
    total = sum(ch.isdigit() for ch in value)
    out, seen = [], 0
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _secret_prefix(value: str) -> str:
    """The format's fixed prefix (``ghp_``, ``AKIA``, ``sk-``, ``eyJ``), never key material."""
    for sep in ("_", "-"):
        head, found, _ = value.partition(sep)
        if found and len(head) <= 11 and head.isalpha():
            return head + sep
    return value[:4] if value[:4].isupper() and value[:4].isalpha() else value[:3]


def mask_match(match: Match, method: MaskMethod, key: bytes | None = None) -> str:
    """What replaces ``match`` under ``method``."""
    if method == "redact":
        return f"[{LABELS[match.kind]}]"
    if method == "partial":
        return partial(match.kind, match.value)
    if method == "hash":
        return keyed_token(match.kind, match.normalized, as_key(key))
    raise AssayError(METHOD_UNKNOWN.format(method=method))


def apply_masks(text: str, matches: list[Match], method: MaskMethod, key: bytes | None) -> str:
    """``text`` with each of ``matches`` (in order, not overlapping) replaced."""
    if not matches:
        return text
    parts, last = [], 0
    for m in matches:
        parts += [text[last : m.start], mask_match(m, method, key)]
        last = m.end
    parts.append(text[last:])
    return "".join(parts)


def mask_text(
    text: str,
    method: MaskMethod = "redact",
    key: bytes | str | None = None,
    *,
    kinds: Collection[str] | None = None,
    context: Collection[str] = (),
) -> str:
    """``text`` with every detected entity masked; see the module doc for the methods.

    Example::

        >>> mask_text("mail jo@example.com", "partial")
        'mail j***@e***.com'
    """
    if method not in METHODS:
        raise AssayError(METHOD_UNKNOWN.format(method=method))
    raw_key = as_key(key) if method == "hash" else None
    return apply_masks(text, scan_text(text, kinds=kinds, context=context), method, raw_key)
