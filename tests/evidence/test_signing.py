"""Ed25519 key pairs, signed approvals, and how verification treats forged ones."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assay.checks._registry import Status
from assay.errors import KeyFileError
from assay.evidence import (
    APPROVAL_SCHEMA,
    Approval,
    Repository,
    generate_keypair,
    key_fingerprint,
    load_private_key,
)
from assay.evidence import _messages as msg
from assay.run import canonical_json, sha256_hex

MOMENT = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)


def short(sha: str) -> str:
    return f"{sha[:12]}…"


def append_approval(repo: Repository, approval: Approval) -> None:
    """Store an approval object and a ledger entry by hand, as a forger would."""
    obj = repo.put(approval.to_bytes())
    ledger = repo.path / "ledger"
    last = max(int(p.stem) for p in ledger.glob("*.json"))
    prev = sha256_hex((ledger / f"{last:08d}.json").read_bytes())
    entry = {
        "seq": last + 1,
        "kind": "approval",
        "object": obj,
        "prev": prev,
        "time": "2025-01-01T00:00:00Z",
    }
    (ledger / f"{last + 1:08d}.json").write_bytes(canonical_json(entry))


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def resign(approval: Approval, key: Ed25519PrivateKey, **changes: str) -> Approval:
    """``approval`` with ``changes``, signed with ``key`` (its public key is left alone)."""
    fields = {**approval.to_json(), **changes}
    fields.pop("schema")
    unsigned = Approval(**fields)
    signature = key.sign(canonical_json(unsigned.signed_json()))
    return Approval(**{**fields, "signature": base64.b64encode(signature).decode()})


def test_generate_keypair_writes_pem_files(tmp_path: Path) -> None:
    private, public = tmp_path / "k" / "id.pem", tmp_path / "k" / "id.pub.pem"
    fingerprint = generate_keypair(private, public)

    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    key = load_private_key(private)
    assert public_pem(key) == public.read_text()
    assert fingerprint == key_fingerprint(public.read_text())
    assert fingerprint.startswith("ed25519:") and len(fingerprint) == len("ed25519:") + 16


@pytest.mark.parametrize("existing", ["private", "public"])
def test_generate_keypair_never_overwrites(tmp_path: Path, existing: str) -> None:
    private, public = tmp_path / "id.pem", tmp_path / "id.pub.pem"
    taken = private if existing == "private" else public
    taken.write_text("precious")
    with pytest.raises(KeyFileError) as caught:
        generate_keypair(private, public)
    assert str(caught.value) == msg.KEY_EXISTS.format(path=taken)
    assert taken.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [taken.name]


def test_generate_keypair_in_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(KeyFileError, match="cannot write the key file"):
        generate_keypair(blocker / "id.pem", tmp_path / "id.pub.pem")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_load_private_key_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(KeyFileError) as caught:
        load_private_key(missing)
    assert str(caught.value) == msg.KEY_UNREADABLE.format(
        path=missing, problem="No such file or directory"
    )

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(KeyFileError) as caught:
        load_private_key(garbage)
    assert str(caught.value).startswith(f"{garbage}: not an unencrypted PEM private key (")

    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(KeyFileError) as caught:
        load_private_key(encrypted)
    problem = "it is encrypted with a password"
    assert str(caught.value) == msg.KEY_NOT_PEM.format(path=encrypted, problem=problem)

    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError) as caught:
        load_private_key(rsa_key)
    assert str(caught.value) == msg.KEY_NOT_ED25519.format(path=rsa_key, kind="RSA")


def test_approve_records_a_signed_approval(repo: Repository, make_run, keypair) -> None:
    private, public = keypair
    first = repo.store_run(*make_run(1))
    repo.store_run(*make_run(2))

    approval = repo.approve(first.id[:8], by="Ada Lovelace", private_key_path=private, now=MOMENT)

    assert approval.to_json() == {
        "schema": APPROVAL_SCHEMA,
        "run": first.id,
        "verdict": "pass",
        "by": "Ada Lovelace",
        "at": "2025-02-03T04:05:06Z",
        "public_key": public.read_text(),
        "signature": approval.signature,
    }
    assert approval.signature_valid()
    assert approval.key_fingerprint == key_fingerprint(public.read_text())
    assert repo.approvals(first.id) == [approval]
    assert repo.approvals("latest") == []
    assert repo.get(approval.id) == approval.to_bytes()
    entry = json.loads((repo.path / "ledger" / "00000003.json").read_bytes())
    assert (entry["kind"], entry["object"], entry["time"]) == (
        "approval",
        approval.id,
        "2025-02-03T04:05:06Z",
    )
    assert repo.resolve("approved") == first
    assert [r.approved for r in repo.runs()] == [True, False]
    assert repo.verify().ok
    assert repo.verify(trusted_keys=[public.read_text()]).ok


def test_an_approval_states_a_failing_verdict(repo: Repository, make_run, make_finding, keypair):
    stored = repo.store_run(*make_run(1, findings=[make_finding(status=Status.FAIL)]))
    approval = repo.approve("latest", by="Grace", private_key_path=keypair[0])
    assert approval.verdict == stored.run.verdict.status == "fail"


def test_a_ledger_number_of_an_approval_is_not_a_run(repo: Repository, make_run, keypair) -> None:
    stored = repo.store_run(*make_run(1))
    repo.approve("1", by="Ada", private_key_path=keypair[0])
    with pytest.raises(KeyError) as caught:
        repo.resolve("#2")
    assert msg.HINT_APPROVAL_ENTRY.format(seq=2, run=stored.id[:12]) in str(caught.value)


def test_approve_needs_a_name_and_a_key(repo: Repository, make_run, keypair, tmp_path) -> None:
    repo.store_run(*make_run(1))
    with pytest.raises(ValueError) as caught:
        repo.approve("latest", by="  ", private_key_path=keypair[0])
    assert str(caught.value) == msg.APPROVER_EMPTY
    with pytest.raises(KeyFileError):
        repo.approve("latest", by="Ada", private_key_path=tmp_path / "nope.pem")
    assert len(list((repo.path / "ledger").iterdir())) == 1


@pytest.fixture
def approved(repo: Repository, make_run, keypair) -> tuple[Repository, Approval]:
    repo.store_run(*make_run(1))
    approval = repo.approve("latest", by="Ada", private_key_path=keypair[0], now=MOMENT)
    return repo, approval


def test_a_changed_approver_fails_verification(approved) -> None:
    repo, approval = approved
    fields = approval.to_json()
    fields.pop("schema")
    forged = Approval(**{**fields, "by": "Mallory"})
    append_approval(repo, forged)
    assert not forged.signature_valid()
    assert repo.verify().problems == [
        msg.V_SIGNATURE.format(path="ledger/00000003.json", by="Mallory")
    ]


def test_a_signature_by_another_key_fails_verification(approved) -> None:
    repo, approval = approved
    forged = resign(approval, Ed25519PrivateKey.generate(), by="Mallory")
    append_approval(repo, forged)
    assert repo.verify().problems == [
        msg.V_SIGNATURE.format(path="ledger/00000003.json", by="Mallory")
    ]


def test_a_swapped_public_key_fails_verification(approved) -> None:
    repo, approval = approved
    fields = approval.to_json()
    fields.pop("schema")
    forged = Approval(**{**fields, "public_key": public_pem(Ed25519PrivateKey.generate())})
    append_approval(repo, forged)
    assert repo.verify().problems == [msg.V_SIGNATURE.format(path="ledger/00000003.json", by="Ada")]


def test_a_self_consistent_forgery_needs_trusted_keys(approved, keypair) -> None:
    """Re-signing with a new key and embedding that key is consistent; only a list of the
    keys you trust tells it apart."""
    repo, approval = approved
    mallory = Ed25519PrivateKey.generate()
    forged = resign(approval, mallory, by="Mallory", public_key=public_pem(mallory))
    append_approval(repo, forged)
    assert forged.signature_valid()
    assert repo.verify().ok
    problems = repo.verify(trusted_keys=[keypair[1].read_text()]).problems
    assert problems == [
        msg.V_UNTRUSTED.format(
            path="ledger/00000003.json", by="Mallory", fingerprint=forged.key_fingerprint
        )
    ]


def test_an_approval_of_an_unknown_run_or_verdict(approved, keypair) -> None:
    repo, approval = approved
    key = load_private_key(keypair[0])
    unknown = sha256_hex(b"no such run")
    append_approval(repo, resign(approval, key, run=unknown))
    append_approval(repo, resign(approval, key, verdict="fail"))
    assert repo.verify().problems == [
        msg.V_APPROVAL_RUN.format(path="ledger/00000003.json", run=short(unknown)),
        msg.V_APPROVAL_VERDICT.format(
            path="ledger/00000004.json", found="fail", run=short(approval.run), expected="pass"
        ),
    ]


def test_a_garbled_approval_record(approved) -> None:
    repo, _ = approved
    obj = repo.put(b'{"schema":"assay.approval/1"}')
    ledger = repo.path / "ledger"
    prev = sha256_hex((ledger / "00000002.json").read_bytes())
    entry = {
        "seq": 3,
        "kind": "approval",
        "object": obj,
        "prev": prev,
        "time": "2025-01-01T00:00:00Z",
    }
    (ledger / "00000003.json").write_bytes(canonical_json(entry))
    problems = repo.verify().problems
    assert len(problems) == 1
    assert problems[0].startswith(
        f"ledger/00000003.json: its approval object objects/{obj[:2]}/{obj[2:]} is not a valid "
        "approval record (has fields"
    )
