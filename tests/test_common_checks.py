"""Invariants every registered check must keep ("we shouldn't forget any check").

Each check runs on a good fixture and on a deliberately bad one — train and test files with a
schema, ids, pinned checksums and a lineage, so every data check applies. The baseline of both
is a run of the good fixture, so a baseline comparison passes on the good fixture and finds
regressions on the bad one; a check that reads other checks' findings (``after_checks``) gets
those of every other applicable check. A check whose ``requires`` the fixtures cannot provide
(a model, documents) is skipped here with the reason; extend the fixtures when such a check
lands.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.checks import load_builtin
from assay.checks._context import Context
from assay.checks._registry import DOMAINS, REGISTRY, CheckInfo, Finding, Severity, Status
from assay.policy import params_for
from assay.profiles.engine import ScanOptions
from assay.run import Run, compute_verdict
from assay.sources import file_sha256, open_dataset
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

load_builtin()  # every built-in check, so none is forgotten

DOCS = Path(__file__).resolve().parents[1] / "docs"
CATALOGUE = [DOCS / "checks.md", *sorted(DOCS.glob("checks-*.md"))]
"""The check catalogue: docs/checks.md and one docs/checks-<domain>.md per later domain."""

INFORMATIONAL = {"integrity.manifest"}
"""Checks that report facts without judging them: they never warn or fail (docs/checks.md)."""

FIXTURE_CAPABILITIES = {
    "datasets",
    "target",
    "train",
    "train_test",
    "schema",
    "ids",
    "checksums",
    "lineage",
    "sensitive",
    "documents",
    "baseline",
    "predictions",
    "scored",
    "reference_current",
}

SCHEMA: dict[str, Any] = {
    "columns": {
        "id": {"type": "integer", "nullable": False, "unique": True},
        "age": {"type": "integer", "nullable": False, "min": 18, "max": 100},
        "income": {"type": "float", "min": 0},
        "colour": {"type": "string", "allowed": ["red", "green", "blue"]},
        "sex": {"type": "string", "allowed": ["f", "m"]},
        "y": {"type": "integer", "nullable": False, "allowed": [0, 1]},
        "pred": {"type": "integer", "nullable": False, "allowed": [0, 1]},
        "score": {"type": "float", "nullable": False, "min": 0, "max": 1},
    },
    "extra_columns": "fail",
}
COLOURS = ["red", "green", "blue"]


def good_tables() -> tuple[pa.Table, pa.Table, pa.Table]:
    """Balanced, complete, unique rows; test rows share nothing with train; current data
    drawn like train."""

    def table(n: int, first_id: int, offset: float) -> pa.Table:
        return pa.table(
            {
                "id": list(range(first_id, first_id + n)),
                "age": [18 + i % 60 for i in range(n)],
                "income": [1000.0 + offset + 10.5 * i for i in range(n)],
                "colour": [COLOURS[i % 3] for i in range(n)],
                "sex": ["f" if i % 4 < 2 else "m" for i in range(n)],
                "y": [i % 2 for i in range(n)],
                "pred": [i % 2 if i % 10 else 1 - i % 2 for i in range(n)],  # 90% right
                # Calibrated: rows predicted 1 are positive 90% of the time.
                "score": [0.9 if (i % 2 if i % 10 else 1 - i % 2) else 0.1 for i in range(n)],
            }
        )

    return table(200, 0, 0.0), table(100, 1000, 0.25), table(200, 5000, 0.0)


def bad_tables() -> tuple[pa.Table, pa.Table, pa.Table]:
    """Every integrity problem at once, and current data that drifted everywhere."""
    n = 200
    ids = list(range(n))
    ids[5] = ids[6] = 4  # repeated ids
    age = [18 + i % 60 for i in range(n)]
    age[7] = 150  # out of range
    income: list[float | None] = [1000.0 + 10.5 * i for i in range(n)]
    for i in range(0, n, 2):
        income[i] = None  # 50% missing
    colour = [COLOURS[i % 3] for i in range(n)]
    colour[8] = colour[9] = "purple"  # not allowed
    y = [1 if i % 50 == 0 else 0 for i in range(n)]  # 2% positives
    pred = [1 if c == "red" else 0 for c in colour]  # by colour alone: useless and unfair
    score = [0.99 if p else 0.01 for p in pred]  # and sure of itself: miscalibrated
    rows = {
        "id": ids,
        "age": age,
        "income": income,
        "colour": colour,
        "sex": ["f"] * n,
        "y": y,
        "pred": pred,
        "score": score,
    }
    train = pa.table(rows)
    # Duplicate rows (beyond the id), and conflicting labels on identical features.
    copies = train.slice(100, 40).to_pydict()
    copies["id"] = list(range(1000, 1040))
    flipped = train.slice(150, 10).to_pydict()
    flipped["id"] = list(range(2000, 2010))
    flipped["y"] = [1 - v for v in flipped["y"]]
    train = pa.concat_tables([train, pa.table(copies), pa.table(flipped)])
    notes: list[str | None] = [None] * train.num_rows
    notes[0] = "contact jo.smith@example.com"  # personal data in a free-text column
    train = train.append_column("notes", pa.array(notes, pa.string()))
    test = train.slice(0, 60).drop_columns(["age"])  # copied from train, and a column missing
    test = test.append_column(
        "age", pa.array([str(a) for a in train.column("age")[:60].to_pylist()])
    )
    current = pa.table(
        {
            "id": list(range(5000, 5000 + n)),
            "age": [70 + i % 10 for i in range(n)],
            "income": [9000.0 + 30.0 * i for i in range(n)],
            "colour": ["red"] * n,
            "sex": ["m"] * n,
            "y": [1] * n,
            "pred": [1] * n,
            "score": [0.99] * n,
            "notes": pa.array([None] * n, pa.string()),
        }
    )
    return train, test, current


def build_spec(kind: str, root: Path) -> Spec:
    """The good or bad fixture: Parquet files, pinned checksums, a two-step lineage."""
    root.mkdir(parents=True, exist_ok=True)
    train, test, current = good_tables() if kind == "good" else bad_tables()
    pq.write_table(train, root / "train.parquet")
    pq.write_table(test, root / "test.parquet")
    pq.write_table(current, root / "current.parquet")
    (root / "raw.csv").write_text("id,age\n1,30\n")
    pq.write_table(
        pa.concat_tables([train.select(["id"]), test.select(["id"])]), root / "clean.parquet"
    )
    sha = {
        name: file_sha256(root / name)[0]
        for name in ("raw.csv", "clean.parquet", "train.parquet", "test.parquet")
    }
    pinned_train = sha["train.parquet"]
    if kind == "bad":
        pinned_train = "0" * 64
        (root / "raw.csv").write_text("id,age\n1,31\n")  # tampered after its hash was recorded
    dataset = {
        "target": "y",
        "id": "id",
        "positive_label": 1,
        "prediction": "pred",
        "score": "score",
        "sensitive": ["sex", "colour"],
        "schema": SCHEMA,
    }
    from _governance_docs import COMPLETE, write_documents

    # Good: every governance document, complete; bad: only a model card left at a template.
    docs = COMPLETE if kind == "good" else {"model_card.md": "# Model card\n\nTODO\n"}
    write_documents(root / "documents", docs)
    return spec_from_mapping(
        {
            "version": 1,
            "system": {"name": f"{kind} fixture"},
            "documents": "documents",
            "owners": {"default": "data-team"},
            "datasets": {
                "train": {**dataset, "path": "train.parquet", "sha256": pinned_train},
                "test": {**dataset, "path": "test.parquet", "sha256": sha["test.parquet"]},
                "current": {**dataset, "path": "current.parquet"},
            },
            "lineage": [
                {
                    "name": "ingest",
                    "inputs": [{"path": "raw.csv", "sha256": sha["raw.csv"]}],
                    "transform": "clean and deduplicate",
                    "outputs": [{"path": "clean.parquet", "sha256": sha["clean.parquet"]}],
                },
                {
                    "name": "split",
                    "inputs": [
                        {
                            "path": "clean.parquet",
                            "sha256": sha["clean.parquet"] if kind == "good" else "1" * 64,
                        }
                    ],
                    "transform": "split by customer",
                    "outputs": [
                        {"path": "train.parquet", "sha256": sha["train.parquet"]},
                        {"path": "test.parquet", "sha256": sha["test.parquet"]},
                    ],
                },
            ],
        },
        base_dir=root,
    )


def applicable(info: CheckInfo) -> bool:
    return info.requires <= FIXTURE_CAPABILITIES


def run(info: CheckInfo, spec: Spec, baseline: Run | None = None) -> list[Finding]:
    """Run check ``info`` as the runner would: after-checks see the other checks' findings."""
    datasets = {name: open_dataset(spec, name) for name in spec.datasets}
    sample = max(i.sample_rows for i in REGISTRY.values())
    ctx = Context(spec, datasets, options=ScanOptions(seed=spec.seed, sample_size=sample))
    ctx.baseline = baseline
    if info.after_checks:
        for other in sorted(REGISTRY.values(), key=lambda i: i.id):
            if applicable(other) and not other.after_checks:
                ctx.findings.extend(other.function(ctx, params_for(other, spec)))
    return info.function(ctx, params_for(info, spec))


