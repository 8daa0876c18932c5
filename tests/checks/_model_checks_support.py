"""Run model checks on a spec with (or without) a model, keeping the JSON artefacts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import assay.checks.model  # noqa: F401  (registers the model checks)
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding, Status
from assay.policy import params_for
from assay.runner import open_model
from assay.sources import open_dataset
from assay.spec.models import Spec


@dataclass
class Checked:
    findings: list[Finding]
    artefacts: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def one(self, subject: str) -> Finding:
        found = [f for f in self.findings if f.subject == subject]
        assert len(found) == 1, [(f.subject, f.status, f.message) for f in self.findings]
        return found[0]

    @property
    def statuses(self) -> set[Status]:
        return {f.status for f in self.findings}

    def artefact(self, finding: Finding, prefix: str) -> Any:
        hits = [
            self.artefacts[r] for r in finding.evidence if self.artefacts[r][0].startswith(prefix)
        ]
        assert len(hits) == 1, finding.evidence
        return hits[0][1]


def run_model_check(check_id: str, spec: Spec, *, ctx: Context | None = None) -> Checked:
    """Run ``check_id`` as the runner does (the spec's model loaded into the context)."""
    if ctx is None:
        ctx = context(spec)
    info = REGISTRY[check_id]
    findings = info.function(ctx, params_for(info, spec))
    artefacts = {
        f"sha256:{digest}": (artefact.name, json.loads(raw))
        for digest, (artefact, raw) in ctx.artefacts.items()
        if artefact.media_type == "application/json"
    }
    return Checked(findings, artefacts)


def context(spec: Spec) -> Context:
    ctx = Context(spec, {name: open_dataset(spec, name) for name in spec.datasets})
    ctx.model = open_model(spec)
    return ctx
