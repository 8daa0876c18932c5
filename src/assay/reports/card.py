"""The model card of a stored run, in the sections of Mitchell et al. (2019).

*Model Cards for Model Reporting* (FAT* 2019) lists nine sections: model details, intended
use, factors, metrics, evaluation data, training data, quantitative analyses, ethical
considerations, and caveats and recommendations. The quantitative parts are filled from the
run's evidence (its findings, stored spec and artefacts); the human-written parts from the
run's ``documents/model_card.md``, or marked missing with the owner who should write them.

    from assay.reports.card import model_card
    markdown = model_card(run, run_id=stored.id, load=repo.get)
"""

from __future__ import annotations

from typing import Any

from assay.reports._documents import (
    Evidence,
    Load,
    concerns,
    findings_table,
    human,
    number,
    table,
    with_interval,
)
from assay.run import Run
from assay.sources.digests import digest_label

SECTIONS = (
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
)
"""Mitchell et al.'s sections, in their order."""

CARD_DOCUMENT = "model_card.md"


def model_card(run: Run, *, run_id: str, load: Load) -> str:
    """The model card of ``run`` as Markdown."""
    ev = Evidence(run, run_id, load)
    doc = ev.document(CARD_DOCUMENT)
    owner = ev.owner("model", "governance")
    system = run.system
    title = f"Model card: {system.get('name', 'model')} {system.get('version') or ''}".strip()
    parts = [
        f"# {title}",
        "",
        f"Built from run `{run_id[:12]}` ({run.created}, Assay {run.tool_version}, verdict "
        f"**{run.verdict.status}**). Quantitative sections come from the run's evidence; the "
        f"others from its `documents/{CARD_DOCUMENT}`"
        + ("" if doc else " (the run stored none)")
        + ". Sections after Mitchell et al., *Model Cards for Model Reporting* (2019).",
    ]

    def section(name: str, body: str) -> None:
        parts.extend(["", f"## {name}", "", body.strip()])

    section("Model details", _details(ev, doc, owner))
    section(
        "Intended use",
        human(
            [doc],
            ("intended use", "primary use", "out of scope", "users"),
            owner,
            what="intended uses, users and out-of-scope uses",
        ),
    )
    section("Factors", _factors(ev, doc, owner))
    section("Metrics", _metrics(ev))
    section("Evaluation data", _evaluation_data(ev, doc, owner))
    section("Training data", _training_data(ev, doc, owner))
    section("Quantitative analyses", _quantitative(ev))
    section(
        "Ethical considerations",
        human([doc], ("ethic", "risk", "harm"), owner, what="ethical considerations")
        + "\n\n"
        + _fairness_summary(ev),
    )
    section(
        "Caveats and recommendations",
        human(
            [doc],
            ("caveat", "recommendation", "limitation"),
            owner,
            what="caveats and recommendations",
        )
        + "\n\nWhat the audit flagged:\n\n"
        + concerns(ev.findings()),
    )
    return "\n".join(parts) + "\n"


def _details(ev: Evidence, doc: Any, owner: str) -> str:
    spec_model = ev.spec.get("model") or {}
    source = _performance_source(ev)
    rows = [
        ("System", f"{ev.run.system.get('name')} {ev.run.system.get('version') or ''}".strip()),
        ("Description", ev.spec.get("system", {}).get("description") or "—"),
        ("Model owner", owner),
        ("Model", _model_ref(spec_model) or "none named in the spec"),
        ("Predictions audited", source or "—"),
        ("Audit run", f"`{ev.run_id}` at {ev.run.created}"),
    ]
    written = human(
        [doc],
        ("model", "version", "owner", "task", "architecture", "licen"),
        owner,
        what="model details (type, training algorithm, licence, contact)",
    )
    return table(("field", "value"), rows) + "\n\n" + written


def _model_ref(model: Any) -> str | None:
    if not isinstance(model, dict) or not model:
        return None
    for key in ("path", "callable", "url", "object"):
        if model.get(key):
            kind = model.get("format") or key
            return f"{kind}: `{model[key]}`"
    return None


def _performance_source(ev: Evidence) -> str | None:
    for name in ev.artefacts("model/performance/"):
        data = ev.artefact_json(name)
        if isinstance(data, dict) and data.get("source"):
            return str(data["source"])
    return None


def _factors(ev: Evidence, doc: Any, owner: str) -> str:
    rows = []
    for name, ds in ev.datasets().items():
        for feature in ds.get("sensitive") or []:
            column = feature if isinstance(feature, str) else feature.get("column")
            privileged = None if isinstance(feature, str) else feature.get("privileged")
            rows.append((name, f"`{column}`", "—" if privileged is None else str(privileged)))
    declared = (
        "Sensitive features audited (and the privileged value where declared):\n\n"
        + table(("dataset", "feature", "privileged value"), rows)
        if rows
        else "*No sensitive features are declared in the spec.*"
    )
    return (
        declared
        + "\n\n"
        + human([doc], ("factor", "group", "population"), owner, what="relevant factors and groups")
    )


