"""The privacy checks on the good and bad model audits, and on models built to test each path."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import assay.checks.security_privacy as membership
import assay.checks.security_privacy_attribute as attribute
from _model_audits import GOOD_FEATURES, make_table, model_spec
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding, Status
from assay.policy import params_for
from assay.runner import open_model
from assay.sources import open_dataset
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

MEMBERSHIP = "security.membership_inference"
ATTRIBUTE = "security.attribute_inference"
FAST = {"n_bootstrap": 200}


@dataclass
class Ran:
    findings: list[Finding]
    artefacts: dict[str, Any]

    def one(self, subject: str = "train") -> Finding:
        found = [f for f in self.findings if f.subject == subject]
        assert len(found) == 1, [f.subject for f in self.findings]
        return found[0]


def run(spec: Spec, check_id: str, **options: Any) -> Ran:
    datasets = {name: open_dataset(spec, name) for name in spec.datasets}
    ctx = Context(spec, datasets)
    ctx.model = open_model(spec)
    info = REGISTRY[check_id]
    params = params_for(info, spec)
    assert params.options is not None
    params = replace(params, options=params.options.model_copy(update={**FAST, **options}))
    findings = info.function(ctx, params)
    artefacts = {
        a.name: json.loads(raw)
        for a, raw in ctx.artefacts.values()
        if a.media_type == "application/json"
    }
    return Ran(findings, artefacts)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("good", tmp_path_factory.mktemp("good"), n=600)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return model_spec("bad", tmp_path_factory.mktemp("bad"), n=600)


def custom_spec(
    root: Path, model: Any, *, regression: bool = False, sensitive: bool = True
) -> Spec:
    """The good audit's data (600 train, 300 test rows) with ``model``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, seed, rows in (("train", 1, 600), ("test", 2, 300)):
        table = make_table("good", rows, seed)
        if regression:
            x1, x2 = table["x1"].to_numpy(), table["x2"].to_numpy()
            y = 2 * x1 - x2 + np.random.default_rng(seed).normal(0, 0.3, rows)
            table = table.set_column(table.schema.get_field_index("y"), "y", [y])
        pq.write_table(table, root / f"{name}.parquet")
    entry: dict[str, Any] = {"target": "y", "id": "id"}
    if not regression:
        entry["positive_label"] = 1
    if sensitive:
        entry["sensitive"] = ["group"]
    return spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "custom"},
            "seed": 3,
            "datasets": {n: {**entry, "path": f"{n}.parquet"} for n in ("train", "test")},
            "model": {"object": model, "features": GOOD_FEATURES},
        },
        base_dir=root,
    )


def fitted(estimator: Any, *, regression: bool = False) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = make_table("good", 600, 1)
    y = train["y"].to_numpy()
    if regression:
        x1, x2 = train["x1"].to_numpy(), train["x2"].to_numpy()
        y = 2 * x1 - x2 + np.random.default_rng(1).normal(0, 0.3, 600)
    prep = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ("numeric", StandardScaler(), ["x1", "x2", "x3"]),
        ]
    )
    return make_pipeline(prep, estimator).fit(train.select(GOOD_FEATURES).to_pandas(), y)


class Wrapped:
    """A fitted model behind an object scikit-learn cannot clone (no get_params, no fit)."""

    def __init__(self, inner: Any, *, proba: bool = True) -> None:
        self.inner = inner
        self.feature_names_in_ = inner.feature_names_in_
        if proba:
            self.classes_ = inner.classes_
            self.predict_proba = inner.predict_proba

    def predict(self, x: Any) -> Any:
        return self.inner.predict(x)


# -- membership inference ---------------------------------------------------------------------


