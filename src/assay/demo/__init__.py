"""The demo: a launch audit of a model trained on real public data that ships inside a PyPI package.

The data is the ``Arrests`` table (5,226 Toronto arrests, 1997–2002; target ``released``,
sensitive ``colour`` and ``sex``) bundled in scikit-lego's wheel, read from the installed
package with no network. :func:`prepare` splits it by time — 1997–2000 for training and test,
2001–2002 as the "current" data after launch — trains a scikit-learn pipeline, adds its scores
and predictions, and writes the data, the governance documents and ``assay.yaml``.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from assay.errors import InputError
from assay.sources.datasets import file_sha256

FEATURES_CATEGORICAL = ("employed", "citizen")
FEATURES_NUMERIC = ("age", "checks")
SPLIT_YEAR = 2000
"""Arrests up to this year train and test the model; later ones are the current data."""

_SPEC = """\
# The demo audit: a model that predicts release with a summons, trained on Toronto arrests
# 1997-2000 (scikit-lego's bundled `Arrests` table) and audited on 2001-2002 as current data.
# Written by `assay demo`; copy it as a starting point for your own audit (docs/spec.md).
version: 1

system:
  name: arrests-release
  version: "1.0.0"
  description: Predicts whether an arrestee is released with a summons (teaching example only).

seed: {seed}

owners:
  default: ml-team@example.org
  integrity: data-platform@example.org

datasets:
  train:
    path: data/train.parquet
    sha256: {sha_train}
    id: record_id
    timestamp: year           # the arrest year: time, not a feature
    target: released
    positive_label: "Yes"
    sensitive:
      - column: colour
        privileged: White
      - column: sex
    # The contract every split must keep; the anchor shares it with test and current.
    schema: &arrests
      extra_columns: fail
      columns:
        record_id: {{type: integer, nullable: false, min: 0, unique: true}}
        released: {{type: string, nullable: false, allowed: ["Yes", "No"]}}
        colour: {{type: string, nullable: false, allowed: [Black, White]}}
        year: {{type: integer, nullable: false, min: 1997, max: 2002}}
        age: {{type: integer, nullable: false, min: 12, max: 80}}
        sex: {{type: string, nullable: false, allowed: [Female, Male]}}
        employed: {{type: string, nullable: false, allowed: ["Yes", "No"]}}
        citizen: {{type: string, nullable: false, allowed: ["Yes", "No"]}}
        checks: {{type: integer, nullable: false, min: 0, max: 6}}
  test:
    path: data/test.parquet
    sha256: {sha_test}
    id: record_id
    timestamp: year
    target: released
    positive_label: "Yes"
    prediction: predicted
    score: score
    sensitive:
      - {{column: colour, privileged: White}}
      - column: sex
    schema:
      <<: *arrests
      extra_columns: allow    # the model's score and prediction
  current:
    path: data/current.parquet
    sha256: {sha_current}
    id: record_id
    timestamp: year
    target: released
    positive_label: "Yes"
    prediction: predicted
    score: score
    sensitive:
      - {{column: colour, privileged: White}}
      - column: sex
    schema:
      <<: *arrests
      extra_columns: allow

lineage:
  - name: extract
    inputs: []
    transform: Read sklego/data/arrests.zip from the installed scikit-lego wheel; number the rows.
    code: assay.demo:prepare
    outputs:
      - {{path: data/raw/arrests.csv, sha256: {sha_raw}}}
  - name: split-train-score
    inputs:
      - {{path: data/raw/arrests.csv, sha256: {sha_raw}}}
    transform: >-
      Arrests up to {split_year} split 80/20 into train and test (seeded); later arrests are
      current data. Logistic regression trained on train; test and current scored.
    code: assay.demo:prepare
    outputs:
      - {{path: data/train.parquet, sha256: {sha_train}}}
      - {{path: data/test.parquet, sha256: {sha_test}}}
      - {{path: data/current.parquet, sha256: {sha_current}}}
      - {{path: models/release.skops, sha256: {sha_model}}}

# The audited model: the fitted scikit-learn pipeline, saved with skops (no pickle).
model:
  path: models/release.skops
  features: [employed, citizen, age, checks]

documents: documents

policy:
  fail_on: major

waivers:
  # Different people share identical attributes in this table; the rows are not copies.
  - check: integrity.duplicate_rows
    subject: "*"
    reason: Distinct arrests with identical attributes; the source has no person identifier.
    approver: data-platform@example.org
    expires: 2027-06-30
