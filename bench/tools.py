"""One tool's run on one pair of tables: its command, its measured process, what it flagged.

The tools: ``floor`` and ``floor-iter`` (pyarrow reads, peers/pyarrow_floor.py, in Assay's
environment), ``assay`` (``assay audit`` on a spec written for the pair), ``evidently`` and
``whylogs`` (peers/*_drift.py in bench/.venv). Each runs as its own process under
measure.run_measured; the result is a plain dict for results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

import common
from measure import run_measured

BENCH = Path(__file__).resolve().parent
TOOLS = ("floor", "floor-iter", "assay", "evidently", "whylogs")
PEERS = ("evidently", "whylogs")
DETECTS = ("assay", "evidently", "whylogs")
DRIFT_CHECKS = ("drift.feature", "drift.label", "drift.prediction")
PEER_ENV = {"DO_NOT_TRACK": "1", "WHYLOGS_NO_ANALYTICS": "1"}  # no telemetry calls


def duration(seconds: float) -> str:
    """600 → "10 min", 90 → "90 s"."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def assay_spec(data: Path, truth: dict[str, Any]) -> str:
    lines = ["version: 1", "system: {name: bench-drift, version: '1'}", "datasets:"]
    for role in ("reference", "current"):
        path = json.dumps(str((data / truth["files"][role]).resolve()))
        lines.append(
            f"  {role}: {{path: {path}, target: {truth['target']}, "
            f"prediction: {truth['prediction']}}}"
        )
    return "\n".join(lines) + "\n"


def command(
    tool: str, data: Path, truth: dict[str, Any], out: Path, args: argparse.Namespace
) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    files = [
        "--reference",
        str(data / truth["files"]["reference"]),
        "--current",
        str(data / truth["files"]["current"]),
        "--out",
        str(out),
    ]
    if tool in ("floor", "floor-iter"):
        mode = "read_table" if tool == "floor" else "iter_batches"
        script = str(BENCH / "peers" / "pyarrow_floor.py")
        return [str(args.assay_python), script, "--mode", mode, *files], env
    if tool == "assay":
        spec = out / "assay.yaml"
        spec.write_text(assay_spec(data, truth))
        env.pop("ASSAY_REPO", None)
        cmd = [
            str(args.assay),
            "audit",
            str(spec),
            "--repo",
            str(out / "repo"),
            "--json",
            str(out / "assay.json"),
            "--html",
            str(out / "assay.html"),
            "-q",
        ]
        return cmd, env
    env.update(PEER_ENV)
    script = str(BENCH / "peers" / f"{tool}_drift.py")
    return [
        str(args.peer_python),
        script,
        *files,
        "--target",
        truth["target"],
        "--prediction",
        truth["prediction"],
    ], env


def _tail(path: Path, lines: int = 6, chars: int = 1500) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])[-chars:]


def _last_json_line(path: Path) -> dict[str, Any] | None:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                return None
            return value if isinstance(value, dict) else None
    return None


