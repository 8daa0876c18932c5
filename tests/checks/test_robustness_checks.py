"""The robustness checks on the good and bad model audits, and on models built to break."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay.checks.robustness  # noqa: F401  (registers the robustness checks)
from _model_audits import GOOD_FEATURES, fit_model, make_table, model_spec
from assay.api import execute
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding, Status
from assay.policy import params_for
from assay.runner import open_model
from assay.sources import open_dataset
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

SMALL = {"max_rows": 300}
ROBUSTNESS = sorted(c for c in REGISTRY if c.startswith("robustness."))


@dataclass
class Ran:
    findings: list[Finding]
    artefacts: dict[str, tuple[str, Any]]

    def one(self, subject: str = "test") -> Finding:
        found = [f for f in self.findings if f.subject == subject]
        assert len(found) == 1, [f.subject for f in self.findings]
        return found[0]

    def artefact(self, name: str) -> Any:
        return next(data for n, data in self.artefacts.values() if n == name)


def run(spec: Spec, check_id: str, *, model: bool = True, **options: Any) -> Ran:
    datasets = {name: open_dataset(spec, name) for name in spec.datasets}
    ctx = Context(spec, datasets)
    ctx.model = open_model(spec) if model else None
    info = REGISTRY[check_id]
    params = params_for(info, spec)
    settings = {**SMALL, **({"n_samples": 40} if check_id == "robustness.adversarial" else {})}
    assert params.options is not None
    params = replace(params, options=params.options.model_copy(update={**settings, **options}))
    findings = info.function(ctx, params)
    artefacts = {
        ref: (a.name, json.loads(raw))
        for ref, (a, raw) in ((f"sha256:{d}", v) for d, v in ctx.artefacts.items())
        if a.media_type == "application/json"
    }
    return Ran(findings, artefacts)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("good", tmp_path_factory.mktemp("good"), n=1000)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("bad", tmp_path_factory.mktemp("bad"), n=1000)


def custom_spec(root: Path, model: Any, *, regression: bool = False, n: int = 600) -> Spec:
    """The good audit's data with ``model`` (a regression target when asked)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, seed, rows in (("train", 1, n), ("test", 2, n // 2)):
        table = make_table("good", rows, seed)
        if regression:
            x1, x2 = table["x1"].to_numpy(), table["x2"].to_numpy()
            noise = np.random.default_rng(seed + 100).normal(0, 0.3, rows)
            table = table.set_column(
                table.schema.get_field_index("y"), "y", pa.array(2 * x1 - x2 + noise)
            )
        pq.write_table(table, root / f"{name}.parquet")
    datasets = {
        name: {"path": f"{name}.parquet", "target": "y", "id": "id", "positive_label": 1}
        for name in ("train", "test")
    }
    if regression:
        for entry in datasets.values():
            del entry["positive_label"]
    return spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "custom"},
            "seed": 3,
            "datasets": datasets,
            "model": {"object": model, "features": GOOD_FEATURES},
        },
        base_dir=root,
    )