"""


def load_arrests() -> pa.Table:
    """The Arrests table from scikit-lego's installed package data, with a ``record_id``."""
    try:
        archive = resources.files("sklego") / "data" / "arrests.zip"
        raw = archive.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        raise InputError(
            "The demo reads its data from the scikit-lego package, which is not installed. "
            "Install it with `pip install 'assay[demo]'` (make demo does this)."
        ) from None
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        (member,) = zf.namelist()
        table = pacsv.read_csv(io.BytesIO(zf.read(member)))
    return table.add_column(0, "record_id", pa.array(np.arange(table.num_rows), pa.int64()))


def prepare(directory: Path, *, seed: int = 0) -> Path:
    """Write the demo's data, documents and ``assay.yaml`` into ``directory``.

    Returns the path of the spec.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from assay.checks._registry import derive_seed

    data_dir = directory / "data"
    (data_dir / "raw").mkdir(parents=True, exist_ok=True)
    table = load_arrests()
    pacsv.write_csv(table, data_dir / "raw" / "arrests.csv")

    early = table.filter(pc.less_equal(table["year"], SPLIT_YEAR))
    current = table.filter(pc.greater(table["year"], SPLIT_YEAR))
    rng = np.random.default_rng(derive_seed(seed, "demo.split"))
    in_test = rng.random(early.num_rows) < 0.2
    train = early.filter(pa.array(~in_test))
    test = early.filter(pa.array(in_test))

    features = [*FEATURES_CATEGORICAL, *FEATURES_NUMERIC]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("categorical", OneHotEncoder(handle_unknown="ignore"), list(FEATURES_CATEGORICAL)),
                ("numeric", StandardScaler(), list(FEATURES_NUMERIC)),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(train.select(features).to_pandas(), train["released"].to_numpy(zero_copy_only=False))
    positive = list(model.classes_).index("Yes")

    def scored(part: pa.Table) -> pa.Table:
        proba = model.predict_proba(part.select(features).to_pandas())[:, positive]
        part = part.append_column("score", pa.array(np.round(proba, 6)))
        return part.append_column("predicted", pa.array(np.where(proba >= 0.5, "Yes", "No")))

    import skops.io

    (directory / "models").mkdir(exist_ok=True)
    skops.io.dump(model, directory / "models" / "release.skops")
    hashes = {"model": file_sha256(directory / "models" / "release.skops")[0]}
    for name, part in (("train", train), ("test", scored(test)), ("current", scored(current))):
        path = data_dir / f"{name}.parquet"
        pq.write_table(part, path)
        hashes[name] = file_sha256(path)[0]
    hashes["raw"] = file_sha256(data_dir / "raw" / "arrests.csv")[0]

    documents = directory / "documents"
    documents.mkdir(exist_ok=True)
    for doc in (resources.files("assay.demo") / "documents").iterdir():
        if doc.name.endswith(".md"):
            (documents / doc.name).write_bytes(doc.read_bytes())

    (documents / "training_log.md").write_text(
        training_log(seed=seed, rows=train.num_rows, model=model, hashes=hashes),
        encoding="utf-8",
    )
    spec_path = directory / "assay.yaml"
    spec_path.write_text(spec_text(seed=seed, hashes=hashes), encoding="utf-8")
    return spec_path


def training_log(*, seed: int, rows: int, model: Any, hashes: dict[str, str]) -> str:
    """The demo's training log: what was trained, on which data, with which settings."""
    import sklearn

    learner = model.steps[-1][1]
    settings = ", ".join(f"{k}={v!r}" for k, v in sorted(learner.get_params().items()))
    return (
        "# Training log: arrests-release screening model\n\n"
        f"- **Trained by:** `assay demo` (`assay.demo:prepare`), seed {seed}\n"
        f"- **Data:** `data/train.parquet` ({rows:,} rows), sha256 `{hashes['train']}`\n"
        f"- **Features:** {', '.join(FEATURES_CATEGORICAL + FEATURES_NUMERIC)}\n"
        f"- **Learner:** {type(learner).__name__} ({settings})\n"
        f"- **Library:** scikit-learn {sklearn.__version__}\n"
        f"- **Saved model:** `models/release.skops`, sha256 `{hashes['model']}`\n"
    )


def spec_text(*, seed: int, hashes: dict[str, str]) -> str:
    """The demo's ``assay.yaml`` for data files with the given sha256 ``hashes``."""
    return _SPEC.format(
        seed=seed,
        split_year=SPLIT_YEAR,
        **{f"sha_{name}": digest for name, digest in hashes.items()},
    )


def clean(directory: Path) -> None:
    """Remove what :func:`prepare` wrote (the evidence repository is elsewhere and kept)."""
    for name in ("data", "documents", "models", "reports"):
        shutil.rmtree(directory / name, ignore_errors=True)
    (directory / "assay.yaml").unlink(missing_ok=True)
