"""model.provenance: the audited model named in every report, untrusted loading a warning."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from _model_audits import GOOD_FEATURES, fit_model, make_table
from assay.api import execute
from assay.checks._registry import Status
from assay.sources.datasets import file_sha256
from assay.spec.loader import spec_from_mapping


def audit(root: Path, model: dict[str, Any]) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_table("good", 200, 2), root / "test.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "provenance"},
            "datasets": {"test": {"path": "test.parquet", "target": "y"}},
            "model": {**model, "features": GOOD_FEATURES},
        },
        base_dir=root,
    )
    result = execute(spec)
    (finding,) = [f for f in result.run.findings if f.check_id == "model.provenance"]
    return result, finding


def test_a_skops_file_is_named_with_its_hash(tmp_path: Path) -> None:
    import skops.io

    skops.io.dump(fit_model("good", make_table("good", 300, 1)), tmp_path / "m.skops")
    result, finding = audit(tmp_path, {"path": "m.skops"})
    digest = file_sha256(tmp_path / "m.skops")[0]
    assert finding.status is Status.PASS and finding.subject == "model"
    assert f"sha256 {digest[:16]}…" in finding.message
    assert finding.message.endswith("it loaded without running untrusted code.")
    record = result.load(finding.evidence[0])
    assert b'"sha256":"' + digest.encode() in record and b'"trust":false' in record


def test_a_trusted_pickle_is_a_warning_in_the_report(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    with (tmp_path / "m.pkl").open("wb") as fh:
        pickle.dump(fit_model("good", make_table("good", 300, 1)), fh)
    _, finding = audit(tmp_path, {"path": "m.pkl", "trust": True})
    assert finding.status is Status.WARN
    assert finding.metrics == {"trust_warning_count": 1}
    assert "which can run any code the file holds, because the spec says `trust: true`" in (
        finding.message
    )


def test_without_a_model_the_check_is_not_applicable(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    pq.write_table(make_table("good", 100, 2), tmp_path / "test.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "none"},
            "datasets": {"test": {"path": "test.parquet", "target": "y"}},
        },
        base_dir=tmp_path,
    )
    (finding,) = [f for f in execute(spec).run.findings if f.check_id == "model.provenance"]
    assert finding.status is Status.SKIPPED and "needs a `model:` reference" in finding.message
