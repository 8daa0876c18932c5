"""Bootstrap benchmark: Assay's vectorised confidence intervals against the usual loops.

On a generated binary test set (seeded: labels, scores with a planted signal, predictions at
0.5), time 1,000-resample 95 % percentile intervals for accuracy, F1 and ROC AUC three ways:

* Assay's ``bootstrap_classification`` (one metric per call, and all three in one call);
* a plain Python loop calling scikit-learn's metric on each resample's rows — the common
  practice — over the very same resample indices, so its interval must equal Assay's;
* ``scipy.stats.bootstrap(method="percentile", paired=True)``: vectorised numpy statistics
  for accuracy and F1, scikit-learn's ``roc_auc_score`` per resample for ROC AUC (it has no
  axis-vectorised form). Given ``rng=default_rng(seed)`` SciPy's paired bootstrap draws
  ``rng.integers(0, n, (batch, n))`` batch after batch — the same indices as Assay — so its
  interval agrees too (with another generator it would agree up to Monte Carlo error).

Figures go to bench/results.json (key ``bootstrap``) and, through :func:`render_section`,
to their section of bench/RESULTS.md, beside the drift benchmark's.

    .venv/bin/python bench/bootstrap.py                        # 50k rows, 1,000 resamples
    .venv/bin/python bench/bootstrap.py --rows 10000 --resamples 200
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import cpu_model

BENCH = Path(__file__).resolve().parent
RESULTS_SCHEMA = "assay-bench-bootstrap-results/1"
METRICS = ("accuracy", "f1", "roc_auc")
LABELS = {"accuracy": "Accuracy", "f1": "F1", "roc_auc": "ROC AUC"}
SCIPY_BATCH = 50  # resamples scipy holds at once (its default, all, needs ~1 GB at 50k rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--rows", type=int, default=50_000, help="test-set rows (default: 50000)")
    ap.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (1000)")
    ap.add_argument("--seed", type=int, default=0, help="data and resampling seed (0)")
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--results", type=Path, default=BENCH / "results.json")
    ap.add_argument("--markdown", type=Path, default=BENCH / "RESULTS.md")
    return ap.parse_args(argv)


def make_data(rows: int, seed: int) -> dict[str, np.ndarray[Any, Any]]:
    """Labels (30 % positive), a score that separates them (AUC ≈ 0.84) and predictions."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(np.int64)
    score = np.clip(0.3 * y + 0.7 * rng.random(rows), 0.0, 1.0)
    return {"y": y, "score": score, "pred": (score > 0.5).astype(np.int64)}


def machine() -> dict[str, Any]:
    import scipy
    import sklearn

    import assay

    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "assay": assay.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = run()
    return time.perf_counter() - start, value


def _interval(values: list[float] | np.ndarray[Any, Any], confidence: float) -> list[float]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(np.asarray(values, dtype=np.float64), [tail, 100.0 - tail])
    return [float(low), float(high)]


