"""``governance.documents``: the documents a launch needs are there, filled in, versioned, current.

For each required kind of document — model card, datasheet, training log, evaluation notebook,
runbook, rollback procedure, monitoring thresholds, incident SLAs — the check looks in the
spec's ``documents:`` folder for a file whose name says what it is (``model_card.md``,
``runbook.md`` …; a runbook's ``## Rollback`` section also counts as the rollback procedure)
and judges it:

- **present**, else a ``fail`` naming the kind, the file names looked for and the owner;
- **filled in**: every required section exists (matched by heading keywords, as in the model
  card) and holds no template placeholder (``TODO``, ``TBD``, ``<fill in>``, ``{{ var }}``,
  ``[insert …]``, *lorem ipsum*);
- **versioned**: committed in git and unchanged since (a file modified since its last commit,
  or untracked in a git work tree, warns); outside git, the content hash every run stores
  with the document is its version;
- **current**: changed no earlier than the model file and the data files it describes (a
  model card older than the model it documents warns).

Files that cannot be read are findings too, named with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.reports._documents import parse_document
from assay.sources.documents import DocumentFile, Folder, last_change, read_folder


@dataclass(frozen=True)
class Kind:
    """One kind of governance document: what its file is called and what it must say."""

    key: str
    title: str
    aliases: tuple[str, ...]
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    current: bool = True
    """Must be changed no earlier than the model and data (a log or notebook need not)."""


KINDS = (
    Kind(
        "model_card",
        "model card",
        ("model_card", "modelcard"),
        (
            ("intended use", ("intended use", "primary use", "use")),
            ("training data", ("training data",)),
            ("evaluation", ("evaluation", "metric", "performance")),
            ("ethical considerations", ("ethic", "risk")),
            ("caveats and recommendations", ("caveat", "limitation", "recommendation")),
        ),
    ),
    Kind(
        "datasheet",
        "datasheet",
        ("datasheet", "data_sheet"),
        (
            ("motivation", ("motivation", "source", "purpose")),
            ("composition", ("composition", "rows", "columns", "instances")),
            ("collection", ("collect",)),
            ("maintenance", ("maint",)),
        ),
    ),
    Kind("training_log", "training log", ("training_log", "train_log", "training"), (), False),
    Kind("evaluation_notebook", "evaluation notebook", ("evaluation", "eval_"), (), False),
    Kind(
        "runbook",
        "runbook",
        ("runbook", "playbook"),
        (
            ("what to do when it breaks", ("when", "alert", "incident", "fail", "break")),
            ("contacts", ("contact", "escalat", "owner", "on-call", "on call")),
        ),
    ),
    Kind("rollback", "rollback procedure", ("rollback",)),
    Kind(
        "monitoring_thresholds",
        "monitoring thresholds",
        ("monitoring", "threshold", "alerting"),
        (("thresholds", ("threshold", "alert", "limit")),),
    ),
    Kind(
        "incident_sla",
        "incident SLAs",
        ("incident", "sla"),
        (("response times", ("sla", "response", "severity", "time")),),
    ),
)
"""The documents a launch needs, in report order."""

PLACEHOLDER = re.compile(
    r"\bTODO\b|\bTBD\b|\bFIXME\b|\bXXX\b|lorem ipsum|<[^<>\n]{0,40}(?:fill|insert|name|"
    r"describe|add|todo)[^<>\n]{0,40}>|\{\{[^{}\n]+\}\}|\[(?:insert|fill|add|describe)[^\]\n]*\]",
    re.IGNORECASE,
)

STATUS_THRESHOLD = Threshold("missing_count", fail=0)


class DocumentsOptions(BaseModel):
    """``checks.governance.documents.params``."""

    model_config = ConfigDict(extra="forbid")

    required: list[str] = Field(
        default_factory=lambda: [k.key for k in KINDS],
        description="The kinds of document required (default: all eight).",
    )


@check(
    "governance.documents",
    domain="governance",
    title="Governance documents present, filled in, versioned and current",
    severity=Severity.MAJOR,
    thresholds=(
        STATUS_THRESHOLD,
        Threshold("missing_sections", warn=0),
        Threshold("placeholder_count", warn=0),
        Threshold("unversioned_count", warn=0),
        Threshold("stale_count", warn=0),
        Threshold("unreadable_count", fail=0),
    ),
    requires=("documents",),
    options=DocumentsOptions,
    remediation="Write or complete the document in the documents folder, commit it, and update "
    "it whenever the model or its data change.",
)
def documents(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding per required kind of document, and one per unreadable file."""
    options = params.options
    assert isinstance(options, DocumentsOptions)
    unknown = sorted(set(options.required) - {k.key for k in KINDS})
    if unknown:
        return [
            params.finding(
                "*",
                status=Status.ERROR,
                message=f"params.required names unknown kinds {', '.join(unknown)}; the kinds "
                f"are {', '.join(k.key for k in KINDS)}.",
                remediation=f"Fix `checks.{params.info.id}.params.required`.",
            )
        ]
    assert ctx.spec.documents is not None
    folder = read_folder(ctx.spec.resolve(ctx.spec.documents))
    inputs = _inputs_changed(ctx)
    findings = [
        params.finding(
            f"documents/{name}",
            status=Status.FAIL,
            message=f"documents/{name} {reason}; it cannot be checked or stored as evidence.",
            metrics={"unreadable_count": 1},
            threshold=params.thresholds["unreadable_count"],
            remediation="Make the file readable (permissions) and save it as UTF-8 text.",
        )
        for name, reason in folder.unreadable.items()
    ]
    for kind in KINDS:
        if kind.key in options.required:
            findings.append(_judge(params, folder, kind, inputs, params.owner))
    return findings


