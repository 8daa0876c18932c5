"""The dask engine on a real LocalCluster of two workers gives the same profile as local."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from _profile_support import exact_parts, reference_and_current
from assay.errors import InputError
from assay.profiles.distributed import SCHEDULER_UNREACHABLE, dask_executor
from assay.profiles.engine import ScanOptions, run_inline, scan

pytest.importorskip("distributed")


@pytest.mark.slow
def test_local_cluster_with_two_workers_gives_the_local_profile(tmp_path: Path) -> None:
    datasets = reference_and_current(tmp_path, (40_000, 25_000), (5, 6), 5_000)
    options = ScanOptions(sample_size=300, seed=1, exact_limit=10_000)
    local = scan(datasets, options, executor=run_inline)
    cluster = scan(datasets, options, executor=dask_executor(workers=2))
    for name in datasets:
        a, b = local[name].profile, cluster[name].profile
        for column in a.columns:
            assert exact_parts(a[column]) == exact_parts(b[column]), column
        x, y = a["x"], b["x"]
        assert x.mean == pytest.approx(y.mean) and x.m2 == pytest.approx(y.m2)
        assert x.values is None and y.values is None  # past the exact limit: sketched
        error = x.kll.normalized_rank_error(False)  # type: ignore[union-attr]
        values = np.concatenate(
            [t.column("x").to_numpy() for t in [pq.read_table(datasets[name].path)]]
        )
        values = values[np.isfinite(values)]
        for rank, q in zip([0.1, 0.5, 0.9], y.quantiles([0.1, 0.5, 0.9]) or [], strict=True):
            assert abs(float((values <= q).mean()) - rank) <= 2 * error
        for group, array in (local[name].hashes.arrays or {}).items():  # type: ignore[union-attr]
            other = cluster[name].hashes.arrays[group]  # type: ignore[union-attr]
            assert (array is None and other is None) or np.array_equal(array, other)


def test_an_unreachable_scheduler_is_named_within_the_timeout() -> None:
    with pytest.raises(InputError) as info:
        list(dask_executor("tcp://127.0.0.1:9", timeout=1)([], lambda r: r))
    assert str(info.value).startswith(
        SCHEDULER_UNREACHABLE.split("(")[0].format(address="tcp://127.0.0.1:9", timeout=1)
    )