def baseline_run(root: Path) -> Run:
    """A run of every applicable non-after check on the good fixture: the approved baseline."""
    spec = build_spec("good", root)
    findings = [
        f
        for info in sorted(REGISTRY.values(), key=lambda i: i.id)
        if applicable(info) and not info.after_checks
        for f in run(info, spec)
    ]
    return Run(
        created="2026-01-01T00:00:00+00:00",
        tool_version="test",
        system={"name": "good fixture", "version": "0.0.0"},
        seed=0,
        spec_sha256="0" * 64,
        inputs=[],
        environment={},
        findings=findings,
        verdict=compute_verdict(findings, Severity.BLOCKER),
    )


@pytest.mark.parametrize("check_id", sorted(REGISTRY))
def test_check_invariants(check_id: str, tmp_path: Path) -> None:
    info = REGISTRY[check_id]
    missing = info.requires - FIXTURE_CAPABILITIES
    if missing:
        pytest.skip(f"the common fixtures do not provide {sorted(missing)}")
    assert info.domain in DOMAINS and check_id.startswith(info.domain + ".")
    baseline = baseline_run(tmp_path / "baseline") if "baseline" in info.requires else None
    for kind in ("good", "bad"):
        spec = build_spec(kind, tmp_path / kind)
        findings = run(info, spec, baseline)
        again = run(info, spec, baseline)
        assert findings == again, f"{check_id} is not deterministic on the {kind} fixture"
        assert findings, f"{check_id} gave no finding on the {kind} fixture"
        for f in findings:
            assert f.check_id == check_id and f.check_id in REGISTRY
            assert f.domain == info.domain
            assert f.owner.strip()
            assert f.subject.strip()
            assert f.message.strip()
            assert isinstance(f.status, Status)
            assert all(ref.startswith("sha256:") and len(ref) == 71 for ref in f.evidence)
            assert set(f.undefined) <= {k for k, v in f.metrics.items() if v is None}
            json.dumps(f.to_json(), allow_nan=False)
            assert Finding.from_json(json.loads(json.dumps(f.to_json()))) == f
        statuses = {f.status for f in findings}
        if kind == "good":
            assert not statuses & {Status.FAIL, Status.ERROR}, [f.message for f in findings]
        elif check_id in INFORMATIONAL:
            assert statuses <= {Status.PASS, Status.SKIPPED}
        else:
            assert statuses & {Status.FAIL, Status.WARN}, [f.message for f in findings]


