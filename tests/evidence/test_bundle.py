"""Exported bundles: deterministic, self-contained, and broken by any single changed byte."""

from __future__ import annotations

import base64
import io
import json
import random
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assay.errors import RepositoryError, VerificationError
from assay.evidence import Approval, Repository, verify_bundle
from assay.evidence import _messages as msg
from assay.evidence.bundle import manifest_bytes, write_canonical
from assay.run import canonical_json, sha256_hex

MOMENT = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)


def obj(sha: str) -> str:
    return f"objects/{sha[:2]}/{sha[2:]}"


def members_of(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def write_members(path: Path, members: dict[str, bytes]) -> None:
    """Write ``members`` as a canonical bundle would be written."""
    with path.open("wb") as handle:
        write_canonical(
            handle, [(n, len(d), lambda d=d: io.BytesIO(d)) for n, d in members.items()]
        )


def with_replaced_object(members: dict[str, bytes], old: str, new_bytes: bytes) -> dict[str, bytes]:
    """Swap object ``old`` for ``new_bytes`` and make every entry and the manifest agree."""
    members = dict(members)
    manifest = json.loads(members["bundle.json"])
    new = sha256_hex(new_bytes)
    del members[obj(old)]
    members[obj(new)] = new_bytes
    last = max([manifest["run_seq"], *manifest["approvals"]])
    for seq in range(1, last + 1):
        name = f"ledger/{seq:08d}.json"
        entry = json.loads(members[name])
        assert entry["object"] != old or seq == last, "only the last entry can be re-pointed"
        if entry["object"] == old:
            entry["object"] = new
            members[name] = canonical_json(entry)
    roles = {o["sha256"]: (o["role"], o["size"]) for o in manifest["objects"]}
    roles[new] = (roles.pop(old)[0], len(new_bytes))
    members["bundle.json"] = manifest_bytes(
        run_id=manifest["run"],
        run_seq=manifest["run_seq"],
        approval_seqs=manifest["approvals"],
        entries=[members[f"ledger/{s:08d}.json"] for s in range(1, last + 1)],
        objects=roles,
    )
    return members


@pytest.fixture
def exported(repo: Repository, make_run, keypair, tmp_path: Path) -> tuple[Repository, Path]:
    """Runs 1-3, run 2 approved (entry 4), exported to a tar that is then moved away."""
    for n in (1, 2, 3):
        repo.store_run(*make_run(n, artefacts=2))
    repo.approve("#2", by="Ada", private_key_path=keypair[0], now=MOMENT)
    out = repo.export("approved", tmp_path / "bundle.tar")
    assert out == tmp_path / "bundle.tar"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = elsewhere / "bundle.tar"
    shutil.copy(out, moved)
    return repo, moved


def test_a_bundle_verifies_on_its_own(exported) -> None:
    repo, bundle = exported
    shutil.rmtree(repo.path)  # nothing but the file

    report = verify_bundle(bundle)

    assert report.problems == []
    assert report.ok
    assert report.checked == {
        "members": 9,
        "objects": 4,
        "entries": 4,
        "runs": 1,
        "approvals": 1,
        "artefacts": 2,
        "attachments": 0,
        "attachment_files": 0,
    }


def test_bundle_contents(exported, make_run) -> None:
    repo, bundle = exported
    stored = repo.resolve("#2")
    (approval,) = repo.approvals("#2")
    members = members_of(bundle)

    expected = {"bundle.json", *(f"ledger/{s:08d}.json" for s in (1, 2, 3, 4))}
    expected |= {obj(stored.id), obj(approval.id)}
    expected |= {obj(a.sha256) for a in stored.run.artefacts}
    assert set(members) == expected
    assert obj(repo.resolve("#3").id) not in members  # other runs stay out
    manifest = json.loads(members["bundle.json"])
    assert manifest["format"] == "assay-bundle" and manifest["version"] == 1
    assert (manifest["run"], manifest["run_seq"], manifest["approvals"]) == (stored.id, 2, [4])
    assert [e["seq"] for e in manifest["entries"]] == [1, 2, 3, 4]
    assert members[obj(approval.id)] == approval.to_bytes()
    with tarfile.open(bundle) as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    assert {(i.mtime, i.uid, i.gid, i.uname, i.gname, i.mode) for i in infos} == {
        (0, 0, 0, "", "", 0o644)
    }


def test_export_is_deterministic(exported, tmp_path: Path) -> None:
    repo, bundle = exported
    again = repo.export(repo.resolve("#2").id, tmp_path / "again.tar")
    assert again.read_bytes() == bundle.read_bytes()
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_run_without_approvals(repo: Repository, make_run, tmp_path: Path) -> None:
    for n in (1, 2):
        repo.store_run(*make_run(n))
    bundle = repo.export("#1", tmp_path / "one.tar")
    assert sorted(members_of(bundle))[:2] == ["bundle.json", "ledger/00000001.json"]
    assert verify_bundle(bundle).ok


def test_every_changed_byte_is_detected(exported) -> None:
    _, bundle = exported
    original = bundle.read_bytes()
    with tarfile.open(bundle) as tar:
        infos = tar.getmembers()
    positions = {0, len(original) - 1}
    for info in infos:
        header = info.offset
        positions |= {
            header + k for k in (0, 50, 100, 108, 116, 124, 136, 148, 155, 156, 257, 263, 300, 511)
        }
        end = info.offset_data + info.size
        positions |= {info.offset_data, info.offset_data + info.size // 2, end - 1}
        padding_end = info.offset_data + -(-info.size // 512) * 512
        positions |= (
            {end, (end + padding_end) // 2, padding_end - 1} if end < padding_end else set()
        )
    data_end = max(i.offset_data + -(-i.size // 512) * 512 for i in infos)
    positions |= {data_end, data_end + 511, data_end + 512, data_end + 1023, data_end + 1024}
    rng = random.Random(20250203)
    positions |= {rng.randrange(len(original)) for _ in range(150)}
    assert data_end + 1024 < len(original)  # the record padding after the end blocks is sampled

    for position in sorted(p for p in positions if p < len(original)):
        changed = bytearray(original)
        changed[position] ^= rng.randrange(1, 256)
        bundle.write_bytes(changed)
        report = verify_bundle(bundle)
        assert not report.ok, f"a change at byte {position} went unnoticed"


def test_a_change_in_padding_names_its_offset(exported) -> None:
    _, bundle = exported
    changed = bytearray(bundle.read_bytes())
    changed[-1] = 0x20
    bundle.write_bytes(changed)
    assert verify_bundle(bundle).problems == [
        msg.B_BYTES.format(path=bundle, offset=len(changed) - 1)
    ]


def test_appended_and_truncated_files_fail(exported) -> None:
    _, bundle = exported
    original = bundle.read_bytes()
    bundle.write_bytes(original + b"\0" * 512)
    assert verify_bundle(bundle).problems == [
        msg.B_LENGTH.format(path=bundle, found=len(original) + 512, expected=len(original))
    ]
    bundle.write_bytes(original[:-10240])
    assert not verify_bundle(bundle).ok
    bundle.write_bytes(original[:3000])
    assert not verify_bundle(bundle).ok


def _approval_parts(members: dict[str, bytes]) -> tuple[str, Approval]:
    approval_seq = json.loads(members["bundle.json"])["approvals"][0]
    entry = json.loads(members[f"ledger/{approval_seq:08d}.json"])
    return entry["object"], Approval.from_bytes(members[obj(entry["object"])])


def _resigned(approval: Approval, key: Ed25519PrivateKey, **changes: str) -> Approval:
    fields = {**approval.to_json(), **changes}
    fields.pop("schema")
    unsigned = Approval(**fields)
    signature = base64.b64encode(key.sign(canonical_json(unsigned.signed_json()))).decode()
    return Approval(**{**fields, "signature": signature})


def _public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("forgery", ["changed_by", "other_key", "swapped_public_key"])
def test_a_forged_approval_fails_even_when_everything_else_agrees(exported, forgery: str) -> None:
    _, bundle = exported
    members = members_of(bundle)
    old, approval = _approval_parts(members)
    fields = approval.to_json()
    fields.pop("schema")
    other = Ed25519PrivateKey.generate()
    if forgery == "changed_by":
        forged = Approval(**{**fields, "by": "Mallory"})
    elif forgery == "other_key":
        forged = _resigned(approval, other, by="Mallory")
    else:
        forged = Approval(**{**fields, "public_key": _public_pem(other)})
    write_members(bundle, with_replaced_object(members, old, forged.to_bytes()))

    assert verify_bundle(bundle).problems == [
        msg.V_SIGNATURE.format(path="bundle.tar:ledger/00000004.json", by=forged.by)
    ]


def test_a_consistent_re_signing_needs_trusted_keys(exported, keypair) -> None:
    _, bundle = exported
    members = members_of(bundle)
    old, approval = _approval_parts(members)
    mallory = Ed25519PrivateKey.generate()
    forged = _resigned(approval, mallory, by="Mallory", public_key=_public_pem(mallory))
    write_members(bundle, with_replaced_object(members, old, forged.to_bytes()))

    assert verify_bundle(bundle).ok
    assert verify_bundle(bundle, trusted_keys=[keypair[1].read_text()]).problems == [
        msg.V_UNTRUSTED.format(
            path="bundle.tar:ledger/00000004.json", by="Mallory", fingerprint=forged.key_fingerprint
        )
    ]


def test_a_naively_edited_approval_fails(exported) -> None:
    _, bundle = exported
    members = members_of(bundle)
    old, _ = _approval_parts(members)
    members[obj(old)] = members[obj(old)].replace(b'"by":"Ada"', b'"by":"Eve"')
    write_members(bundle, members)
    problems = verify_bundle(bundle).problems
    assert problems[0] == msg.V_ENTRY_OBJECT_CHANGED.format(
        path="bundle.tar:ledger/00000004.json",
        kind="approval",
        object_path=f"bundle.tar:{obj(old)}",
        actual=f"{sha256_hex(members[obj(old)])[:12]}…",
    )


def test_unexpected_members_are_rejected(exported) -> None:
    _, bundle = exported
    members = members_of(bundle)
    stray = b"smuggled"
    members[obj(sha256_hex(stray))] = stray
    write_members(bundle, members)
    assert verify_bundle(bundle).problems == [
        msg.B_EXTRA.format(path=bundle, name=obj(sha256_hex(stray)))
    ]


def test_a_missing_member_is_reported(exported) -> None:
    _, bundle = exported
    members = members_of(bundle)
    run = json.loads(members["bundle.json"])["run"]
    del members[obj(run)]
    write_members(bundle, members)
    problems = verify_bundle(bundle).problems
    assert problems == [
        msg.V_ENTRY_OBJECT_MISSING.format(
            path="bundle.tar:ledger/00000002.json", kind="run", object_path=f"bundle.tar:{obj(run)}"
        )
    ]


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("../evil.txt", msg.B_TRAVERSAL),
        ("/etc/evil", msg.B_TRAVERSAL),
        ("ledger/../../evil", msg.B_TRAVERSAL),
        ("notes.txt", msg.B_BAD_NAME),
    ],
)
def test_strange_member_names_are_rejected(exported, name: str, template: str) -> None:
    _, bundle = exported
    members = members_of(bundle)
    with tarfile.open(bundle, "w", format=tarfile.GNU_FORMAT) as tar:
        for member, data in [*members.items(), (name, b"x")]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    problems = verify_bundle(bundle).problems
    assert problems[0] == template.format(path=bundle, name=name)


def test_links_and_duplicates_are_rejected(exported) -> None:
    _, bundle = exported
    members = members_of(bundle)
    first_object = next(n for n in sorted(members) if n.startswith("objects/"))
    with tarfile.open(bundle, "w", format=tarfile.GNU_FORMAT) as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(tarfile.TarInfo("bundle.json"), io.BytesIO(b""))
        link = tarfile.TarInfo("objects/00/" + "0" * 62)
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    problems = verify_bundle(bundle).problems
    assert problems[:2] == [
        msg.B_DUPLICATE.format(path=bundle, name="bundle.json"),
        msg.B_NOT_FILE.format(path=bundle, name="objects/00/" + "0" * 62),
    ]
    assert first_object in members


def test_not_a_bundle(tmp_path: Path) -> None:
    text = tmp_path / "text.tar"
    text.write_text("hello")
    problems = verify_bundle(text).problems
    assert len(problems) == 1 and problems[0].startswith(f"{text}: not a tar archive (")
    missing = tmp_path / "missing.tar"
    assert verify_bundle(missing).problems == [
        msg.B_UNREADABLE.format(path=missing, problem="No such file or directory")
    ]
    empty = tmp_path / "empty.tar"
    write_members(empty, {})
    assert verify_bundle(empty).problems == [msg.B_NO_MANIFEST.format(path=empty)]


def test_export_refuses_damaged_evidence(repo: Repository, make_run, tmp_path: Path) -> None:
    stored = repo.store_run(*make_run(1))
    path = repo.path / obj(stored.run.artefacts[0].sha256)
    path.chmod(0o644)
    path.write_bytes(b"changed")
    with pytest.raises(VerificationError):
        repo.export("latest", tmp_path / "b.tar")
    assert not (tmp_path / "b.tar").exists()
    assert not list(tmp_path.glob(".tmp-*"))


def test_export_to_an_unwritable_place(repo: Repository, make_run, tmp_path: Path) -> None:
    repo.store_run(*make_run(1))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RepositoryError, match="cannot write"):
        repo.export("latest", blocker / "b.tar")
