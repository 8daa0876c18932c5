"""``security.threat_model``: the threat model covers the ML-specific threats, each owned.

The threat model is a document in the ``documents:`` folder named like ``threat_model.md``.
Each threat — model inversion, membership inference, prompt injection, data poisoning, model
extraction, evasion — must appear with a mitigation and an owner: as a row of a Markdown
table with ``threat``, ``mitigation`` and ``owner`` columns, or as a section headed with the
threat whose text has ``Mitigation:`` and ``Owner:`` lines. A threat that does not apply is
still listed, with the reason as its mitigation (``not applicable: no generative component``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.reports._documents import parse_document
from assay.sources.documents import read_folder

THREATS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model inversion", ("inversion", "attribute inference", "reconstruction")),
    ("membership inference", ("membership",)),
    ("prompt injection", ("prompt injection", "injection", "jailbreak")),
    ("data poisoning", ("poison",)),
    ("model extraction", ("extraction", "model stealing", "stealing")),
    ("evasion", ("evasion", "adversarial example")),
)
"""The ML-specific threats the issue names, with the words that identify each."""

ALIASES = ("threat_model", "threatmodel", "threats")
_CELL = re.compile(r"^\|(.+)\|\s*$")
_LABEL = re.compile(r"^\s*[-*]?\s*\**(mitigation|owner)s?\**\s*:\**\s*(.+)$", re.I | re.M)


@dataclass(frozen=True)
class Entry:
    """A threat as the document states it."""

    name: str
    mitigation: str
    owner: str


@check(
    "security.threat_model",
    domain="security",
    title="Threat model covers the ML threats",
    severity=Severity.MAJOR,
    thresholds=(Threshold("missing_threats", fail=0), Threshold("incomplete_threats", fail=0)),
    requires=("documents",),
    remediation="List every ML-specific threat in the threat model with its mitigation (or why "
    "it does not apply) and the owner who answers for it.",
)
def threat_model(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding per required threat, or one for a missing threat-model document."""
    assert ctx.spec.documents is not None
    folder = read_folder(ctx.spec.resolve(ctx.spec.documents))
    docs = folder.matching(*ALIASES)
    if not docs:
        broken = [n for n in folder.unreadable if any(a in n.lower() for a in ALIASES)]
        why = f" ({broken[0]} {folder.unreadable[broken[0]]})" if broken else ""
        return [
            params.finding(
                "threat_model",
                status=Status.FAIL,
                message=f"no threat model in {folder.root}{why}: none of the ML threats "
                f"({', '.join(t for t, _ in THREATS)}) is documented; owner: {params.owner}.",
                metrics={"missing_threats": len(THREATS), "incomplete_threats": 0},
                threshold=params.thresholds["missing_threats"],
            )
        ]
    doc = docs[0]
    entries = _entries(doc.text or "")
    findings = []
    for threat, words in THREATS:
        entry = next((e for e in entries if any(w in e.name.lower() for w in words)), None)
        subject = f"threat_model:{threat}"
        if entry is None:
            findings.append(
                params.finding(
                    subject,
                    status=Status.FAIL,
                    message=f"{doc.relative} does not cover {threat}; owner: {params.owner}.",
                    metrics={"missing_threats": 1, "incomplete_threats": 0},
                    threshold=params.thresholds["missing_threats"],
                )
            )
            continue
        lacking = [
            part
            for part, text in (("mitigation", entry.mitigation), ("owner", entry.owner))
            if not text.strip()
        ]
        if lacking:
            findings.append(
                params.finding(
                    subject,
                    status=Status.FAIL,
                    message=f"{doc.relative} lists {threat} ({entry.name!r}) without "
                    f"{' or '.join(lacking)}.",
                    metrics={"missing_threats": 0, "incomplete_threats": 1},
                    threshold=params.thresholds["incomplete_threats"],
                )
            )
            continue
        findings.append(
            params.finding(
                subject,
                status=Status.PASS,
                message=f"{threat}: {entry.mitigation} (owner: {entry.owner}).",
                metrics={"missing_threats": 0, "incomplete_threats": 0},
                threshold=params.thresholds["missing_threats"],
            )
        )
    return findings


def _entries(text: str) -> list[Entry]:
    """Threats from Markdown tables (threat/mitigation/owner columns) and from sections."""
    entries = _table_entries(text)
    for title, body in parse_document("threat model", text).passages:
        labels = {m.group(1).lower(): m.group(2).strip() for m in _LABEL.finditer(body)}
        if labels:
            entries.append(Entry(title, labels.get("mitigation", ""), labels.get("owner", "")))
    return entries


def _table_entries(text: str) -> list[Entry]:
    entries: list[Entry] = []
    header: list[str] | None = None
    for line in text.splitlines():
        match = _CELL.match(line.strip())
        if not match:
            header = None
            continue
        cells = [c.strip() for c in match.group(1).split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the separator row
        row = dict(zip(header, cells, strict=False))
        name = next((row[k] for k in row if "threat" in k), "")
        mitigation = next((row[k] for k in row if "mitigat" in k), "")
        owner = next((row[k] for k in row if "owner" in k), "")
        if name:
            entries.append(Entry(name, mitigation, owner))
    return entries
