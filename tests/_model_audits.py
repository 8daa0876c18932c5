"""A good and a bad model audit, shared by the model, fairness and robustness check tests.

Both are binary classifiers over the same kind of data: numeric ``x1``, ``x2``, ``x3``, a
category ``region`` and a sensitive ``group`` (``a``/``b``), target ``y`` (0/1).

- **good** — a logistic regression on features that carry the signal (``group`` is not a
  feature, and the label does not depend on it): accurate, calibrated, smooth, fair.
- **bad** — an unpruned decision tree trained on labels that mostly follow ``group`` (plus
  noise), with ``group`` as a feature: it memorises its training set (train/test gap), gives
  0/1 probabilities (miscalibrated), treats the groups very differently (unfair) and flips
  under small noise (brittle). (Its labels do not depend on ``x1``, so the shifted ``ood``
  data does not hurt it further; tests of a harmful shift write their own ``ood`` table.)

Datasets: ``train``, ``test`` (role test), ``current`` and ``ood`` (role ood: ``x1`` shifted),
written as Parquet; the model is passed as a Python object (``model: {object: …}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

FEATURES = ["x1", "x2", "x3", "region", "group"]
GOOD_FEATURES = ["x1", "x2", "x3", "region"]
REGIONS = ["north", "south", "east", "west"]


def make_table(kind: str, n: int, seed: int, *, shift: float = 0.0) -> pa.Table:
    """Rows of the ``kind`` world; ``shift`` moves ``x1`` (out-of-distribution data)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    x3 = rng.uniform(-1.0, 1.0, n)
    region = rng.choice(REGIONS, n)
    group = np.where(rng.random(n) < 0.5, "a", "b")
    if kind == "good":
        logit = 1.8 * x1 - 1.2 * x2 + 0.5 * (region == "north")
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    else:
        base = np.where(group == "a", 0.8, 0.2)
        y = (rng.random(n) < base).astype(np.int64)
        flip = rng.random(n) < 0.15
        y = np.where(flip, 1 - y, y)
    return pa.table(
        {
            "id": np.arange(seed * 100_000, seed * 100_000 + n),
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "region": region,
            "group": group,
            "y": y,
        }
    )


def fit_model(kind: str, train: pa.Table) -> Any:
    """The fitted scikit-learn pipeline of the ``kind`` audit."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    features = GOOD_FEATURES if kind == "good" else FEATURES
    categorical = [c for c in ("region", "group") if c in features]
    numeric = [c for c in features if c not in categorical]
    prep = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("numeric", StandardScaler(), numeric),
        ]
    )
    learner = (
        LogisticRegression(max_iter=1000)
        if kind == "good"
        else DecisionTreeClassifier(random_state=0)  # unpruned: memorises the noise
    )
    model = make_pipeline(prep, learner)
    model.fit(train.select(features).to_pandas(), train["y"].to_numpy())
    return model


def model_spec(kind: str, root: Path, *, n: int = 1200, with_model: bool = True) -> Spec:
    """The ``kind`` audit written under ``root``: four Parquet files and a spec with the model."""
    root.mkdir(parents=True, exist_ok=True)
    tables = {
        "train": make_table(kind, n, 1),
        "test": make_table(kind, n // 2, 2),
        "current": make_table(kind, n // 2, 3),
        "ood": make_table(kind, n // 2, 4, shift=2.0),
    }
    for name, table in tables.items():
        pq.write_table(table, root / f"{name}.parquet")
    dataset = {
        "target": "y",
        "id": "id",
        "positive_label": 1,
        "sensitive": [{"column": "group", "privileged": "a"}],
    }
    datasets: dict[str, Any] = {name: {**dataset, "path": f"{name}.parquet"} for name in tables}
    datasets["ood"]["role"] = "ood"
    mapping: dict[str, Any] = {
        "version": 1,
        "system": {"name": f"{kind} model fixture"},
        "seed": 7,
        "owners": {"default": "ml-team"},
        "datasets": datasets,
    }
    if with_model:
        features = GOOD_FEATURES if kind == "good" else FEATURES
        mapping["model"] = {"object": fit_model(kind, tables["train"]), "features": features}
    return spec_from_mapping(mapping, base_dir=root)
