"""Helpers for the integrity check tests: run one registered check on a spec built in Python.

Importable from test modules because pytest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import assay.checks.integrity  # noqa: F401  (registers the integrity checks)
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding
from assay.policy import params_for
from assay.sources import open_dataset
from assay.spec.loader import spec_from_mapping


@dataclass
class Result:
    """The findings of one check run, and the JSON artefacts it stored."""

    findings: list[Finding]
    artefacts: dict[str, Any] = field(default_factory=dict)

    def one(self, subject: str) -> Finding:
        """The single finding about ``subject``."""
        found = [f for f in self.findings if f.subject == subject]
        assert len(found) == 1, f"{len(found)} findings about {subject!r}: {self.subjects}"
        return found[0]

    @property
    def subjects(self) -> list[str]:
        return [f.subject for f in self.findings]

    def artefact(self, finding: Finding, prefix: str) -> Any:
        """The JSON artefact cited by ``finding`` whose name starts with ``prefix``."""
        matches = [
            self.artefacts[ref]
            for ref in finding.evidence
            if self.artefacts[ref][0].startswith(prefix)
        ]
        assert len(matches) == 1, (
            f"{finding.subject} cites {len(matches)} artefacts named {prefix}*"
        )
        return matches[0][1]


RunCheck = Callable[..., Result]


def run_check_in(base_dir: Path) -> RunCheck:
    def run(
        check_id: str,
        datasets: Mapping[str, Mapping[str, Any]],
        *,
        lineage: list[dict[str, Any]] | None = None,
        checks: Mapping[str, Any] | None = None,
        fingerprint: str = "blake3",
    ) -> Result:
        spec = spec_from_mapping(
            {
                "version": 1,
                "system": {"name": "test"},
                "fingerprint": fingerprint,
                "datasets": dict(datasets),
                "lineage": lineage or [],
                "checks": dict(checks or {}),
            },
            base_dir=base_dir,
        )
        opened = {name: open_dataset(spec, name) for name in spec.datasets}
        info = REGISTRY[check_id]
        ctx = Context(spec, opened)
        findings = info.function(ctx, params_for(info, spec))
        artefacts = {
            f"sha256:{digest}": (artefact.name, json.loads(raw))
            for digest, (artefact, raw) in ctx.artefacts.items()
            if artefact.media_type == "application/json"
        }
        return Result(findings, artefacts)

    return run
