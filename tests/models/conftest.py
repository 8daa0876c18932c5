"""Small fitted models and helpers shared by the model-adapter tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _model_support import Fitted


@pytest.fixture(scope="session")
def numeric() -> Fitted:
    """LogisticRegression fitted on a plain array (no feature names), three float columns."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3"])
    return Fitted(model, pa.Table.from_pandas(frame, preserve_index=False), frame)


@pytest.fixture(scope="session")
def mixed() -> Fitted:
    """A pipeline on named columns (two numbers, one category), three string classes."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(11)
    n = 300
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n).astype(np.float32),
            "x2": rng.normal(size=n).astype(np.float32),
            "cat": rng.choice(["a", "b", "c"], size=n),
        }
    )
    score = frame["x1"] + (frame["cat"] == "b") * 1.5 - frame["x2"] * 0.5
    y = np.where(score > 1, "high", np.where(score > -0.5, "mid", "low"))
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["x1", "x2"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["cat"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame, y)
    return Fitted(model, pa.Table.from_pandas(frame, preserve_index=False), frame)
