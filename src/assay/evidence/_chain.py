"""Walk a ledger and check every link: shared by repository and bundle verification.

The walker reads objects through an :class:`ObjectSource`, so the same checks run over a
repository folder and over the members of an exported bundle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assay.evidence import _messages as msg
from assay.evidence._ledger import LedgerEntry, entry_name, is_canonical, short
from assay.evidence.attachment import Attachment
from assay.evidence.signing import Approval
from assay.run import Run, sha256_hex

_ANY = "*"  # the previous run is unknown (after a gap): any value is accepted


class ObjectSource(Protocol):
    """Where the walker finds objects."""

    def label(self, sha: str) -> str:
        """How messages name the object, e.g. ``objects/ab/cdef…``."""

    def digest(self, sha: str) -> str | None:
        """The sha256 of the object's content, or ``None`` if there is no such object."""

    def read(self, sha: str) -> bytes | None:
        """The object's content, or ``None`` if there is no such object."""

    def size(self, sha: str) -> int | None:
        """The object's size in bytes, or ``None`` if there is no such object."""


@dataclass(frozen=True)
class RawEntry:
    """An entry file as found: its seq (from the file name), label for messages and bytes."""

    seq: int
    label: str
    raw: bytes


@dataclass
class ChainFacts:
    """What a walk found: problems in order, and what the ledger refers to."""

    problems: list[str] = field(default_factory=list)
    entries: dict[int, LedgerEntry] = field(default_factory=dict)
    runs: dict[int, Run] = field(default_factory=dict)
    approvals: dict[int, Approval] = field(default_factory=dict)
    attachments: dict[int, Attachment] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)
    artefacts: int = 0
    attachment_files: int = 0


def walk(
    entries: Sequence[RawEntry],
    source: ObjectSource,
    *,
    deep: Callable[[int], bool] = lambda seq: True,
    trusted: frozenset[str] | None = None,
) -> ChainFacts:
    """Check ``entries`` (ascending seq) link by link.

    Objects are opened only for entries where ``deep(seq)`` is true; the others are checked
    as links only (a bundle holds the objects of one run, not of every entry before it).
    """
    facts = ChainFacts()
    previous: RawEntry | None = None
    last_run_id: str | None = None
    run_verdicts: dict[str, str] = {}
    expected_seq = 1
    known = True  # whether last_run_id is certain: not after a gap or an unreadable entry
    for item in entries:
        if item.seq != expected_seq:
            facts.problems.append(
                msg.V_LEDGER_GAP.format(
                    path=entry_name(expected_seq), before=expected_seq - 1, after=item.seq
                )
            )
            known = False
        entry = _parse_entry(item, facts.problems)
        if entry is None:
            known = False
        else:
            _check_link(item, entry, previous, facts.problems)
            facts.entries[item.seq] = entry
            facts.referenced.add(entry.object)
            if entry.kind == "run":
                if deep(item.seq):
                    expected = last_run_id if known else _ANY
                    run = _check_run(item.label, entry, source, expected, facts)
                    if run is not None:
                        facts.runs[item.seq] = run
                    run_verdicts[entry.object] = run.verdict.status if run else ""
                else:
                    run_verdicts[entry.object] = ""  # "": stored, verdict not checked
                last_run_id, known = entry.object, True
            elif entry.kind == "approval":
                if deep(item.seq):
                    approval = _check_approval(
                        item.label, entry, source, run_verdicts, trusted, facts
                    )
                    if approval is not None:
                        facts.approvals[item.seq] = approval
            elif deep(item.seq):
                attachment = _check_attachment(item.label, entry, source, run_verdicts, facts)
                if attachment is not None:
                    facts.attachments[item.seq] = attachment
        previous = item
        expected_seq = item.seq + 1
    return facts


def _parse_entry(item: RawEntry, problems: list[str]) -> LedgerEntry | None:
    try:
        entry = LedgerEntry.from_bytes(item.raw)
    except ValueError as exc:
        problems.append(msg.V_ENTRY_INVALID.format(path=item.label, problem=exc))
        return None
    if not is_canonical(item.raw):
        problems.append(msg.V_ENTRY_NOT_CANONICAL.format(path=item.label))
    if entry.seq != item.seq:
        problems.append(msg.V_ENTRY_SEQ.format(path=item.label, found=entry.seq, expected=item.seq))
    return entry


def _check_link(
    item: RawEntry, entry: LedgerEntry, previous: RawEntry | None, problems: list[str]
) -> None:
    if item.seq == 1:
        if entry.prev is not None:
            problems.append(msg.V_PREV_FIRST.format(path=item.label, prev=short(entry.prev)))
        return
    if previous is None or previous.seq != item.seq - 1:
        return  # the gap is reported already; there is nothing to link to
    actual = sha256_hex(previous.raw)
    if entry.prev != actual:
        problems.append(
            msg.V_PREV.format(
                path=item.label,
                prev=short(entry.prev),
                previous_path=previous.label,
                actual=short(actual),
            )
        )


