"""What fingerprinting the input files costs the audit, by algorithm, and without it.

Every audit records a digest of each input file (the run's ``inputs`` and each dataset's
manifest; BLAKE3 by default, SHA-256 with ``fingerprint: sha256``), hashed on background
threads while the profile pass runs. On two cores those threads compete with the pass. This
diagnostic measures

1. each algorithm on the two files on its own (``assay.sources.digests.file_digest``, one
   thread), and
2. the whole audit, interleaved: as shipped (BLAKE3), with ``fingerprint: sha256``, and with
   ``file_digest`` replaced by a stub that returns zeros — a diagnostic build that no user
   gets, to show the hashing's share.

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
    import assay.sources.digests as digests
    digests.file_digest = lambda path, algorithm="blake3", block=0: "0" * 64
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
    from assay.sources.digests import file_digest

    size = sum(f.stat().st_size for f in files)
    for algorithm in ("blake3", "sha256"):
        hashing = []
        for _ in range(args.runs):
            start = time.perf_counter()
            for f in files:
                file_digest(f, algorithm)
            hashing.append(time.perf_counter() - start)
        seconds = statistics.median(hashing)
        print(
            f"{algorithm} of both files ({size / 1e9:.2f} GB), one thread: "
            f"{seconds:.2f} s ({size / seconds / 1e9:.2f} GB/s)"
        )

    modes = {
        "as shipped (blake3)": ("real", "blake3"),
        "fingerprint: sha256": ("real", "sha256"),
        "files not hashed (stub)": ("stub", "blake3"),
    }
    times: dict[str, list[float]] = {label: [] for label in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for algorithm in ("blake3", "sha256"):
            (Path(tmp) / f"{algorithm}.yaml").write_text(
                f"version: 1\nsystem: {{name: hash-share}}\nfingerprint: {algorithm}\n"
                "datasets:\n"
                f"  reference: {{path: {files[0]}, target: target, prediction: prediction}}\n"
                f"  current: {{path: {files[1]}, target: target, prediction: prediction}}\n"
            )
        for i in range(args.runs):
            for label, (mode, algorithm) in modes.items():
                spec = Path(tmp) / f"{algorithm}.yaml"
                repo = Path(tmp) / f"repo-{mode}-{algorithm}-{i}"
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
