"""The read floor: read both Parquet files with pyarrow and do nothing else.

``--mode read_table`` (the floor the targets refer to) decodes each file whole with
``pyarrow.parquet.read_table`` (multi-threaded, all columns); ``--mode iter_batches`` streams
each file in record batches with ``ParquetFile.iter_batches`` and drops every batch after
touching it — what a streaming profile pass must at least spend, with memory bounded by the
batch size. Neither flags anything: the floor has no drift detection.
"""

from __future__ import annotations

import argparse

from _common import Phases, arguments, emit


def main() -> None:
    phases = Phases()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--mode", choices=("read_table", "iter_batches"), default="read_table")
    pre.add_argument("--batch-size", type=int, default=65_536)
    known, rest = pre.parse_known_args()
    args = arguments(__doc__.split("\n")[0], rest)
    import pyarrow.parquet as pq

    phases.done("import")
    rows = []
    nbytes = 0
    for path in (args.reference, args.current):
        if known.mode == "read_table":
            table = pq.read_table(path)
            rows.append(table.num_rows)
            nbytes += table.nbytes
            del table
        else:
            n = 0
            for batch in pq.ParquetFile(path).iter_batches(batch_size=known.batch_size):
                n += batch.num_rows
                nbytes += batch.nbytes
            rows.append(n)
    phases.done("read")
    tool = "floor" if known.mode == "read_table" else "floor-iter"
    emit(tool, flagged=[], report=None, phases=phases, rows=rows, decoded_bytes=nbytes)


if __name__ == "__main__":
    main()