def parse_assay(out: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """Flagged columns from Assay's JSON results: failed drift.feature/label/prediction findings."""
    doc = json.loads((out / "assay.json").read_text())
    findings = doc.get("findings", [])
    drift = [f for f in findings if f.get("check_id") in DRIFT_CHECKS]
    columns = set(truth["columns"])

    def column(f: dict[str, Any]) -> str:
        name = str(f.get("subject", "")).rsplit(":", 1)[-1]
        if name not in columns and f["check_id"] == "drift.label":
            return str(truth["target"])
        if name not in columns and f["check_id"] == "drift.prediction":
            return str(truth["prediction"])
        return name

    counts: dict[str, int] = {}
    for f in findings:
        counts[f.get("status", "?")] = counts.get(f.get("status", "?"), 0) + 1
    return {
        "flagged": sorted({column(f) for f in drift if f.get("status") == "fail"}),
        "possible": sorted({column(f) for f in drift if f.get("status") == "warn"}),
        "drift_findings": len(drift),
        "drift_skipped": sum(1 for f in drift if f.get("status") == "skipped"),
        "findings": len(findings),
        "status_counts": counts,
        "verdict": doc.get("verdict", {}).get("status"),
        "tool_version": doc.get("tool_version"),
    }


def score(flagged: list[str] | None, truth: dict[str, Any]) -> dict[str, Any]:
    if flagged is None:
        return {"recall": None, "missed": None, "false_alarms": None, "false_alarm_columns": None}
    shifted = set(truth["shifted"])
    unshifted = set(truth["unshifted"])
    hit = shifted & set(flagged)
    false = sorted(unshifted & set(flagged))
    return {
        "recall": round(len(hit) / len(shifted), 4),
        "missed": sorted(shifted - hit),
        "false_alarms": len(false),
        "false_alarm_columns": false,
    }


def run_tool(
    tool: str,
    rows: int,
    seed: int,
    data: Path,
    truth: dict[str, Any],
    args: argparse.Namespace,
    *,
    out_root: Path,
) -> dict[str, Any]:
    out = out_root / f"{common.format_rows(rows)}-s{seed}" / tool
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    record: dict[str, Any] = {
        "tool": tool,
        "rows": rows,
        "seed": seed,
        "out": str(out),
        "load_before": round(os.getloadavg()[0], 2),  # other work on the machine skews timings
    }
    try:
        cmd, env = command(tool, data, truth, out, args)
        record["command"] = shlex.join(cmd)
        m = run_measured(
            cmd,
            timeout=args.timeout,
            stdout=out / "stdout.txt",
            stderr=out / "stderr.txt",
            env=env,
            cwd=out,
            interval=args.interval,
        )
    except OSError as exc:
        record.update(status="error", error=f"could not start: {exc}")
        return record
    record.update(m.as_dict())
    if m.timed_out:
        record.update(
            status="timeout", error=f"did not finish in {duration(args.timeout)} (killed)"
        )
        return record
    ok_codes = (0, 1) if tool == "assay" else (0,)
    if m.exit_code not in ok_codes:
        record.update(status="error", error=f"exit {m.exit_code}: {_tail(out / 'stderr.txt')}")
        return record
    try:
        if tool == "assay":
            detail = parse_assay(out, truth)
            report = out / "assay.html"
        else:
            detail = _last_json_line(out / "stdout.txt") or {}
            if "flagged" not in detail:
                raise ValueError(f"no result line on stdout: {_tail(out / 'stdout.txt')!r}")
            report = Path(detail["report"]) if detail.get("report") else None
        if report is not None and not report.exists():
            raise ValueError(f"the report {report} was not written")
    except (OSError, ValueError, KeyError) as exc:
        record.update(status="error", error=f"could not read the result: {exc}")
        return record
    record["status"] = "ok"
    record["detail"] = detail
    flagged = detail.get("flagged") if tool in DETECTS else None
    if tool == "assay" and not detail.get("drift_findings"):
        flagged = None
        record["note"] = "no drift findings in the run (integrity only): recall not available"
    record["flagged"] = flagged
    record.update(score(flagged, truth))
    if m.strays_killed:
        note = "a process of its group outlived it and was killed at its exit"
        record["note"] = "; ".join(filter(None, [record.get("note"), note]))
    if tool == "assay":
        shutil.rmtree(out / "repo", ignore_errors=True)  # the evidence store can be large
    return record


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 2**20:,.0f} MB"


def summary_line(r: dict[str, Any]) -> str:
    head = f"[{common.format_rows(r['rows'])} s{r['seed']}] {r['tool']:<10}"
    if r["status"] != "ok":
        return f"{head} {r['status']}: {r.get('error', '')}"
    recall = "n/a" if r.get("recall") is None else f"{r['recall']:.2f}"
    fa = "n/a" if r.get("false_alarms") is None else str(r["false_alarms"])
    return (
        f"{head} {r['wall_s']:8.2f} s  pss {_mb(r['peak_pss_tree_bytes']):>9}  "
        f"rss {_mb(r['peak_rss_tree_bytes']):>9}  single {_mb(r['max_rss_single_bytes']):>9}  "
        f"recall {recall}  false alarms {fa}"
    )