def fitted(estimator: Any, *, regression: bool = False) -> Any:
    """``estimator`` after the good audit's preprocessing, fitted on its train table."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = make_table("good", 600, 1)
    y = train["y"].to_numpy()
    if regression:
        noise = np.random.default_rng(101).normal(0, 0.3, 600)
        y = 2 * train["x1"].to_numpy() - train["x2"].to_numpy() + noise
    prep = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ("numeric", StandardScaler(), ["x1", "x2", "x3"]),
        ]
    )
    model = make_pipeline(prep, estimator)
    model.fit(train.select(GOOD_FEATURES).to_pandas(), y)
    return model


# The good and the bad audit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "check_id",
    [
        "robustness.noise",
        "robustness.category_swap",
        "robustness.out_of_range",
        "robustness.adversarial",
    ],
)
def test_the_good_model_passes_or_at_most_warns(good: Spec, check_id: str) -> None:
    ran = run(good, check_id)
    finding = ran.one()
    assert finding.status in {Status.PASS, Status.WARN}, finding.message
    assert finding.evidence and all(ref.startswith("sha256:") for ref in finding.evidence)
    assert run(good, check_id).findings == ran.findings  # seeded: identical on a re-run
    json.dumps(finding.to_json(), allow_nan=False)


def test_the_brittle_tree_fails_under_noise(bad: Spec) -> None:
    finding = run(bad, "robustness.noise").one()
    assert finding.status == Status.FAIL
    flip = finding.metrics["flip_rate"]
    assert isinstance(flip, float) and flip > 0.15
    assert finding.message.startswith(f"flip rate {100 * flip:.1f}% at σ = 0.1 × std; ROC AUC ")
    assert finding.message.endswith("(300 rows of test).")


def test_the_brittle_tree_fails_the_adversarial_search(bad: Spec) -> None:
    finding = run(bad, "robustness.adversarial").one()
    assert finding.status == Status.FAIL
    rate = finding.metrics["success_rate"]
    assert isinstance(rate, float) and rate > 0.5
    median = finding.metrics["median_perturbation"]
    assert isinstance(median, float) and 0 < median <= 0.2
    assert finding.metrics["n_samples"] == 40


def test_noise_stores_the_degradation_curve(good: Spec) -> None:
    ran = run(good, "robustness.noise")
    finding = ran.one()
    curve = ran.artefact("robustness/noise/test.json")
    assert curve["check"] == "robustness.noise" and curve["facts_from"] == "train"
    assert [p["level"] for p in curve["curve"]] == [0.05, 0.1, 0.2, 0.5]
    at = next(p for p in curve["curve"] if p["level"] == 0.1)
    assert at["flip_rate"] == finding.metrics["flip_rate"]
    assert at["metric_drop"] == finding.metrics["metric_drop"]
    flips = [p["flip_rate"] for p in curve["curve"]]
    assert flips == sorted(flips)  # more noise, more flips
    assert finding.metrics["max_flip_rate"] == max(flips)
    assert finding.metrics["unperturbed_metric"] is not None
    assert finding.metrics["model_error_count"] == 0


def test_a_model_that_raises_on_nulls_fails_missing_values(good: Spec) -> None:
    # The good audit's logistic regression has no imputer: scikit-learn raises on NaN.
    ran = run(good, "robustness.missing_values")
    finding = ran.one()
    assert finding.status == Status.FAIL
    assert "raised" in finding.message and "not graceful" in finding.message
    assert finding.metrics["model_error_count"] == 4
    assert finding.metrics["metric_drop"] is None
    assert "raised" in finding.undefined["metric_drop"]
    assert finding.threshold is not None and finding.threshold.metric == "model_error_count"
    curve = ran.artefact("robustness/missing_values/test.json")["curve"]
    assert all(p["raised"] and "NaN" in p["raised"] for p in curve)


def test_an_imputing_model_degrades_gracefully(tmp_path: Path) -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = fitted(make_pipeline(SimpleImputer(strategy="median"), LogisticRegression()))
    spec = custom_spec(tmp_path, model)
    finding = run(spec, "robustness.missing_values").one()
    assert finding.status in {Status.PASS, Status.WARN}, finding.message
    assert finding.metrics["model_error_count"] == 0
    dropout = run(spec, "robustness.feature_dropout")
    assert sorted(f.subject for f in dropout.findings) == [
        f"test:{c}" for c in sorted(GOOD_FEATURES)
    ]
    assert all(f.metrics["model_error_count"] == 0 for f in dropout.findings)
    # x1 carries most of the signal: losing it costs the most.
    drops = {f.subject: f.metrics["metric_drop"] for f in dropout.findings}
    assert max(drops, key=lambda s: drops[s] or 0.0) == "test:x1"
    assert dropout.one("test:x1").status in {Status.WARN, Status.FAIL}


def test_feature_dropout_null_or_median(good: Spec) -> None:
    nulls = run(good, "robustness.feature_dropout")
    assert {f.subject for f in nulls.findings} == {f"test:{c}" for c in GOOD_FEATURES}
    x1 = nulls.one("test:x1")
    assert x1.status == Status.FAIL and x1.message.startswith("the model raised with x1 null (")
    median = run(good, "robustness.feature_dropout", fill="median")
    assert all(f.metrics["model_error_count"] == 0 for f in median.findings)
    assert median.one("test:x3").status == Status.PASS  # x3 carries no signal
    assert "at its training median" in median.one("test:x3").message


class Overflowing:
    """The good model, but its probabilities turn NaN or 1.5 far outside the training range."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.classes_ = inner.classes_
        self.feature_names_in_ = np.array(GOOD_FEATURES, dtype=object)

    def predict(self, x: Any) -> Any:
        return self.inner.predict(x)

    def predict_proba(self, x: Any) -> Any:
        p = self.inner.predict_proba(x)
        p[np.abs(x["x1"].to_numpy()) > 50] = np.nan
        p[np.abs(x["x2"].to_numpy()) > 50] = 1.5
        return p


