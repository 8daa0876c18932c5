"""whylogs: profile the reference and current tables, score drift, write the drift report.

What a user of whylogs 1.6 writes: read both tables into pandas, ``why.log(pandas=df)`` each
one, ``calculate_drift_scores(target_view=current, reference_view=reference,
with_thresholds=True)`` (K-S on the KLL sketch for numbers, chi-squared on frequent items for
categories; p < 0.05 is ``DRIFT``, p < 0.15 ``POSSIBLE_DRIFT``), and render the summary drift
report to HTML. A column counts as flagged when its category is ``DRIFT``; ``POSSIBLE_DRIFT``
columns are listed separately as ``possible``. The scores go to ``whylogs-scores.json``.
"""

from __future__ import annotations

import json

from _common import Phases, arguments, emit


def main() -> None:
    phases = Phases()
    args = arguments(__doc__.split("\n")[0])
    import pandas as pd
    import whylogs as why
    from whylogs.viz import NotebookProfileVisualizer
    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    phases.done("import")
    ref = pd.read_parquet(args.reference)
    cur = pd.read_parquet(args.current)
    phases.done("read")

    reference = why.log(pandas=ref).view()
    current = why.log(pandas=cur).view()
    phases.done("profile")
    scores = calculate_drift_scores(
        target_view=current, reference_view=reference, with_thresholds=True
    )
    phases.done("drift")

    visualizer = NotebookProfileVisualizer()
    visualizer.set_profiles(target_profile_view=current, reference_profile_view=reference)
    report = args.out / "whylogs.html"
    report.write_text(visualizer.summary_drift_report().data)
    (args.out / "whylogs-scores.json").write_text(json.dumps(scores, indent=2, default=str))
    phases.done("write")

    flagged = [c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT"]
    possible = [c for c, s in scores.items() if s and s.get("drift_category") == "POSSIBLE_DRIFT"]
    emit(
        "whylogs",
        flagged=flagged,
        report=report,
        phases=phases,
        possible=sorted(possible),
        columns_tested=sum(1 for s in scores.values() if s),
        rows=[len(ref), len(cur)],
    )


if __name__ == "__main__":
    main()
