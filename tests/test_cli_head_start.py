"""`assay audit` on large files hands the booting pass worker its first task before planning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _cli_support import invoke
from assay import cli
from assay.profiles import engine
from assay.profiles import pool as pool_module


def findings(path: Path) -> list[tuple[Any, ...]]:
    data = json.loads(path.read_text())
    return [
        (f["check_id"], f["subject"], f["status"], json.dumps(f.get("metrics"), sort_keys=True))
        for f in data["findings"]
    ]


def test_the_early_task_is_used_and_the_findings_are_those_of_a_plain_audit(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "INLINE_CELLS", 0)  # the small project's pass uses a worker
    spec = project / "assay.yaml"
    plain = invoke("audit", spec, "--repo", project / "a", "--json", project / "a.json", "-q")
    assert plain.exit_code in (0, 1), plain.stderr
    assert not pool_module._AHEAD

    claimed: list[dict[int, Any]] = []
    claim = pool_module._claim_early

    def spy(workers: Any, tasks: Any, adopt: Any) -> dict[int, Any]:
        claimed.append(claim(workers, tasks, adopt))
        return claimed[-1]

    monkeypatch.setattr(pool_module, "_claim_early", spy)
    monkeypatch.setattr(cli, "PRESTART_BYTES", 0)
    early = invoke("audit", spec, "--repo", project / "b", "--json", project / "b.json", "-q")

    assert early.exit_code == plain.exit_code, early.stderr
    assert claimed and len(claimed[0]) == 1  # the worker's early answer served the pass
    assert not pool_module._AHEAD and not pool_module._PRESTARTED
    assert findings(project / "b.json") == findings(project / "a.json")
