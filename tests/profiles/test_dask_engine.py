"""The dask engine on a real LocalCluster of two workers gives the same profile as local."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from _profile_support import exact_parts, mixed_table
from assay.errors import InputError
from assay.profiles.distributed import SCHEDULER_UNREACHABLE, dask_executor
from assay.profiles.engine import ScanOptions, run_inline, scan
from assay.sources import open_dataset
from assay.spec import spec_from_mapping

pytest.importorskip("distributed")


@pytest.mark.slow
def test_local_cluster_with_two_workers_gives_the_local_profile(tmp_path: Path) -> None:
    pq.write_table(mixed_table(40_000, 5), tmp_path / "ref.parquet", row_group_size=5_000)
    pq.write_table(mixed_table(25_000, 6), tmp_path / "cur.parquet", row_group_size=5_000)
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "t"},
            "datasets": {
                "reference": {"path": "ref.parquet", "target": "t"},
                "current": {"path": "cur.parquet", "target": "t"},
            },
        },
        base_dir=tmp_path,
    )
    datasets = {name: open_dataset(spec, name) for name in spec.datasets}
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
