"""Sign-off: Ed25519 key pairs and signed approvals of stored runs.

An :class:`Approval` records who approved which run with which verdict, and when. It carries
the approver's public key and an Ed25519 signature over the canonical JSON of every other
field, so anyone can check it was not changed after signing. Whether the key belongs to the
person named in ``by`` is for the reader to decide: pass ``trusted_keys`` to the verifiers to
require keys you know.

Example::

    generate_keypair("keys/ada.pem", "keys/ada.pub.pem")
    approval = repo.approve("latest", by="Ada Lovelace", private_key_path="keys/ada.pem")
    assert approval.signature_valid()
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from assay._files import atomic_write
from assay.errors import KeyFileError
from assay.evidence import _messages as msg
from assay.run import canonical_json, sha256_hex

APPROVAL_SCHEMA = "assay.approval/1"
"""Type id and version of a stored approval record."""

_FIELDS = ("schema", "run", "verdict", "by", "at", "public_key", "signature")


@dataclass(frozen=True)
class Approval:
    """A signed statement that ``by`` approved run ``run`` (whose verdict was ``verdict``)."""

    run: str
    verdict: str
    by: str
    at: str
    public_key: str
    signature: str

    def signed_json(self) -> dict[str, Any]:
        """The record without its signature: what the signature is computed over."""
        return {
            "schema": APPROVAL_SCHEMA,
            "run": self.run,
            "verdict": self.verdict,
            "by": self.by,
            "at": self.at,
            "public_key": self.public_key,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.signed_json(), "signature": self.signature}

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def id(self) -> str:
        """The sha256 of the stored record: its object name in the repository."""
        return sha256_hex(self.to_bytes())

    @property
    def key_fingerprint(self) -> str:
        """A short, stable name of the signing key, e.g. ``ed25519:1f2e3d4c5b6a7988``."""
        return key_fingerprint(self.public_key)

    def signature_valid(self) -> bool:
        """True if the signature verifies with the embedded Ed25519 public key."""
        try:
            key = serialization.load_pem_public_key(self.public_key.encode())
            signature = base64.b64decode(self.signature, validate=True)
        except (ValueError, UnsupportedAlgorithm, binascii.Error):
            return False
        if not isinstance(key, Ed25519PublicKey):
            return False
        try:
            key.verify(signature, canonical_json(self.signed_json()))
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Approval:
        """Read a stored record; :class:`ValueError` says what is wrong with it."""
        if data.get("schema") != APPROVAL_SCHEMA:
            raise ValueError(f"not an {APPROVAL_SCHEMA} record: schema={data.get('schema')!r}")
        if set(data) != set(_FIELDS):
            raise ValueError(f"has fields {sorted(data)}, expected {sorted(_FIELDS)}")
        values = {k: data[k] for k in _FIELDS[1:]}
        wrong = sorted(k for k, v in values.items() if not isinstance(v, str))
        if wrong:
            raise ValueError(f"fields {wrong} must be strings")
        return cls(**values)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Approval:
        try:
            data = json.loads(raw.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return cls.from_json(data)


def sign_approval(
    private_key: Ed25519PrivateKey, *, run: str, verdict: str, by: str, at: str
) -> Approval:
    """An approval of ``run`` signed with ``private_key``."""
    if not by.strip():
        raise ValueError(msg.APPROVER_EMPTY)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    unsigned = Approval(run=run, verdict=verdict, by=by, at=at, public_key=public_pem, signature="")
    signature = private_key.sign(canonical_json(unsigned.signed_json()))
    return Approval(
        run=run,
        verdict=verdict,
        by=by,
        at=at,
        public_key=public_pem,
        signature=base64.b64encode(signature).decode(),
    )


def key_fingerprint(public_key_pem: str) -> str:
    """``ed25519:`` and 16 hex digits of the sha256 of the raw public key.

    A PEM that is not an Ed25519 public key gets a fingerprint of its text, so it never
    matches a real key.
    """
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]
    return "invalid:" + hashlib.sha256(public_key_pem.encode()).hexdigest()[:16]


def fingerprints(public_keys_pem: Iterable[str]) -> frozenset[str]:
    """The fingerprints of trusted public keys, for the verifiers' ``trusted_keys``."""
    return frozenset(key_fingerprint(pem) for pem in public_keys_pem)


def generate_keypair(
    private_path: str | os.PathLike[str], public_path: str | os.PathLike[str]
) -> str:
    """Write a new Ed25519 key pair and return the public key's fingerprint.

    The private key is unencrypted PKCS#8 PEM with mode 0600, the public key SubjectPublicKeyInfo
    PEM. Existing files are never overwritten: :class:`~assay.errors.KeyFileError` instead.
    """
    private, public = Path(private_path), Path(public_path)
    for path in (private, public):
        if path.exists() or path.is_symlink():
            raise KeyFileError(msg.KEY_EXISTS.format(path=path))
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_key(private, private_pem, 0o600)
    try:
        _write_key(public, public_pem, 0o644)
    except KeyFileError:
        private.unlink()  # leave no half a key pair behind
        raise
    return key_fingerprint(public_pem.decode())


def _write_key(path: Path, data: bytes, mode: int) -> None:
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise KeyFileError(msg.KEY_NOT_WRITABLE.format(path=path, problem=problem)) from None
    try:
        atomic_write(path, data, mode=mode, overwrite=False)
    except FileExistsError:
        raise KeyFileError(msg.KEY_EXISTS.format(path=path)) from None
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise KeyFileError(msg.KEY_NOT_WRITABLE.format(path=path, problem=problem)) from None


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read an unencrypted PEM Ed25519 private key, as written by :func:`generate_keypair`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise KeyFileError(msg.KEY_UNREADABLE.format(path=path, problem=problem)) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        problem = "it is encrypted with a password"
        raise KeyFileError(msg.KEY_NOT_PEM.format(path=path, problem=problem)) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KeyFileError(msg.KEY_NOT_PEM.format(path=path, problem=problem)) from None
    if not isinstance(key, Ed25519PrivateKey):
        kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
        raise KeyFileError(msg.KEY_NOT_ED25519.format(path=path, kind=kind or "non-Ed25519"))
    return key
