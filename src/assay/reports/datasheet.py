"""The datasheet of a stored run's data, in the sections of Gebru et al.

*Datasheets for Datasets* (Communications of the ACM, 2021) asks about motivation,
composition, the collection process, preprocessing/cleaning/labelling, uses, distribution and
maintenance. Composition and preprocessing are filled from the run's evidence (dataset
manifests, integrity findings, the lineage the spec declared); the rest from the run's
``documents/datasheet.md``, or marked missing with the owner who should write it.
"""

from __future__ import annotations

from typing import Any

from assay.reports._documents import Evidence, Load, findings_table, human, number, table
from assay.run import Run
from assay.sources.digests import digest_label

SECTIONS = (
    "Motivation",
    "Composition",
    "Collection process",
    "Preprocessing, cleaning and labelling",
    "Uses",
    "Distribution",
    "Maintenance",
)
"""Gebru et al.'s sections, in their order."""

DATASHEET_DOCUMENT = "datasheet.md"


def datasheet(run: Run, *, run_id: str, load: Load) -> str:
    """The datasheet of ``run``'s datasets as Markdown."""
    ev = Evidence(run, run_id, load)
    doc = ev.document(DATASHEET_DOCUMENT)
    owner = ev.owner("integrity", "governance")
    name = run.system.get("name", "system")
    parts = [
        f"# Datasheet: the data of {name}",
        "",
        f"Built from run `{run_id[:12]}` ({run.created}, Assay {run.tool_version}). Composition "
        "and preprocessing come from the run's evidence; the other sections from its "
        f"`documents/{DATASHEET_DOCUMENT}`" + ("" if doc else " (the run stored none)") + ". "
        "Sections after Gebru et al., *Datasheets for Datasets* (2021).",
    ]

    def section(title: str, body: str) -> None:
        parts.extend(["", f"## {title}", "", body.strip()])

    section(
        "Motivation",
        human(
            [doc],
            ("motivation", "purpose", "source", "created"),
            owner,
            what="motivation (why the data was created, by whom, funded by whom)",
        ),
    )
    section("Composition", _composition(ev, doc, owner))
    section(
        "Collection process",
        human(
            [doc],
            ("collect", "consent", "sampling"),
            owner,
            what="collection process (how, when, consent)",
        ),
    )
    section("Preprocessing, cleaning and labelling", _preprocessing(ev, doc, owner))
    section(
        "Uses",
        (ev.spec.get("system", {}) or {}).get("description", "")
        + "\n\n"
        + human([doc], ("use", "task"), owner, what="uses (intended, other, not to be used for)"),
    )
    section(
        "Distribution",
        human(
            [doc],
            ("distribut", "licen", "access"),
            owner,
            what="distribution (to whom, how, under which licence)",
        ),
    )
    section("Maintenance", _maintenance(ev, doc, owner))
    return "\n".join(parts) + "\n"


def _composition(ev: Evidence, doc: Any, owner: str) -> str:
    out = []
    for name in ev.artefacts("manifest/"):
        manifest = ev.artefact_json(name)
        if not isinstance(manifest, dict):
            continue
        dataset = manifest.get("dataset")
        columns = manifest.get("columns") or []
        spec = ev.datasets().get(str(dataset), {})
        roles = {
            spec.get(k): k
            for k in ("target", "prediction", "score", "id", "timestamp")
            if spec.get(k)
        }
        sensitive = {
            (f if isinstance(f, str) else f.get("column")) for f in spec.get("sensitive") or []
        }
        rows = [
            (
                f"`{c.get('name')}`",
                c.get("type"),
                roles.get(c.get("name"), "sensitive" if c.get("name") in sensitive else "feature"),
            )
            for c in columns
            if isinstance(c, dict)
        ]
        out.append(
            f"**{dataset}** ({manifest.get('role')}): {number(manifest.get('rows'))} rows, "
            f"{len(columns)} columns, `{digest_label(manifest)}`\n\n"
            + table(("column", "type", "role"), rows)
        )
    integrity = ev.findings("integrity")
    if integrity:
        out.append("**What the data-integrity checks found:**\n\n" + findings_table(integrity))
    out.append(
        human(
            [doc],
            ("composition", "rows", "columns", "identif", "limitation", "instances"),
            owner,
            what="composition (what an instance is, missing information, sensitive data)",
        )
    )
    return "\n\n".join(out)


def _preprocessing(ev: Evidence, doc: Any, owner: str) -> str:
    steps = ev.spec.get("lineage") or []
    rows = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        outputs = ", ".join(
            f"`{o.get('path')}`" for o in step.get("outputs") or [] if isinstance(o, dict)
        )
        rows.append(
            (
                step.get("name"),
                step.get("transform") or "—",
                step.get("code") or "—",
                outputs or "—",
            )
        )
    lineage = (
        "The lineage declared in the spec (each output's sha256 is checked by "
        "`integrity.lineage`):\n\n" + table(("step", "transform", "code", "outputs"), rows)
        if rows
        else "*The spec declares no lineage.*"
    )
    checked = [f for f in ev.findings("integrity") if f.check_id == "integrity.lineage"]
    return (
        lineage
        + ("\n\n" + findings_table(checked) if checked else "")
        + "\n\n"
        + human(
            [doc],
            ("preprocess", "clean", "label", "transform"),
            owner,
            what="preprocessing, cleaning and labelling",
        )
    )


def _maintenance(ev: Evidence, doc: Any, owner: str) -> str:
    owners = ev.spec.get("owners") or {}
    rows = [(k, v) for k, v in owners.items()] if isinstance(owners, dict) else []
    listed = table(("domain", "owner"), rows) if rows else "*The spec names no owners.*"
    return (
        listed
        + "\n\n"
        + human(
            [doc],
            ("maint", "update", "contact", "retention"),
            owner,
            what="maintenance (who maintains it, how updates and errata are published)",
        )
    )