def test_the_good_model_leaks_no_membership(good: Spec) -> None:
    ran = run(good, MEMBERSHIP)
    finding = ran.one()
    assert finding.status == Status.PASS, finding.message
    m = finding.metrics
    assert m["n_members"] == m["n_non_members"] == 300
    assert m["attack_auc"] is not None and abs(m["attack_auc"] - 0.5) < 0.06
    assert m["n_shadow_models"] == 4 and m["n_shadow_pool_rows"] == 300
    assert m["attack_tpr_at_0_1pct_fpr"] is None  # 300 non-members cannot resolve 0.1%
    assert "fewer than 1000 non-members (300)" in finding.undefined["attack_tpr_at_0_1pct_fpr"]
    assert "loss-threshold AUC" in finding.message and "shadow-model AUC" in finding.message


def test_the_memorising_tree_fails(bad: Spec) -> None:
    ran = run(bad, MEMBERSHIP)
    finding = ran.one()
    assert finding.status == Status.FAIL, finding.message
    m = finding.metrics
    assert m["attack_auc"] is not None and m["attack_auc"] > 0.7
    assert m["attack_auc_ci_low"] is not None and m["attack_auc_ci_low"] > 0.6
    assert finding.threshold is not None and finding.threshold.metric == "attack_auc"
    assert m["attack_auc"] == max(m["loss_attack_auc"] or 0, m["shadow_attack_auc"] or 0)
    evidence = ran.artefacts["security/membership_inference/train.json"]
    assert [a["attack"] for a in evidence["attacks"]] == ["loss_threshold", "shadow_model"]
    assert evidence["shadow"] == "clones of Pipeline (sklearn.base.clone)"
    assert evidence["loss"] == "-log p(true class)"


def test_membership_is_deterministic(bad: Spec) -> None:
    assert run(bad, MEMBERSHIP).findings == run(bad, MEMBERSHIP).findings


def test_members_and_non_members_are_balanced_by_max_rows(good: Spec) -> None:
    finding = run(good, MEMBERSHIP, max_rows=120).one()
    assert finding.metrics["n_members"] == finding.metrics["n_non_members"] == 120
    assert finding.metrics["n_shadow_pool_rows"] == 660  # 480 train + 180 test rows left


def test_too_few_rows_are_insufficient(good: Spec) -> None:
    finding = run(good, MEMBERSHIP, max_rows=20).one()
    assert (
        finding.status == Status.SKIPPED and finding.message == "insufficient data: n=20, need 50."
    )


def test_shadows_can_be_turned_off(good: Spec) -> None:
    finding = run(good, MEMBERSHIP, n_shadows=0).one()
    assert finding.metrics["shadow_attack_auc"] is None
    assert finding.undefined["shadow_attack_auc"] == membership.SHADOW_OFF
    assert finding.metrics["attack_auc"] == finding.metrics["loss_attack_auc"]


