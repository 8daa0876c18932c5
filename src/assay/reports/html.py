"""The HTML report: one self-contained, offline file a reviewer can open from anywhere.

The page is rendered by the Jinja2 template ``templates/report.html.j2`` with autoescaping on;
everything a run carries is text to the template and is escaped. The only markup inserted
unescaped is the SVG the :mod:`assay.reports.plots`, :mod:`assay.reports._charts` and
:mod:`assay.reports._charts_performance` modules write, with every text escaped.
Styles and the small script that filters the findings
table are inline, so the file references nothing outside itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from assay._version import __version__
from assay.checks._registry import Finding
from assay.reports._common import (
    INLINE_JSON_LIMIT,
    JSON_MEDIA_TYPE,
    STATUS_COLOURS,
    STATUS_ORDER,
    Artefacts,
    Loader,
    counts_by_domain,
    domain_title,
    domains_in_order,
    fail_on_text,
    format_metric,
    key_fingerprint,
    key_metrics,
    ref_digest,
    short_id,
    signature_status,
    sorted_findings,
    verdict_counts,
)
from assay.reports._compliance import compliance_section, finding_anchor
from assay.reports._drift import PLOT_LIMIT as DRIFT_PLOT_LIMIT
from assay.reports._drift import drift_section
from assay.reports._fairness import fairness_section
from assay.reports._model import model_section
from assay.reports._performance import performance_section
from assay.reports._robustness import robustness_section
from assay.reports._template_cache import template_cache
from assay.run import Run
from assay.sources.digests import first_digest

TEMPLATE = "report.html.j2"
_HEADER_KEYS = frozenset({"name", "version"})
UNLISTED_EVIDENCE = "not listed among the run's artefacts"
LARGE_EVIDENCE = "larger than {limit:,} bytes; read it with `assay runs show`"
SPENT_EVIDENCE = "not inlined: the report's {limit:,}-byte budget for inline evidence is spent"
DRIFT_EVIDENCE = "drawn in the Drift section of this report"
SIGNATURE_LABELS = {
    "valid": "valid",
    "invalid": "INVALID: changed after signing",
    "other_run": "signed for another run",
    "unsigned": "unsigned",
    "unreadable": "not an approval record",
}
INLINE_TOTAL_LIMIT = 5_000_000
"""Inline JSON evidence stops once the page holds this many bytes of it (shared evidence is
repeated in every finding that cites it)."""


@dataclass(frozen=True)
class EvidenceView:
    """One evidence reference of a finding, as the report shows it."""

    ref: str
    digest: str
    name: str | None = None
    media_type: str | None = None
    size: int | None = None
    content: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class FindingView:
    """One finding with everything its table row and expanded details show."""

    finding: Finding
    domain_title: str
    blocking: bool
    key_metrics: list[tuple[str, str]]
    metrics: list[tuple[str, str]]
    threshold: str | None
    evidence: list[EvidenceView] = field(default_factory=list)


def render_html(
    run: Run,
    *,
    run_id: str,
    load: Loader,
    approvals: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The report of a stored run as one HTML document."""
    artefacts = Artefacts(run, load)
    evidence = _Evidence(artefacts)
    blocking = set(run.verdict.blocking)
    findings = list(run.findings)
    domain_plot, threshold_plot, plot_omitted = _summary_plots(findings)
    context = {
        "run": run,
        "run_id": run_id,
        "renderer_version": __version__,
        "short_id": short_id(run_id),
        "system_name": run.system.get("name") or "unnamed system",
        "system_version": run.system.get("version"),
        "system_extra": sorted((k, v) for k, v in run.system.items() if k not in _HEADER_KEYS),
        "passed": run.verdict.passed,
        "fail_on": fail_on_text(run.verdict.fail_on),
        "counts": verdict_counts(run),
        "statuses": [s.value for s in STATUS_ORDER],
        "colours": STATUS_COLOURS,
        "domain_counts": [(d, domain_title(d), c) for d, c in counts_by_domain(findings).items()],
        "filter_domains": [(d, domain_title(d)) for d in domains_in_order(findings)],
        "findings": [_finding_view(f, blocking, evidence) for f in sorted_findings(findings)],
        "domain_plot": _markup(domain_plot),
        "threshold_plot": _markup(threshold_plot),
        "threshold_plot_omitted": plot_omitted,
        "drift": drift_section(run, artefacts),
        "drift_plot_limit": DRIFT_PLOT_LIMIT,
        "model": model_section(run, artefacts),
        "fairness": fairness_section(run, artefacts),
        "robustness": robustness_section(run, artefacts),
        "performance": performance_section(run, artefacts, load),
        "compliance": compliance_section(run, artefacts),
        "manifests": [_manifest_view(a.name, c.data, c.problem) for a, c in artefacts.manifests()],
        "approvals": [_approval_view(a, run_id) for a in approvals],
        "signature_labels": SIGNATURE_LABELS,
        "inputs": list(run.inputs),
        "environment": sorted((str(k), _plain(v)) for k, v in run.environment.items()),
    }
    return _environment().get_template(TEMPLATE).render(context)