def run_assay(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from assay.stats.bootstrap import bootstrap_classification

    def call(metrics: list[str]) -> Any:
        proba = np.column_stack([1.0 - data["score"], data["score"]])
        return bootstrap_classification(
            data["y"],
            data["pred"],
            proba,
            classes=[0, 1],
            positive=1,
            metrics=metrics,
            n_resamples=args.resamples,
            confidence=args.confidence,
            seed=args.seed,
        )

    call(["accuracy"])  # warm-up: imports and first-touch allocations
    out: dict[str, Any] = {}
    for name in METRICS:
        times = []
        for _ in range(3):
            seconds, result = _timed(lambda name=name: call([name]))
            times.append(seconds)
        ci = result[name]
        out[name] = {
            "seconds": min(times),
            "seconds_all": times,
            "estimate": ci.estimate,
            "ci": [ci.low, ci.high],
        }
    seconds, _ = _timed(lambda: call(list(METRICS)))
    tracemalloc.start()
    call(list(METRICS))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out["together"] = {"seconds": seconds, "peak_traced_bytes": peak}
    return out


def run_sklearn_loop(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    from assay.stats.bootstrap import resample_indices

    y, pred, score = data["y"], data["pred"], data["score"]
    calls: dict[str, Callable[[np.ndarray[Any, Any]], float]] = {
        "accuracy": lambda i: float(accuracy_score(y[i], pred[i])),
        "f1": lambda i: float(f1_score(y[i], pred[i])),
        "roc_auc": lambda i: float(roc_auc_score(y[i], score[i])),
    }
    out: dict[str, Any] = {}
    for name, metric in calls.items():

        def loop(metric: Callable[[np.ndarray[Any, Any]], float] = metric) -> list[float]:
            values = []
            for chunk in resample_indices(y.size, args.resamples, args.seed):
                values.extend(metric(i) for i in chunk)
            return values

        seconds, values = _timed(loop)
        out[name] = {"seconds": seconds, "ci": _interval(values, args.confidence)}
    return out


def _accuracy(y: Any, pred: Any, axis: int = -1) -> Any:
    return np.mean(y == pred, axis=axis)


def _f1(y: Any, pred: Any, axis: int = -1) -> Any:
    tp = np.sum((y == 1) & (pred == 1), axis=axis)
    return 2.0 * tp / (np.sum(y == 1, axis=axis) + np.sum(pred == 1, axis=axis))


def run_scipy(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from scipy.stats import bootstrap
    from sklearn.metrics import roc_auc_score

    y, pred, score = data["y"], data["pred"], data["score"]
    setups: dict[str, tuple[tuple[Any, ...], Callable[..., Any], bool]] = {
        "accuracy": ((y, pred), _accuracy, True),
        "f1": ((y, pred), _f1, True),
        "roc_auc": ((y, score), lambda a, b: roc_auc_score(a, b), False),
    }
    out: dict[str, Any] = {}
    for name, (samples, statistic, vectorized) in setups.items():

        def run(samples: Any = samples, statistic: Any = statistic, vec: bool = vectorized) -> Any:
            return bootstrap(
                samples,
                statistic,
                n_resamples=args.resamples,
                batch=SCIPY_BATCH,
                vectorized=vec,
                paired=True,
                confidence_level=args.confidence,
                method="percentile",
                rng=np.random.default_rng(args.seed),
            )

        seconds, result = _timed(run)
        interval = result.confidence_interval
        out[name] = {
            "seconds": seconds,
            "vectorized": vectorized,
            "ci": [float(interval.low), float(interval.high)],
        }
    return out


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = make_data(args.rows, args.seed)
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "rows": args.rows,
        "resamples": args.resamples,
        "confidence": args.confidence,
        "seed": args.seed,
        "scipy_batch": SCIPY_BATCH,
    }
    _log(f"{args.rows} rows, {args.resamples} resamples; load {results['machine']['load_average']}")
    results["assay"] = run_assay(data, args)
    _log(f"assay: {json.dumps(results['assay'])}")
    results["sklearn_loop"] = run_sklearn_loop(data, args)
    _log(f"sklearn loop: {json.dumps(results['sklearn_loop'])}")
    results["scipy"] = run_scipy(data, args)
    _log(f"scipy: {json.dumps(results['scipy'])}")
    results["agreement"] = agreement(results)
    from render import render_markdown

    everything = json.loads(args.results.read_text()) if args.results.exists() else {}
    everything["bootstrap"] = results
    args.results.write_text(json.dumps(everything, indent=2, default=str) + "\n")
    args.markdown.write_text(render_markdown(everything))
    print(render_section(results))
    print(f"wrote {args.results} and {args.markdown}", file=sys.stderr)
    return 0


def agreement(results: dict[str, Any]) -> dict[str, Any]:
    """Largest endpoint differences: to the same-resample loop, and to SciPy relative to width."""
    out: dict[str, Any] = {}
    for name in METRICS:
        mine = results["assay"][name]["ci"]
        loop = results["sklearn_loop"][name]["ci"]
        other = results["scipy"][name]["ci"]
        width = mine[1] - mine[0]
        out[name] = {
            "max_abs_diff_loop": max(abs(a - b) for a, b in zip(mine, loop, strict=True)),
            "max_abs_diff_scipy": max(abs(a - b) for a, b in zip(mine, other, strict=True)),
            "scipy_diff_share_of_width": max(abs(a - b) for a, b in zip(mine, other, strict=True))
            / width
            if width
            else None,
        }
    return out


def _secs(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _ci(ci: list[float]) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def render_section(results: dict[str, Any]) -> str:
    """The Markdown section for bench/RESULTS.md from the figures :func:`main` measured."""
    m = results["machine"]
    rows, resamples = results["rows"], results["resamples"]
    level = round(results["confidence"] * 100)
    assay, loop, scipy = results["assay"], results["sklearn_loop"], results["scipy"]
    lines = [
        "## Bootstrap confidence intervals",
        "",
        f"{resamples:,} resamples of a {rows:,}-row binary test set (seed {results['seed']}), "
        f"{level} % percentile intervals. Wall time of the interval alone (data in memory), "
        "in one process; Assay's figure is the fastest of three runs, the loops ran once. "
        f"Machine: {m['cpu']}, {m['cpu_count']} CPUs, load average "
        f"{m['load_average']:.2f} at the start; numpy {m['versions']['numpy']}, scipy "
        f"{m['versions']['scipy']}, scikit-learn {m['versions']['scikit-learn']}. "
        "Produced by `bench/bootstrap.py`.",
        "",
        "| metric | Assay (vectorised) | scikit-learn loop | `scipy.stats.bootstrap` | "
        "Assay's speed-up over the loop | Assay's interval | loop's interval | SciPy's interval |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for name in METRICS:
        kind = "vectorised" if scipy[name]["vectorized"] else "per-resample sklearn"
        speedup = loop[name]["seconds"] / assay[name]["seconds"]
        lines.append(
            f"| {LABELS[name]} ({assay[name]['estimate']:.4f}) | {_secs(assay[name]['seconds'])} "
            f"| {_secs(loop[name]['seconds'])} | {_secs(scipy[name]['seconds'])} ({kind}) "
            f"| {speedup:,.0f}× | {_ci(assay[name]['ci'])} | {_ci(loop[name]['ci'])} "
            f"| {_ci(scipy[name]['ci'])} |"
        )
    together = assay["together"]
    worst_loop = max(v["max_abs_diff_loop"] for v in results["agreement"].values())
    worst_scipy = max(v["scipy_diff_share_of_width"] or 0.0 for v in results["agreement"].values())
    worst_scipy_abs = max(v["max_abs_diff_scipy"] for v in results["agreement"].values())
    lines += [
        "",
        f"- All three metrics in one Assay call (shared resamples): "
        f"{_secs(together['seconds'])}, peak traced memory "
        f"{together['peak_traced_bytes'] / 2**20:.0f} MiB (chunks bound it; the full "
        f"{resamples:,} × {rows:,} index matrix would be "
        f"{resamples * rows * 8 / 2**20:,.0f} MiB).",
        f"- The loop uses Assay's resample indices, so its intervals must equal Assay's: the "
        f"largest endpoint difference is {worst_loop:.1e}.",
        (
            f"- SciPy, given `default_rng({results['seed']})`, draws the same resample indices "
            "(its paired bootstrap takes `rng.integers(0, n, (batch, n))` batch after batch), "
            f"so its intervals agree too: at most {worst_scipy_abs:.1e} apart."
            if worst_scipy_abs < 1e-9
            else f"- SciPy's endpoints differ from Assay's by at most {worst_scipy:.0%} of the "
            "interval's width (its own resamples: Monte Carlo error)."
        ),
        "- SciPy's accuracy and F1 use numpy statistics vectorised over resamples "
        f"(batches of {results['scipy_batch']}); its ROC AUC calls scikit-learn per resample.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