def _metrics(ev: Evidence) -> str:
    rows = []
    seen = set()
    for f in ev.findings("model", "fairness", "robustness"):
        if f.threshold is None or (f.check_id, f.threshold.metric) in seen:
            continue
        seen.add((f.check_id, f.threshold.metric))
        rows.append((f"`{f.check_id}`", f.threshold.describe()))
    if not rows:
        return "*The run graded no model, fairness or robustness metric.*"
    return (
        "Graded metrics and their thresholds (every interval is a 95 % bootstrap percentile "
        "interval unless the check says otherwise; definitions in Assay's docs/model-metrics.md "
        "and docs/fairness.md):\n\n" + table(("check", "threshold"), rows)
    )


def _dataset_rows(ev: Evidence, roles: tuple[str, ...]) -> list[tuple[Any, ...]]:
    inputs = ev.inputs()
    rows = []
    for name, item in inputs.items():
        if item.get("role") in roles:
            rows.append(
                (
                    name,
                    item.get("role"),
                    item.get("path") or "in memory",
                    number(item.get("rows")),
                    number(item.get("columns")),
                    f"`{digest_label(item)}`",
                )
            )
    return rows


def _evaluation_data(ev: Evidence, doc: Any, owner: str) -> str:
    rows = _dataset_rows(ev, ("test", "ood", "current"))
    listed = (
        table(("dataset", "role", "file", "rows", "columns", "digest"), rows)
        if rows
        else "*No test, out-of-distribution or current dataset in the run.*"
    )
    return (
        listed
        + "\n\n"
        + human([doc], ("evaluation",), owner, what="evaluation data (why chosen, preprocessing)")
    )


def _training_data(ev: Evidence, doc: Any, owner: str) -> str:
    rows = _dataset_rows(ev, ("train", "reference"))
    listed = (
        table(("dataset", "role", "file", "rows", "columns", "digest"), rows)
        if rows
        else "*No training dataset in the run.*"
    )
    integrity = [f for f in ev.findings("integrity") if f.subject.split(":")[0] == "train"]
    summary = (
        "\n\nData-integrity findings on the training data:\n\n" + findings_table(integrity)
        if integrity
        else ""
    )
    return (
        listed
        + summary
        + "\n\n"
        + human([doc], ("training data", "data"), owner, what="training data")
    )


def _quantitative(ev: Evidence) -> str:
    out = []
    performance = [f for f in ev.findings("model") if f.check_id == "model.performance"]
    for f in performance:
        names = [
            k
            for k in f.metrics
            if not k.endswith(("_ci_low", "_ci_high"))
            and k != "n_rows"
            and f.metrics[k] is not None
        ]
        rows = [(k, with_interval(f.metrics, k)) for k in names]
        out.append(
            f"**Performance on `{f.subject}`** ({number(f.metrics.get('n_rows'))} rows; value "
            "[95% CI]):\n\n" + table(("metric", "value"), rows)
        )
    other = [f for f in ev.findings("model") if f.check_id != "model.performance"]
    if other:
        out.append("**Other model-validation findings:**\n\n" + findings_table(other))
    groups = _group_tables(ev)
    if groups:
        out.append(groups)
    fairness = ev.findings("fairness")
    if fairness:
        out.append("**Fairness (unitary and intersectional):**\n\n" + findings_table(fairness))
    robustness = ev.findings("robustness")
    if robustness:
        out.append("**Robustness:**\n\n" + findings_table(robustness))
    return "\n\n".join(out) if out else "*The run has no model, fairness or robustness finding.*"


def _group_tables(ev: Evidence) -> str:
    """Per-group rates from the fairness artefacts, when the run stored them."""
    out = []
    for name in ev.artefacts("fairness/"):
        data = ev.artefact_json(name)
        for grouping in _groupings(data):
            groups = grouping.get("groups") or []
            rows = [
                (
                    g.get("group"),
                    number(g.get("size")),
                    number(g.get("selection_rate")),
                    number(g.get("tpr")),
                    number(g.get("fpr")),
                    number(g.get("precision")),
                    number(g.get("error_rate")),
                    "yes" if g.get("small") else "",
                )
                for g in groups
                if isinstance(g, dict)
            ]
            if rows:
                features = " & ".join(grouping.get("features") or []) or "groups"
                out.append(
                    f"**Per-group results, {features}** ({name}):\n\n"
                    + table(
                        (
                            "group",
                            "size",
                            "selection rate",
                            "TPR",
                            "FPR",
                            "precision",
                            "error rate",
                            "small",
                        ),
                        rows,
                    )
                )
    return "\n\n".join(out)


def _groupings(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        if isinstance(data.get("groups"), list):
            return [data]
        for key in ("groupings", "results"):
            if isinstance(data.get(key), list):
                return [g for g in data[key] if isinstance(g, dict)]
    if isinstance(data, list):
        return [g for g in data if isinstance(g, dict) and isinstance(g.get("groups"), list)]
    return []


def _fairness_summary(ev: Evidence) -> str:
    fairness = ev.findings("fairness")
    if not fairness:
        return "The run holds no fairness finding: declare `sensitive:` columns to audit groups."
    failing = [f for f in fairness if f.status.value in ("fail", "warn")]
    if not failing:
        return f"All {len(fairness)} fairness findings pass."
    return f"{len(failing)} of {len(fairness)} fairness findings warn or fail:\n\n" + (
        findings_table(failing)
    )