MODEL_CHECKS = sorted(c for c, i in REGISTRY.items() if i.requires & {"model", "ood"})
"""Checks the common fixtures cannot run (they need a model object or an ``ood`` dataset)."""


UNFLAGGED_BY_THE_BAD_AUDIT = {
    "model.ood": "the bad tree's labels ignore x1, so the shifted data hurts it no further",
    "robustness.out_of_range": "grades crashes and invalid outputs; a tree answers any value",
    "model.provenance": "warns on loads under `trust: true`; the audits pass a Python object",
}
"""Checks whose failure needs a defect the bad model audit does not have (their own tests
plant one)."""


@pytest.fixture(scope="module")
def model_audits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Spec]:
    from _model_audits import model_spec

    root = tmp_path_factory.mktemp("model-audits")
    return {kind: model_spec(kind, root / kind, n=600) for kind in ("good", "bad")}


@pytest.mark.parametrize("check_id", MODEL_CHECKS)
def test_model_check_invariants(check_id: str, model_audits: dict[str, Spec]) -> None:
    """The structural invariants above, on the good and bad model audits of _model_audits.

    Whether a finding passes is each domain's business (losing the strongest feature hurts
    a good model too, by design); here: deterministic, well-formed, JSON round trips, no
    ``error`` on the good audit, and something flagged on the bad one.
    """
    from assay.runner import open_model

    info = REGISTRY[check_id]
    flagged = set()
    for kind, spec in model_audits.items():
        model = open_model(spec)

        def once(spec: Spec, model: Any) -> list[Finding]:
            datasets = {name: open_dataset(spec, name) for name in spec.datasets}
            ctx = Context(spec, datasets, options=ScanOptions(seed=spec.seed))
            ctx.model = model
            return info.function(ctx, params_for(info, spec))

        findings = once(spec, model)
        again = once(spec, model)
        assert findings == again, f"{check_id} is not deterministic on the {kind} audit"
        assert findings, f"{check_id} gave no finding on the {kind} audit"
        for f in findings:
            assert f.check_id == check_id and f.domain == info.domain
            assert f.owner.strip() and f.subject.strip() and f.message.strip()
            assert all(ref.startswith("sha256:") and len(ref) == 71 for ref in f.evidence)
            assert set(f.undefined) <= {k for k, v in f.metrics.items() if v is None}
            json.dumps(f.to_json(), allow_nan=False)
            assert Finding.from_json(json.loads(json.dumps(f.to_json()))) == f
        statuses = {f.status for f in findings}
        if kind == "good":
            assert Status.ERROR not in statuses, [f.message for f in findings]
        flagged |= statuses & {Status.FAIL, Status.WARN}
    if check_id not in UNFLAGGED_BY_THE_BAD_AUDIT:
        assert flagged, f"{check_id} flagged nothing on the bad model audit"


def test_every_check_is_in_the_catalogue() -> None:
    text = "\n".join(page.read_text() for page in CATALOGUE)
    headings = set(re.findall(r"^### `([a-z_]+\.[a-z_]+)`\s*$", text, re.M))
    assert sorted(set(REGISTRY) - headings) == []
    for check_id, info in REGISTRY.items():
        section = text.split(f"### `{check_id}`", 1)[1].split("\n### ", 1)[0]
        for metric in info.thresholds:
            assert f"`{metric}`" in section, (
                f"{check_id}: threshold metric {metric} is undocumented"
            )