def _inputs_changed(ctx: Context) -> tuple[datetime, str] | None:
    """The newest change among the model file and the data files: when, and which."""
    paths: list[Path] = [ds.path for ds in ctx.datasets.values() if ds.path is not None]
    if ctx.spec.model is not None and ctx.spec.model.path is not None:
        paths.append(ctx.spec.resolve(Path(ctx.spec.model.path)))
    stamps = [(last_change(p), p.name) for p in paths if p.is_file()]
    return max(stamps) if stamps else None


def _judge(
    params: CheckParams,
    folder: Folder,
    kind: Kind,
    inputs: tuple[datetime, str] | None,
    owner: str,
) -> Finding:
    subject = f"documents:{kind.key}"
    found = folder.matching(*kind.aliases)
    section_only = None
    if not found and kind.key == "rollback":
        section_only = _rollback_section(folder)
    if not found and section_only is None:
        names = ", ".join(f"{a}.md" for a in kind.aliases[:2])
        return params.finding(
            subject,
            status=Status.FAIL,
            message=f"no {kind.title} in {folder.root} (looked for files named like {names}); "
            f"owner: {owner}.",
            metrics={"missing_count": 1},
            threshold=STATUS_THRESHOLD,
        )
    if section_only is not None:
        doc = section_only
        problems: list[str] = []
        metrics = {"missing_count": 0, "missing_sections": 0, "placeholder_count": 0}
        metrics |= _version(doc, kind, inputs, problems)
        return _graded(params, subject, kind, doc, problems, metrics, owner, via="section")
    doc = found[0]
    problems = []
    missing = _missing_sections(doc, kind)
    if missing:
        problems.append(f"missing section(s): {', '.join(missing)}")
    placeholders = PLACEHOLDER.findall(doc.text or "")
    if placeholders:
        shown = ", ".join(sorted({p.strip()[:30] for p in placeholders})[:5])
        problems.append(f"{len(placeholders)} template placeholder(s) left ({shown})")
    metrics = {
        "missing_count": 0,
        "missing_sections": len(missing),
        "placeholder_count": len(placeholders),
    }
    metrics |= _version(doc, kind, inputs, problems)
    return _graded(params, subject, kind, doc, problems, metrics, owner)


def _missing_sections(doc: DocumentFile, kind: Kind) -> list[str]:
    if not kind.sections or doc.text is None:
        return []
    parsed = parse_document(doc.relative, doc.text)
    titles = [t.lower() for t, text in parsed.passages if text.strip()]
    return [
        name
        for name, keywords in kind.sections
        if not any(k in title for title in titles for k in keywords)
    ]


def _rollback_section(folder: Folder) -> DocumentFile | None:
    """A runbook with a ``## Rollback`` section stands in for a rollback procedure."""
    for doc in folder.matching("runbook", "playbook"):
        parsed = parse_document(doc.relative, doc.text or "")
        if any("rollback" in t.lower() and text.strip() for t, text in parsed.passages):
            return doc
    return None


def _version(
    doc: DocumentFile, kind: Kind, inputs: tuple[datetime, str] | None, problems: list[str]
) -> dict[str, int]:
    unversioned = 0
    if doc.git == "modified":
        unversioned = 1
        problems.append("changed since its last git commit")
    elif doc.git == "untracked":
        unversioned = 1
        problems.append("not committed to git")
    stale = 0
    if kind.current and inputs is not None and doc.changed < inputs[0]:
        stale = 1
        problems.append(
            f"last changed {doc.changed:%Y-%m-%d %H:%M}, before {inputs[1]} "
            f"({inputs[0]:%Y-%m-%d %H:%M})"
        )
    return {"unversioned_count": unversioned, "stale_count": stale}


def _graded(
    params: CheckParams,
    subject: str,
    kind: Kind,
    doc: DocumentFile,
    problems: Sequence[str],
    metrics: dict[str, int],
    owner: str,
    via: str = "file",
) -> Finding:
    where = f"the rollback section of {doc.relative}" if via == "section" else doc.relative
    version = {
        "committed": "committed in git",
        "modified": "in git",
        "untracked": "in a git work tree",
        "no git": "versioned by its hash in the run",
    }[doc.git]
    if not problems:
        return params.finding(
            subject,
            status=Status.PASS,
            message=f"{kind.title}: {where}, every required section filled, {version}, current.",
            metrics=metrics,
            threshold=STATUS_THRESHOLD,
        )
    graded = [
        params.thresholds[m]
        for m in ("missing_sections", "placeholder_count", "unversioned_count", "stale_count")
        if metrics.get(m)
    ]
    return params.finding(
        subject,
        status=Status.WARN,
        message=f"{kind.title} {where}: {'; '.join(problems)}; owner: {owner}.",
        metrics=metrics,
        threshold=graded[0] if graded else STATUS_THRESHOLD,
        severity=Severity.MINOR,
    )
