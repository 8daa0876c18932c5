"""The model validation checks on the good and bad model audits (tests/_model_audits.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _model_checks_support import run_model_check

from _model_audits import make_table, model_spec
from assay.api import execute
from assay.checks._registry import Status
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("good", tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("bad", tmp_path_factory.mktemp("bad"))


# model.cross_validation ----------------------------------------------------------------------


def test_cross_validation_passes_the_good_model(good: Spec) -> None:
    result = run_model_check("model.cross_validation", good)
    finding = result.one("train")
    assert finding.status == Status.PASS
    assert finding.metrics["n_folds"] == 5 and finding.metrics["n_rows"] == 1200
    assert finding.metrics["roc_auc_worst"] > 0.75
    assert finding.metrics["roc_auc_worst"] <= finding.metrics["roc_auc_mean"]
    evidence = result.artefact(finding, "model/cross_validation/train.json")
    assert evidence["splitter"] == "StratifiedKFold"
    assert len(evidence["values"]) == 5 and min(evidence["values"]) == pytest.approx(
        finding.metrics["roc_auc_worst"]
    )
    assert sum(f["test_rows"] for f in evidence["folds"]) == 1200
    assert "refitted per fold" in finding.message


def test_cross_validation_fails_the_bad_model(bad: Spec) -> None:
    finding = run_model_check("model.cross_validation", bad).one("train")
    assert finding.status == Status.FAIL
    assert finding.threshold is not None and finding.threshold.metric == "roc_auc_worst"
    assert finding.metrics["roc_auc_worst"] < 0.65


def test_cross_validation_is_deterministic_and_graded_by_the_chosen_metric(
    good: Spec, tmp_path: Path
) -> None:
    spec = model_spec("good", tmp_path, n=400)
    spec = spec.model_copy(
        update={
            "checks": spec_from_mapping(
                {
                    "version": 1,
                    "system": {"name": "x"},
                    "datasets": {"d": {"path": str(tmp_path / "train.parquet")}},
                    "checks": {
                        "model.cross_validation": {"params": {"k": 3, "metric": "accuracy"}}
                    },
                }
            ).checks
        }
    )
    first = run_model_check("model.cross_validation", spec).one("train")
    again = run_model_check("model.cross_validation", spec).one("train")
    assert first == again
    assert first.metrics["n_folds"] == 3
    assert set(first.metrics) >= {"accuracy_mean", "accuracy_std", "accuracy_worst"}


def test_cross_validation_skips_a_model_it_cannot_refit(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    train = make_table("good", 300, 1)
    fitted = LogisticRegression().fit(train.select(["x1", "x2"]).to_pandas(), train["y"])
    spec = _spec(tmp_path, {"train": train}, model=_Opaque(fitted), features=["x1", "x2"])
    finding = run_model_check("model.cross_validation", spec).one("train")
    assert finding.status == Status.SKIPPED
    assert "cannot be refitted" in finding.message


def test_cross_validation_skips_a_callable(tmp_path: Path) -> None:
    (tmp_path / "assay_test_cv_callable.py").write_text(
        "def predict(frame):\n    return (frame['x1'] > 0).astype(int).to_numpy()\n"
    )
    train = make_table("good", 300, 1)
    pq.write_table(train, tmp_path / "train.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "t"},
            "datasets": {"train": {"path": "train.parquet", "target": "y"}},
            "model": {"callable": "assay_test_cv_callable:predict", "features": ["x1"]},
        },
        base_dir=tmp_path,
    )
    finding = run_model_check("model.cross_validation", spec).one("train")
    assert finding.status == Status.SKIPPED
    assert "callable" in finding.message and "cannot be refitted" in finding.message


def test_cross_validation_refits_a_regressor(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "y": 2 * x[:, 0] + rng.normal(0, 0.3, 300)})
    model = Ridge().fit(table.select(["a", "b"]).to_pandas(), table["y"].to_numpy())
    spec = _spec(tmp_path, {"train": table}, model=model)
    result = run_model_check("model.cross_validation", spec)
    finding = result.one("train")
    assert finding.status == Status.PASS and finding.metrics["r2_worst"] > 0.8
    assert result.artefact(finding, "model/cross_validation")["splitter"] == "KFold"


# model.overfitting ---------------------------------------------------------------------------


def test_overfitting_passes_the_good_model(good: Spec) -> None:
    finding = run_model_check("model.overfitting", good).one("test vs train")
    assert finding.status == Status.PASS
    assert abs(finding.metrics["gap"]) < 0.05
    assert finding.metrics["shared_row_ratio"] == 0.0
    low, high = finding.metrics["gap_ci_low"], finding.metrics["gap_ci_high"]
    assert low < finding.metrics["gap"] < high


def test_overfitting_fails_the_memorising_tree(bad: Spec) -> None:
    result = run_model_check("model.overfitting", bad)
    finding = result.one("test vs train")
    assert finding.status == Status.FAIL
    assert finding.threshold is not None and finding.threshold.metric == "gap"
    assert finding.metrics["train_value"] == pytest.approx(1.0)
    assert finding.metrics["gap"] == pytest.approx(
        finding.metrics["train_value"] - finding.metrics["test_value"]
    )
    assert finding.metrics["gap_ci_low"] > 0.1
    evidence = result.artefact(finding, "model/overfitting/test.json")
    assert evidence["metric"] == "roc_auc" and evidence["higher_is_better"] is True
    assert "in-memory object" in finding.message


# model.calibration ---------------------------------------------------------------------------


def test_calibration_passes_the_good_model_and_stores_the_diagram(good: Spec) -> None:
    result = run_model_check("model.calibration", good)
    finding = result.one("test")
    assert finding.status == Status.PASS
    assert set(finding.metrics) == {"ece_uniform", "ece_quantile", "mce", "brier", "n_rows"}
    diagram = result.artefact(finding, "model/calibration/test.json")
    assert diagram["kind"] == "binary" and diagram["graded"] == "uniform"
    bins = diagram["strategies"]["quantile"]["bins"]
    assert sum(b["count"] for b in bins) == 600
    assert set(bins[0]) == {"lower", "upper", "mean_predicted", "observed", "count"}


def test_calibration_fails_the_zero_one_probabilities(bad: Spec) -> None:
    finding = run_model_check("model.calibration", bad).one("test")
    assert finding.status == Status.FAIL
    assert finding.threshold is not None and finding.threshold.metric == "ece_uniform"
    assert finding.metrics["ece_uniform"] > 0.2


def test_calibration_skips_scores(tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC

    train, test = make_table("good", 300, 1), make_table("good", 200, 2)
    svc = LinearSVC().fit(train.select(["x1", "x2"]).to_pandas(), train["y"].to_numpy())
    spec = _spec(tmp_path, {"train": train, "test": test}, model=svc, features=["x1", "x2"])
    finding = run_model_check("model.calibration", spec).one("test")
    assert finding.status == Status.SKIPPED
    assert "scores" in finding.message and "not probabilities" in finding.message


def test_performance_ranks_scores_and_leaves_log_loss_undefined(tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC

    train, test = make_table("good", 300, 1), make_table("good", 200, 2)
    svc = LinearSVC().fit(train.select(["x1", "x2"]).to_pandas(), train["y"].to_numpy())
    spec = _spec(tmp_path, {"train": train, "test": test}, model=svc, features=["x1", "x2"])
    finding = run_model_check("model.performance", spec).one("test")
    assert finding.status == Status.PASS, finding.message
    assert finding.metrics["roc_auc"] is not None and finding.metrics["roc_auc"] > 0.8
    assert finding.metrics["log_loss"] is None and "scores" in finding.undefined["log_loss"]
    assert "log_loss_ci_low" not in finding.metrics


def test_calibration_skips_labels_only(tmp_path: Path) -> None:
    test = make_table("good", 200, 2)
    test = test.append_column("pred", test["y"])
    spec = _spec(tmp_path, {"test": test}, prediction="pred")
    finding = run_model_check("model.calibration", spec).one("test")
    assert finding.status == Status.SKIPPED and "labels only" in finding.message


# model.ood -----------------------------------------------------------------------------------


def test_ood_passes_when_the_shift_does_not_hurt(good: Spec) -> None:
    finding = run_model_check("model.ood", good).one("ood vs test")
    assert finding.status == Status.PASS
    for key in ("ood_value", "test_value", "degradation"):
        assert finding.metrics[f"{key}_ci_low"] <= finding.metrics[key]
        assert finding.metrics[key] <= finding.metrics[f"{key}_ci_high"]


def test_ood_fails_when_the_concept_shifts(tmp_path: Path) -> None:
    spec = model_spec("good", tmp_path, n=800)
    # Out-of-distribution rows from the other world: the label follows the group, not x1.
    pq.write_table(make_table("bad", 400, 9, shift=2.0), tmp_path / "ood.parquet")
    finding = run_model_check("model.ood", spec).one("ood vs test")
    assert finding.status == Status.FAIL
    assert finding.metrics["degradation"] == pytest.approx(
        finding.metrics["test_value"] - finding.metrics["ood_value"]
    )
    assert finding.metrics["degradation_ci_low"] > 0.15


def test_ood_skips_without_a_test_set(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        {
            "shifted": make_table("good", 100, 4).append_column(
                "pred", make_table("good", 100, 4)["y"]
            )
        },
        prediction="pred",
        roles={"shifted": "ood"},
    )
    finding = run_model_check("model.ood", spec).one("shifted")
    assert finding.status == Status.SKIPPED and "to compare" in finding.message


# end to end ----------------------------------------------------------------------------------


def test_the_bad_audit_end_to_end(tmp_path: Path) -> None:
    run = execute(model_spec("bad", tmp_path, n=600)).run
    by_check: dict[str, set[Status]] = {}
    for f in run.findings:
        if f.domain == "model":
            by_check.setdefault(f.check_id, set()).add(f.status)
    assert Status.FAIL in by_check["model.overfitting"]
    assert Status.FAIL in by_check["model.calibration"]
    assert Status.FAIL in by_check["model.cross_validation"]
    assert not any(Status.ERROR in s for s in by_check.values()), by_check
    names = {a.name for a in run.artefacts}
    assert {"model/calibration/test.json", "model/slices/test.json"} <= names


# helpers -------------------------------------------------------------------------------------


class _Opaque:
    """A wrapper with ``predict`` but no ``get_params``/``fit``: it cannot be refitted."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def predict(self, x: object) -> object:
        return self._inner.predict(x)  # type: ignore[attr-defined]


def _spec(
    root: Path,
    tables: dict[str, pa.Table],
    *,
    model: object = None,
    features: list[str] | None = None,
    prediction: str | None = None,
    roles: dict[str, str] | None = None,
) -> Spec:
    root.mkdir(parents=True, exist_ok=True)
    datasets = {}
    for name, table in tables.items():
        pq.write_table(table, root / f"{name}.parquet")
        entry: dict[str, object] = {"path": f"{name}.parquet", "target": "y"}
        if prediction:
            entry["prediction"] = prediction
        if roles and name in roles:
            entry["role"] = roles[name]
        datasets[name] = entry
    mapping: dict[str, object] = {"version": 1, "system": {"name": "t"}, "datasets": datasets}
    if model is not None:
        mapping["model"] = {"object": model, **({"features": features} if features else {})}
    return spec_from_mapping(mapping, base_dir=root)
