"""Run ``security.pii`` on in-memory tables and read its findings and artefacts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.checks import load_builtin
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding
from assay.policy import params_for
from assay.sources import open_dataset
from assay.spec.loader import spec_from_mapping

load_builtin()


@dataclass
class Result:
    findings: list[Finding]
    artefacts: dict[str, tuple[str, Any]]

    def one(self, subject: str) -> Finding:
        (found,) = [f for f in self.findings if f.subject == subject]
        return found

    def artefact(self, finding: Finding) -> Any:
        (data,) = [
            self.artefacts[r][1]
            for r in finding.evidence
            if "security.pii/" in self.artefacts[r][0]
        ]
        return data

    def everything(self) -> str:
        """Every message and stored artefact, as one text (to look for raw values in)."""
        parts = [json.dumps(f.to_json()) for f in self.findings]
        parts += [json.dumps(data) for _, data in self.artefacts.values()]
        return "\n".join(parts)


def run_pii(
    datasets: Mapping[str, Mapping[str, Any]],
    base_dir: Path,
    *,
    params: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    model: Any = None,
) -> Result:
    checks: dict[str, Any] = {}
    if params or thresholds:
        checks["security.pii"] = {
            **({"params": dict(params)} if params else {}),
            **({"thresholds": dict(thresholds)} if thresholds else {}),
        }
    mapping: dict[str, Any] = {
        "version": 1,
        "system": {"name": "test"},
        "datasets": dict(datasets),
        "checks": checks,
    }
    if model is not None:
        mapping["model"] = model
    spec = spec_from_mapping(mapping, base_dir=base_dir)
    opened = {name: open_dataset(spec, name) for name in spec.datasets}
    ctx = Context(spec, opened)
    if model is not None:
        from assay.runner import open_model

        ctx.model = open_model(spec)
    info = REGISTRY["security.pii"]
    findings = info.function(ctx, params_for(info, spec))
    artefacts = {
        f"sha256:{digest}": (artefact.name, json.loads(raw))
        for digest, (artefact, raw) in ctx.artefacts.items()
        if artefact.media_type == "application/json"
    }
    return Result(findings, artefacts)
