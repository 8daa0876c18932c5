"""The fairness checks on model audits and on small hand-made tables with stored predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import assay.checks.fairness  # noqa: F401  (registers the fairness checks)
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding, Status
from assay.policy import params_for
from assay.runner import open_inputs, open_model
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _model_audits import model_spec

FAIRNESS = sorted(c for c in REGISTRY if c.startswith("fairness."))


def run(spec: Spec, check_id: str) -> tuple[list[Finding], dict[str, Any]]:
    """The check's findings and its JSON artefacts by name."""
    ctx = Context(spec, open_inputs(spec))
    ctx.model = open_model(spec)
    info = REGISTRY[check_id]
    findings = info.function(ctx, params_for(info, spec))
    for f in findings:
        json.dumps(f.to_json(), allow_nan=False)
        assert set(f.undefined) <= {k for k, v in f.metrics.items() if v is None}
    artefacts = {a.name: json.loads(raw) for a, raw in ctx.artefacts.values()}
    return findings, artefacts


def one(findings: list[Finding], subject: str) -> Finding:
    found = [f for f in findings if f.subject == subject]
    assert len(found) == 1, [f.subject for f in findings]
    return found[0]


def table_spec(
    tmp_path: Path,
    columns: dict[str, Any],
    *,
    sensitive: list[Any],
    params: dict[str, Any] | None = None,
) -> Spec:
    """A `test` dataset held in memory, with stored predictions in `pred`."""
    checks = {c: {"params": params} for c in FAIRNESS} if params else {}
    return spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "fairness"},
            "datasets": {
                "test": {
                    "data": pa.table(columns),
                    "target": "y",
                    "prediction": "pred",
                    "positive_label": 1,
                    "sensitive": sensitive,
                }
            },
            "checks": checks,
        },
        base_dir=tmp_path,
    )


