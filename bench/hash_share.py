"""What hashing the input files costs the audit: SHA-256 alone, and the audit with and without it.

Every audit fingerprints its input files with SHA-256 (the run's ``inputs`` and each dataset's
manifest), in a background thread while the profile pass runs. On two cores that thread
competes with the pass. This diagnostic measures

1. SHA-256 of the two files on its own (``assay.sources.file_sha256``, one thread), and
2. the whole audit, interleaved: as shipped, and with ``file_sha256`` replaced by a stub that
   returns zeros — a diagnostic build that no user gets, to show the hashing's share.

    python bench/hash_share.py --size 5M --runs 5

Data comes from ``bench/data/<size>-s0`` (written by ``bench/drift.py``). Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

_RUN = """
import os, sys
from pathlib import Path
if sys.argv[1] == "stub":
    from assay import _gc
    _gc.pause()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import assay.sources.datasets as datasets
    datasets.file_sha256 = lambda path, chunk=0: ("0" * 64, Path(path).stat().st_size)
sys.argv = ["assay", *sys.argv[2:]]
from assay._entry import main
main()
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="5M")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", type=Path, default=ROOT / ".venv" / "bin" / "python")
    args = ap.parse_args()
    data = BENCH / "data" / f"{args.size}-s0"
    files = [data / "reference.parquet", data / "current.parquet"]
    if not all(f.exists() for f in files):
        ap.error(f"{data} has no tables: run bench/drift.py --sizes {args.size} first")

    sys.path.insert(0, str(ROOT / "src"))
    from assay.sources.datasets import file_sha256

    hashing = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for f in files:
            file_sha256(f)
        hashing.append(time.perf_counter() - start)
    size = sum(f.stat().st_size for f in files)
    print(
        f"SHA-256 of both files ({size / 1e9:.2f} GB), one thread: "
        f"{statistics.median(hashing):.2f} s ({size / statistics.median(hashing) / 1e9:.2f} GB/s)"
    )

    times: dict[str, list[float]] = {"as shipped": [], "files not hashed (stub)": []}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "assay.yaml"
        spec.write_text(
            "version: 1\nsystem: {name: hash-share}\ndatasets:\n"
            f"  reference: {{path: {files[0]}, target: target, prediction: prediction}}\n"
            f"  current: {{path: {files[1]}, target: target, prediction: prediction}}\n"
        )
        for i in range(args.runs):
            for label, mode in (("as shipped", "real"), ("files not hashed (stub)", "stub")):
                repo = Path(tmp) / f"repo-{mode}-{i}"
                command = [
                    str(args.python),
                    "-c",
                    _RUN,
                    mode,
                    "audit",
                    str(spec),
                    "--repo",
                    str(repo),
                    "--json",
                    str(Path(tmp) / "a.json"),
                    "--html",
                    str(Path(tmp) / "a.html"),
                    "-q",
                ]
                start = time.perf_counter()
                subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
                times[label].append(time.perf_counter() - start)
    for label, values in times.items():
        print(
            f"audit, {label}: median {statistics.median(values):.2f} s "
            f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