def _summary_plots(findings: Sequence[Finding]) -> tuple[str | None, str | None, int]:
    """The domain plot, the threshold plot and how many findings the latter left out."""
    if not findings:
        return None, None, 0
    from assay.reports import plots

    threshold_plot, omitted = plots.threshold_svg(findings)
    return plots.domain_status_svg(findings), threshold_plot, omitted


def _finding_view(
    finding: Finding, blocking: set[tuple[str, str]], evidence: _Evidence
) -> FindingView:
    return FindingView(
        finding=finding,
        domain_title=domain_title(finding.domain),
        blocking=finding.key in blocking,
        key_metrics=key_metrics(finding),
        metrics=[(n, format_metric(v)) for n, v in finding.metrics.items()],
        threshold=finding.threshold.describe() if finding.threshold else None,
        evidence=[evidence.view(ref) for ref in finding.evidence],
    )


class _Evidence:
    """Evidence views of one page, inlining small JSON artefacts until the page budget is spent."""

    def __init__(self, artefacts: Artefacts) -> None:
        self.artefacts = artefacts
        self.remaining = INLINE_TOTAL_LIMIT

    def view(self, ref: str) -> EvidenceView:
        digest = ref_digest(ref)
        artefact = self.artefacts.get(ref)
        if artefact is None:
            return EvidenceView(ref=ref, digest=digest, note=UNLISTED_EVIDENCE)
        view = EvidenceView(
            ref=ref,
            digest=digest,
            name=artefact.name,
            media_type=artefact.media_type,
            size=artefact.size,
        )
        if artefact.media_type != JSON_MEDIA_TYPE:
            return view
        if artefact.name.startswith("drift/drift."):  # one per comparison, shared by its columns
            return replace(view, note=DRIFT_EVIDENCE)
        if artefact.size > INLINE_JSON_LIMIT:
            return replace(view, note=LARGE_EVIDENCE.format(limit=INLINE_JSON_LIMIT))
        if artefact.size > self.remaining:
            return replace(view, note=SPENT_EVIDENCE.format(limit=INLINE_TOTAL_LIMIT))
        content = self.artefacts.json_content(digest)
        if content.problem:
            return replace(view, note=content.problem)
        self.remaining -= artefact.size
        pretty = json.dumps(content.data, indent=2, sort_keys=True, ensure_ascii=False)
        return replace(view, content=pretty)


def _manifest_view(name: str, data: Any, problem: str | None) -> dict[str, Any]:
    if problem is None and not isinstance(data, Mapping):
        problem = "content is not a JSON object"
    manifest = dict(data) if isinstance(data, Mapping) else {}
    columns = manifest.get("column_names")
    return {
        "artefact": name,
        "problem": problem,
        "dataset": manifest.get("dataset", name.removeprefix("manifest/")),
        "role": manifest.get("role"),
        "path": manifest.get("path"),
        "digest": first_digest(manifest),
        "bytes": manifest.get("bytes"),
        "rows": manifest.get("rows"),
        "columns": manifest.get("columns"),
        "schema_fingerprint": manifest.get("schema_fingerprint"),
        "column_names": ", ".join(map(str, columns)) if isinstance(columns, list) else None,
    }


def _approval_view(approval: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    return {
        "by": approval.get("by"),
        "at": approval.get("at"),
        "verdict": approval.get("verdict"),
        "fingerprint": key_fingerprint(approval),
        "signature": signature_status(approval, run_id),
    }


def _plain(value: Any) -> str:
    """An environment value as one line: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _markup(svg: str | None) -> Markup | None:
    """Mark the plots module's SVG as safe: it escapes all text it draws."""
    return Markup(svg) if svg is not None else None


def _thousands(value: Any) -> str:
    """``1,234,567`` for whole numbers; anything else (including None) as text or a dash."""
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _anchor(finding: Finding) -> str:
    """The id of a finding's row, which the compliance section links to."""
    return finding_anchor(finding.check_id, finding.subject)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("assay.reports", "templates"),
        bytecode_cache=template_cache(),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["thousands"] = _thousands
    env.filters["short"] = short_id
    env.filters["digest"] = first_digest
    env.filters["anchor"] = _anchor
    return env