def rows(groups: dict[str, tuple[int, float, float]], seed: int = 0) -> dict[str, list[Any]]:
    """``group -> (rows, share of positives, selection rate)``; predictions independent of y."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Any]] = {"g": [], "y": [], "pred": []}
    for name, (n, positives, selected) in groups.items():
        out["g"] += [name] * n
        out["y"] += (np.arange(n) < round(n * positives)).astype(int).tolist()
        out["pred"] += rng.permutation((np.arange(n) < round(n * selected)).astype(int)).tolist()
    return out


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("good", tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("bad", tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("check_id", FAIRNESS)
def test_the_good_model_never_fails(good: Spec, check_id: str) -> None:
    findings, artefacts = run(good, check_id)
    assert [f.subject for f in findings] == ["test:group"]  # role test only, by default
    assert findings[0].status in {Status.PASS, Status.WARN}, findings[0].message
    assert "fairness/test.json" in artefacts


def test_the_bad_model_fails_demographic_parity_naming_the_groups(bad: Spec) -> None:
    findings, artefacts = run(bad, "fairness.demographic_parity")
    f = one(findings, "test:group")
    assert f.status is Status.FAIL
    assert f.metrics["demographic_parity_difference"] > 0.2
    assert f.metrics["demographic_parity_difference_ci_low"] > 0.2
    assert f.message.startswith("selection rate ") and "(group=a) vs " in f.message
    assert "(group=b): difference " in f.message and "95% CI" in f.message
    groups = artefacts["fairness/test.json"]["groupings"][0]["groups"]
    assert [g["group"] for g in groups] == ["group=a", "group=b"]
    assert {"selection_rate", "tpr", "fpr", "precision", "error_rate", "size", "small"} <= set(
        groups[0]
    )


def test_the_bad_model_fails_disparate_impact_against_the_privileged_group(bad: Spec) -> None:
    f = one(run(bad, "fairness.disparate_impact")[0], "test:group")
    assert f.status is Status.FAIL
    assert f.metrics["min_disparate_impact"] < 0.8
    assert f.metrics["disparate_impact"] == f.metrics["min_disparate_impact"]  # two groups
    assert f.metrics["statistical_parity_difference"] < 0
    assert f.metrics["four_fifths_failure_count"] == 1
    assert "(group=b) vs " in f.message and "(group=a, privileged)" in f.message
    assert "four-fifths rule fails for group=b" in f.message


def test_bad_model_other_checks(bad: Spec) -> None:
    assert one(run(bad, "fairness.equalized_odds")[0], "test:group").status is Status.FAIL
    assert one(run(bad, "fairness.equal_opportunity")[0], "test:group").status is Status.FAIL
    assert one(run(bad, "fairness.group_metrics")[0], "test:group").status is Status.PASS


def test_intersection_has_its_own_subject(tmp_path: Path) -> None:
    n = 400
    colour = ["White" if i % 2 else "Black" for i in range(n)]
    sex = ["F" if i % 4 < 2 else "M" for i in range(n)]
    # selected: every White row, and Black men only half the time
    pred = [
        int(c == "White" or (s == "M" and i % 8 < 6))
        for i, (c, s) in enumerate(zip(colour, sex, strict=True))
    ]
    spec = table_spec(
        tmp_path,
        {"colour": colour, "sex": sex, "y": [i % 3 == 0 for i in range(n)], "pred": pred},
        sensitive=["colour", "sex"],
    )
    findings, _ = run(spec, "fairness.demographic_parity")
    assert [f.subject for f in findings] == ["test:colour", "test:sex", "test:colour & sex"]
    both = one(findings, "test:colour & sex")
    assert both.metrics["n_groups"] == 4
    assert "(colour=White & sex=F) vs " in both.message
    assert "(colour=Black & sex=F)" in both.message
    assert both.status is Status.FAIL


def test_small_groups_are_flagged_and_can_only_warn(tmp_path: Path) -> None:
    data = rows({"a": (200, 0.5, 0.5), "b": (200, 0.5, 0.5), "c": (6, 0.5, 1.0)})
    spec = table_spec(tmp_path, data, sensitive=["g"])
    dp = one(run(spec, "fairness.demographic_parity")[0], "test:g")
    assert dp.metrics["demographic_parity_difference"] == 0.0  # groups of 30+ only
    assert dp.metrics["demographic_parity_difference_all_groups"] == 0.5
    assert dp.metrics["small_group_count"] == 1
    assert dp.status is Status.WARN  # 0.5 would fail; a group of 6 can only warn
    assert "g=c (6 rows)" in dp.message and "can warn but not fail" in dp.message
    sizes = one(run(spec, "fairness.group_metrics")[0], "test:g")
    assert sizes.status is Status.WARN
    assert sizes.metrics["smallest_group_size"] == 6 and sizes.metrics["n_groups"] == 3
    assert "smallest g=c with 6 rows" in sizes.message


def test_min_group_size_is_a_param(tmp_path: Path) -> None:
    data = rows({"a": (200, 0.5, 0.5), "b": (200, 0.5, 0.5), "c": (6, 0.5, 1.0)})
    spec = table_spec(tmp_path, data, sensitive=["g"], params={"min_group_size": 5})
    dp = one(run(spec, "fairness.demographic_parity")[0], "test:g")
    assert dp.status is Status.FAIL and dp.metrics["small_group_count"] == 0


def test_zero_division_is_none_with_a_reason(tmp_path: Path) -> None:
    data = rows({"a": (100, 0.5, 0.5), "b": (100, 0.0, 0.5)})  # b has no actual positives
    spec = table_spec(tmp_path, data, sensitive=["g"])
    f = one(run(spec, "fairness.equal_opportunity")[0], "test:g")
    assert f.status is Status.SKIPPED
    assert f.metrics["equal_opportunity_difference"] is None
    assert "fewer than two groups" in f.undefined["equal_opportunity_difference"]
    assert "TPR undefined (0/0) for g=b" in f.message
    none = table_spec(tmp_path, rows({"a": (100, 0.5, 0.0), "b": (100, 0.5, 0.0)}), sensitive=["g"])
    dp = one(run(none, "fairness.demographic_parity")[0], "test:g")
    assert dp.status is Status.PASS and dp.metrics["demographic_parity_difference"] == 0.0
    assert dp.metrics["demographic_parity_ratio"] is None  # 0 / 0, never 0 or 1
    assert "0/0" in dp.undefined["demographic_parity_ratio"]
    di = one(run(none, "fairness.disparate_impact")[0], "test:g")
    assert di.status is Status.SKIPPED and di.metrics["disparate_impact"] is None
    assert "no predicted positives" in di.undefined["disparate_impact"]


def test_without_a_privileged_value_the_most_selected_group_is_the_reference(
    tmp_path: Path,
) -> None:
    data = rows({"a": (100, 0.5, 0.6), "b": (100, 0.5, 0.3), "c": (100, 0.5, 0.55)})
    spec = table_spec(tmp_path, data, sensitive=["g"])
    f = one(run(spec, "fairness.disparate_impact")[0], "test:g")
    assert f.status is Status.FAIL
    assert f.metrics["min_disparate_impact"] == pytest.approx(0.5)
    assert "(g=a, most selected)" in f.message
    assert "no privileged value declared for g" in f.message
    assert "`sensitive: [{column: g, privileged: <value>}]`" in f.message
    assert "four-fifths rule fails for g=b" in f.message


def test_a_privileged_value_absent_from_the_data_is_an_error(tmp_path: Path) -> None:
    data = rows({"a": (100, 0.5, 0.5), "b": (100, 0.5, 0.5)})
    spec = table_spec(tmp_path, data, sensitive=[{"column": "g", "privileged": "z"}])
    f = one(run(spec, "fairness.disparate_impact")[0], "test:g")
    assert f.status is Status.ERROR
    assert "Privileged value 'z' of sensitive feature 'g'" in f.message
    assert "['a', 'b']" in f.message
    # the other checks do not need it
    assert one(run(spec, "fairness.demographic_parity")[0], "test:g").status is Status.PASS


def test_a_privileged_value_matches_its_column_type(tmp_path: Path) -> None:
    data = rows({"1": (100, 0.5, 0.5), "2": (100, 0.5, 0.5)})
    data["g"] = [int(v) for v in data["g"]]
    spec = table_spec(tmp_path, data, sensitive=[{"column": "g", "privileged": "1"}])
    f = one(run(spec, "fairness.disparate_impact")[0], "test:g")
    assert f.status is Status.PASS and "(g=1, privileged)" in f.message


def test_missing_sensitive_values_form_their_own_group(tmp_path: Path) -> None:
    data = rows({"a": (100, 0.5, 0.5), "b": (100, 0.5, 0.5)})
    data["g"] = [None if i < 40 else g for i, g in enumerate(data["g"])]
    spec = table_spec(tmp_path, data, sensitive=["g"])
    f = one(run(spec, "fairness.group_metrics")[0], "test:g")
    assert f.metrics["n_groups"] == 3
    assert "40 row(s) without a g value form the group g=(missing)" in f.message


def test_regression_and_multiclass_are_skipped(tmp_path: Path) -> None:
    data = rows({"a": (100, 0.5, 0.5), "b": (100, 0.5, 0.5)})
    multi = dict(data, y=[i % 3 for i in range(200)], pred=[(i + 1) % 3 for i in range(200)])
    f = one(
        run(table_spec(tmp_path, multi, sensitive=["g"]), "fairness.demographic_parity")[0], "test"
    )
    assert f.status is Status.SKIPPED and "binary classifiers only" in f.message
    reg = dict(data, y=[float(i) for i in range(200)], pred=[float(i) for i in range(200)])
    f = one(run(table_spec(tmp_path, reg, sensitive=["g"]), "fairness.equalized_odds")[0], "test")
    assert f.status is Status.SKIPPED and "regression" in f.message


def test_no_dataset_to_evaluate_is_skipped(tmp_path: Path) -> None:
    data = rows({"a": (100, 0.5, 0.5), "b": (100, 0.5, 0.5)})
    spec = table_spec(tmp_path, data, sensitive=["g"], params={"roles": ["current"]})
    f = one(run(spec, "fairness.demographic_parity")[0], "*")
    assert f.status is Status.SKIPPED and "role current" in f.message


def test_findings_are_deterministic(bad: Spec) -> None:
    for check_id in FAIRNESS:
        assert run(bad, check_id)[0] == run(bad, check_id)[0]


def test_execute_end_to_end(tmp_path: Path) -> None:
    from assay.api import execute

    result = execute(model_spec("bad", tmp_path))
    fairness = {f.check_id: f for f in result.run.findings if f.domain == "fairness"}
    assert set(fairness) == set(FAIRNESS)
    assert fairness["fairness.demographic_parity"].status is Status.FAIL
    assert fairness["fairness.disparate_impact"].status is Status.FAIL
    digest = fairness["fairness.group_metrics"].evidence[0].removeprefix("sha256:")
    assert ("fairness/test.json", digest) in {(a.name, a.sha256) for a in result.run.artefacts}
    stored = json.loads(result.load(digest))
    assert stored["dataset"] == "test" and stored["groupings"][0]["features"] == ["group"]