def test_a_labels_only_model_is_skipped(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    spec = custom_spec(tmp_path, Wrapped(fitted(LogisticRegression()), proba=False))
    finding = run(spec, MEMBERSHIP).one()
    assert finding.status == Status.SKIPPED
    assert finding.message == membership.LABELS_ONLY + "."


def test_a_model_that_cannot_be_refitted_gets_a_stand_in_shadow(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    spec = custom_spec(tmp_path, Wrapped(fitted(LogisticRegression())))
    ran = run(spec, MEMBERSHIP)
    finding = ran.one()
    assert finding.status == Status.PASS, finding.message
    shadow = ran.artefacts["security/membership_inference/train.json"]["shadow"]
    assert shadow.startswith("stand-in HistGradientBoostingClassifier")


def test_scores_use_the_margin(tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC

    ran = run(custom_spec(tmp_path, fitted(LinearSVC())), MEMBERSHIP)
    finding = ran.one()
    assert finding.status == Status.PASS, finding.message
    evidence = ran.artefacts["security/membership_inference/train.json"]
    assert evidence["loss"] == "max other score - true class score"
    assert finding.metrics["shadow_attack_auc"] is not None  # a clone gives scores too


def test_regressors_use_the_squared_error(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.tree import DecisionTreeRegressor

    good = run(
        custom_spec(tmp_path / "a", fitted(LinearRegression(), regression=True), regression=True),
        MEMBERSHIP,
    )
    assert good.one().status == Status.PASS, good.one().message
    evidence = good.artefacts["security/membership_inference/train.json"]
    assert evidence["loss"] == "squared error" and evidence["task"] == "regression"
    tree = fitted(DecisionTreeRegressor(random_state=0), regression=True)
    bad = run(custom_spec(tmp_path / "b", tree, regression=True), MEMBERSHIP).one()
    assert bad.status == Status.FAIL, bad.message  # a full tree has zero training error


# -- attribute inference ----------------------------------------------------------------------


def test_the_good_model_gives_no_attribute_away(good: Spec) -> None:
    ran = run(good, ATTRIBUTE)
    assert [f.subject for f in ran.findings] == ["train:group", "test:group"]
    for finding in ran.findings:
        assert finding.status == Status.PASS, finding.message
        m = finding.metrics
        assert m["sensitive_is_model_input"] == 0 and m["n_values"] == 2
        assert m["attribute_inference_advantage"] is not None
        assert abs(m["attribute_inference_advantage"]) < 0.05
        assert "group is not a model input" in finding.message


def test_the_bad_model_gives_its_group_input_back(bad: Spec) -> None:
    ran = run(bad, ATTRIBUTE)
    for finding in ran.findings:
        assert finding.status == Status.FAIL, finding.message
        m = finding.metrics
        assert m["sensitive_is_model_input"] == 1
        assert m["attribute_inference_advantage_ci_low"] is not None
        assert m["attribute_inference_advantage_ci_low"] > 0
        assert "measures model inversion" in finding.message
    evidence = ran.artefacts["security/attribute_inference/test/group.json"]
    assert evidence["attacker_knows"] == ["x1", "x2", "x3", "region"]
    assert set(evidence["attackers"]) == {"logistic", "boosted_trees"}
    assert evidence["model_outputs"] == "probabilities"


def test_attribute_inference_is_deterministic(bad: Spec) -> None:
    assert (
        run(bad, ATTRIBUTE, roles=["test"]).findings == run(bad, ATTRIBUTE, roles=["test"]).findings
    )


def test_known_features_and_target_options(bad: Spec) -> None:
    ran = run(bad, ATTRIBUTE, roles=["test"], known_features=["x1"], with_target=True)
    finding = ran.one("test:group")
    assert "knowing x1, y)" in finding.message
    assert ran.artefacts["security/attribute_inference/test/group.json"]["attacker_knows"] == [
        "x1",
        "y",
    ]


def test_an_unknown_known_feature_is_an_error(good: Spec) -> None:
    finding = run(good, ATTRIBUTE, roles=["test"], known_features=["nope"]).one("test:group")
    assert finding.status == Status.ERROR
    assert finding.message.startswith("params.known_features names nope, which dataset 'test'")


def test_without_sensitive_columns_it_is_skipped(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    spec = custom_spec(tmp_path, fitted(LogisticRegression()), sensitive=False)
    finding = run(spec, ATTRIBUTE).one("*")
    assert finding.status == Status.SKIPPED
    assert finding.message == attribute.NO_DATASET.format(roles="train or test") + "."


def test_labels_only_and_regression_outputs_are_used(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    labels = custom_spec(tmp_path / "a", Wrapped(fitted(LogisticRegression()), proba=False))
    finding = run(labels, ATTRIBUTE, roles=["test"]).one("test:group")
    assert "without the model's predicted labels" in finding.message
    assert finding.status == Status.PASS, finding.message
    spec = custom_spec(tmp_path / "b", fitted(LinearRegression(), regression=True), regression=True)
    finding = run(spec, ATTRIBUTE, roles=["test"]).one("test:group")
    assert "without the model's predictions" in finding.message
    assert finding.status == Status.PASS, finding.message