def _intact(
    label: str, entry: LedgerEntry, source: ObjectSource, problems: list[str]
) -> bytes | None:
    """The entry's object bytes if present and unchanged; a problem otherwise."""
    object_path = source.label(entry.object)
    digest = source.digest(entry.object)
    if digest is None:
        problems.append(
            msg.V_ENTRY_OBJECT_MISSING.format(path=label, kind=entry.kind, object_path=object_path)
        )
        return None
    if digest != entry.object:
        problems.append(
            msg.V_ENTRY_OBJECT_CHANGED.format(
                path=label, kind=entry.kind, object_path=object_path, actual=short(digest)
            )
        )
        return None
    return source.read(entry.object)


def _check_run(
    label: str, entry: LedgerEntry, source: ObjectSource, last_run_id: str | None, facts: ChainFacts
) -> Run | None:
    """Check a run record; ``last_run_id`` is the expected ``previous`` (``_ANY``: unknown)."""
    raw = _intact(label, entry, source, facts.problems)
    if raw is None:
        return None
    try:
        run = Run.from_bytes(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        facts.problems.append(
            msg.V_RECORD_INVALID.format(
                path=label,
                kind="run",
                object_path=source.label(entry.object),
                problem=_describe(exc),
            )
        )
        return None
    run_id = short(entry.object)
    for artefact in run.artefacts:
        facts.artefacts += 1
        facts.referenced.add(artefact.sha256)
        state = _object_state(source, artefact.sha256)
        if state is not None:
            template = msg.V_ARTEFACT_MISSING if state[0] is None else msg.V_ARTEFACT_CHANGED
            facts.problems.append(
                template.format(
                    path=label,
                    run=run_id,
                    name=artefact.name,
                    object_path=source.label(artefact.sha256),
                    actual=short(state[0]) if state[0] else "",
                )
            )
    if last_run_id != _ANY and run.previous != last_run_id:
        facts.problems.append(
            msg.V_PREVIOUS.format(
                path=label, run=run_id, found=short(run.previous), expected=short(last_run_id)
            )
        )
    return run


def _check_approval(
    label: str,
    entry: LedgerEntry,
    source: ObjectSource,
    run_verdicts: dict[str, str],
    trusted: frozenset[str] | None,
    facts: ChainFacts,
) -> Approval | None:
    raw = _intact(label, entry, source, facts.problems)
    if raw is None:
        return None
    try:
        approval = Approval.from_bytes(raw)
    except ValueError as exc:
        facts.problems.append(
            msg.V_RECORD_INVALID.format(
                path=label,
                kind="approval",
                object_path=source.label(entry.object),
                problem=_describe(exc),
            )
        )
        return None
    if not approval.signature_valid():
        facts.problems.append(msg.V_SIGNATURE.format(path=label, by=approval.by))
    elif trusted is not None and approval.key_fingerprint not in trusted:
        facts.problems.append(
            msg.V_UNTRUSTED.format(path=label, by=approval.by, fingerprint=approval.key_fingerprint)
        )
    verdict = run_verdicts.get(approval.run)
    if verdict is None:
        facts.problems.append(msg.V_APPROVAL_RUN.format(path=label, run=short(approval.run)))
    elif verdict and verdict != approval.verdict:
        facts.problems.append(
            msg.V_APPROVAL_VERDICT.format(
                path=label, found=approval.verdict, run=short(approval.run), expected=verdict
            )
        )
    return approval


def _check_attachment(
    label: str,
    entry: LedgerEntry,
    source: ObjectSource,
    stored_runs: dict[str, str],
    facts: ChainFacts,
) -> Attachment | None:
    """Check an attachment record: intact, parses, names an earlier run, files intact."""
    raw = _intact(label, entry, source, facts.problems)
    if raw is None:
        return None
    try:
        attachment = Attachment.from_bytes(raw)
    except ValueError as exc:
        facts.problems.append(
            msg.V_RECORD_INVALID.format(
                path=label,
                kind="attachment",
                object_path=source.label(entry.object),
                problem=_describe(exc),
            )
        )
        return None
    kind = attachment.kind
    if attachment.run not in stored_runs:
        facts.problems.append(
            msg.V_ATTACHMENT_RUN.format(path=label, kind=kind, run=short(attachment.run))
        )
    for f in attachment.files:
        facts.attachment_files += 1
        facts.referenced.add(f.sha256)
        object_path = source.label(f.sha256)
        state = _object_state(source, f.sha256)
        if state is not None:
            template = msg.V_ATTACHED_MISSING if state[0] is None else msg.V_ATTACHED_CHANGED
            facts.problems.append(
                template.format(
                    path=label,
                    kind=kind,
                    name=f.name,
                    object_path=object_path,
                    actual=short(state[0]) if state[0] else "",
                )
            )
        elif (size := source.size(f.sha256)) is not None and size != f.size:
            facts.problems.append(
                msg.V_ATTACHED_SIZE.format(
                    path=label,
                    kind=kind,
                    name=f.name,
                    size=f.size,
                    object_path=object_path,
                    actual=size,
                )
            )
    return attachment


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing"
    return str(exc) or type(exc).__name__


def _object_state(source: ObjectSource, sha: str) -> tuple[str | None] | None:
    """``None`` when object ``sha`` is stored and unchanged; else ``(None,)`` when it is
    missing, or ``(actual digest,)`` when its bytes changed."""
    digest = source.digest(sha)
    if digest is None:
        return (None,)
    return None if digest == sha else (digest,)
