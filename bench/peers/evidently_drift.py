"""Evidently's DataDriftPreset on the reference and current tables, saved as an HTML report.

What a user of Evidently 0.7 writes: read both tables into pandas, declare the columns
(floats numerical; strings, target and prediction categorical; a binary classification task),
run ``Report([DataDriftPreset()], include_tests=True)`` and save the HTML. A column counts as
flagged when Evidently's own per-column drift test fails (``ValueDrift`` test status FAIL), which
applies the method and threshold Evidently picks by column type and size (above 1,000 rows:
normed Wasserstein distance ≥ 0.1 for numbers, Jensen-Shannon distance ≥ 0.1 for categories).
The method, threshold and score per column go to ``evidently-scores.json``.

Evidently rejects int8 label columns, so int8 columns are widened to int64 after reading.
"""

from __future__ import annotations

import json

from _common import Phases, arguments, emit


def main() -> None:
    phases = Phases()
    args = arguments(__doc__.split("\n")[0])
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    phases.done("import")
    frames = []
    for path in (args.reference, args.current):
        df = pd.read_parquet(path)
        for name in df.columns:
            if df[name].dtype == "int8":
                df[name] = df[name].astype("int64")
        frames.append(df)
    ref, cur = frames
    phases.done("read")

    schema = pq.read_schema(args.reference)
    labels = {args.target, args.prediction}
    numerical = [
        f.name
        for f in schema
        if f.name not in labels and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
    ]
    categorical = [f.name for f in schema if f.name not in labels and f.name not in numerical]
    definition = DataDefinition(
        numerical_columns=numerical,
        categorical_columns=[*categorical, args.target, args.prediction],
        classification=[
            BinaryClassification(target=args.target, prediction_labels=args.prediction)
        ],
    )
    reference = Dataset.from_pandas(ref, data_definition=definition)
    current = Dataset.from_pandas(cur, data_definition=definition)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
    phases.done("compute")

    report = args.out / "evidently.html"
    snapshot.save_html(str(report))
    phases.done("write")

    result = snapshot.dict()
    flagged: list[str] = []
    scores: dict[str, dict[str, object]] = {}
    for test in result.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        column = params["column"]
        status = str(getattr(test["status"], "value", test["status"]))
        scores[column] = {"method": params.get("method"), "threshold": params.get("threshold")}
        if status == "FAIL":
            flagged.append(column)
    for metric in result.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type") == "evidently:metric_v2:ValueDrift" and config["column"] in scores:
            scores[config["column"]]["score"] = metric.get("value")
    (args.out / "evidently-scores.json").write_text(json.dumps(scores, indent=2, default=str))
    emit(
        "evidently",
        flagged=flagged,
        report=report,
        phases=phases,
        columns_tested=len(scores),
        rows=[len(ref), len(cur)],
    )


if __name__ == "__main__":
    main()