def test_invalid_outputs_out_of_range_fail(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    spec = custom_spec(tmp_path, Overflowing(fitted(LogisticRegression())))
    ran = run(spec, "robustness.out_of_range")
    finding = ran.one()
    assert finding.status == Status.FAIL
    rate = finding.metrics["invalid_output_rate"]
    assert isinstance(rate, float) and 0.4 < rate < 0.9  # x1 or x2 pushed at k = 1000
    assert "non-finite or out-of-range outputs at 1000 std beyond" in finding.message
    assert finding.threshold is not None and finding.threshold.metric == "invalid_output_rate"
    curve = ran.artefact("robustness/out_of_range/test.json")["curve"]
    assert [p["level"] for p in curve] == [1.0, 10.0, 1000.0]
    assert curve[0]["invalid_output_rate"] == 0


def test_regression_models(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    spec = custom_spec(tmp_path, fitted(LinearRegression(), regression=True), regression=True)
    ran = run(spec, "robustness.noise")
    finding = ran.one()
    assert finding.status in {Status.PASS, Status.WARN}, finding.message
    assert "R² " in finding.message
    curve = ran.artefact("robustness/noise/test.json")
    assert curve["metric"] == "r2" and curve["flip_tolerance"] > 0
    assert run(spec, "robustness.out_of_range").one().status == Status.PASS
    skipped = run(spec, "robustness.adversarial").one()
    assert skipped.status == Status.SKIPPED and "classifier" in skipped.message


# Applicability ----------------------------------------------------------------------------------


@pytest.mark.parametrize("check_id", ROBUSTNESS)
def test_without_a_model_every_check_is_skipped(good: Spec, check_id: str) -> None:
    finding = run(good, check_id, model=False).one("*")
    assert finding.status == Status.SKIPPED and "model" in finding.message


@pytest.mark.parametrize("check_id", ROBUSTNESS)
def test_tiny_test_data_is_insufficient(tmp_path: Path, check_id: str) -> None:
    from sklearn.linear_model import LogisticRegression

    spec = custom_spec(tmp_path, fitted(LogisticRegression()), n=40)  # 20 test rows
    finding = run(spec, check_id).one()
    assert finding.status == Status.SKIPPED
    assert finding.message == "insufficient data: n=20, need 30."


def test_a_bad_metric_param_is_an_error(good: Spec) -> None:
    finding = run(good, "robustness.noise", metric="r2").one()
    assert finding.status == Status.ERROR and "not a classification metric" in finding.message


def test_levels_are_validated() -> None:
    options = REGISTRY["robustness.missing_values"].options
    assert options is not None
    with pytest.raises(ValueError, match="shares of rows"):
        options(levels=[0.1, 1.5])
    with pytest.raises(ValueError, match="non-empty"):
        options(levels=[])


# End to end -------------------------------------------------------------------------------------


def test_execute_runs_every_robustness_check(tmp_path: Path) -> None:
    spec = model_spec("good", tmp_path, n=400)
    result = execute(spec)
    by_check = {f.check_id: f for f in result.run.findings if f.domain == "robustness"}
    assert sorted(by_check) == ROBUSTNESS
    statuses = {c: f.status for c, f in by_check.items()}
    assert Status.ERROR not in statuses.values(), statuses
    assert statuses["robustness.noise"] in {Status.PASS, Status.WARN}
    names = {a.name for a in result.run.artefacts}
    assert {"robustness/noise/test.json", "robustness/adversarial/test.json"} <= names


def test_fit_model_is_the_audits_model() -> None:
    # Guards the fixture this file leans on: the bad audit's tree really is unpruned.
    tree = fit_model("bad", make_table("bad", 200, 1))[-1]
    assert tree.get_depth() > 8
