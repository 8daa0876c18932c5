"""The public surface: changing it must be a decision, not an accident."""

from __future__ import annotations

import assay

PUBLIC = [
    "AssayError",
    "CheckParams",
    "Finding",
    "Run",
    "Severity",
    "Spec",
    "Status",
    "TableProfile",
    "Threshold",
    "__version__",
    "audit",
    "check",
    "load_spec",
    "profile",
]


def test_public_names_are_exactly_these() -> None:
    assert assay.__all__ == PUBLIC
    assert sorted(assay.__all__) == assay.__all__
    for name in assay.__all__:
        assert hasattr(assay, name), name


def test_audit_in_memory_tables_returns_a_run() -> None:
    import pyarrow as pa

    table = pa.table({"x": [1.0, 2.0, None, 4.0] * 10, "y": [0, 1] * 20})
    run = assay.audit(
        {
            "version": 1,
            "system": {"name": "api"},
            "datasets": {"train": {"data": table, "target": "y"}},
        }
    )
    assert isinstance(run, assay.Run)
    missing = [
        f
        for f in run.findings
        if f.check_id == "integrity.missing_values" and f.subject == "train:x"
    ]
    assert missing and missing[0].metrics["missing_ratio"] == 0.25
    assert missing[0].status is assay.Status.WARN
