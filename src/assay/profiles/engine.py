"""The profile pass: every dataset read once, in record batches, split into tasks.

A task is one slice of one dataset — a range of Parquet row groups (or Arrow IPC batches) and
a group of columns. It returns the column profiles of its slice, the partial row hashes of
its columns, and the values of the sampled rows it holds. Tasks merge associatively, so the
same tasks run in this process, in a pool of worker processes (the ``local`` engine, both
cores) or on a Dask cluster (the ``dask`` engine) and give the same profile: exact parts
identical, sketched parts within their error.

Row hashes: each column's values hash with a seed taken from the column's name, and a row's
hash over a set of columns is the sum (mod 2⁶⁴) of its columns' hashes, so partial sums from
column groups add up to the same row hash however the columns were split. Per row the pass
keeps 8 bytes per hash group (features, label, other role columns, id) — the per-row cost of
exact duplicate, overlap and label-conflict detection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from assay._arrow import int64_array
from assay.errors import InputError
from assay.profiles.column import ColumnProfile
from assay.profiles.kll import sampling_stride
from assay.profiles.pool import WorkerPool, local_processes
from assay.profiles.rows import GROUPS, RowHashes
from assay.profiles.shared import HashTarget, SharedHashes
from assay.profiles.sketches import DistinctSketch
from assay.profiles.table import TableProfile
from assay.sources.readers import dictionary_columns, row_slices

if TYPE_CHECKING:
    from assay.sources.datasets import Dataset


class PassHooks:
    """What the pass does around each task: :meth:`prepare` just before the task runs, with
    what the results so far tell (see :class:`_PassState`), and :meth:`fold` the moment its
    result exists. These do nothing; the pass's own hooks fold row hashes and bounds."""

    def prepare(self, task: Task) -> Task:
        return task

    def fold(self, result: TaskResult) -> TaskResult:
        return result

    def share_memory(self) -> Callable[[], None]:
        """Called by an executor whose tasks all run on this machine, before they start;
        returns what to call once they have ended. (The pass's hooks put the row-hash arrays
        in shared memory: :mod:`assay.profiles.shared`.)"""
        return lambda: None


Executor = Callable[[list["Task"], PassHooks], Iterator["TaskResult"]]
"""Runs tasks (each prepared just before it starts), folds each result, and yields them in
task order: inline, a pool, or Dask."""

INLINE_CELLS = 3_000_000
"""Below this many cells in all datasets together the pass runs in this process."""

SAMPLE_SALT = 0x5A17


@dataclass(frozen=True)
class ScanOptions:
    """What the pass collects besides profiles."""

    row_hashes: bool = True
    sample_size: int = 0
    seed: int = 0
    exact_limit: int | None = None
    workers: int | None = None


@dataclass(frozen=True)
class Task:
    """One slice of one dataset: row groups (or IPC batches) × columns."""

    dataset: str
    part: int  # the row slice's position in the dataset, for ordered merging
    reader: Any  # a picklable callable: (columns, parts) -> Iterator[RecordBatch]
    parts: tuple[int, ...] | None
    columns: tuple[str, ...]
    groups: Mapping[str, str]  # column -> hash group
    row_offset: int
    rows: int
    sample_rows: np.ndarray  # global row numbers to keep, within this slice
    exact_limit: int | None
    dictionary: tuple[str, ...] = ()  # text columns the reader delivers dictionary-encoded
    distinct_below: Mapping[str, int] = field(default_factory=dict)  # see _PassState
    hash_targets: Mapping[str, HashTarget] = field(default_factory=dict)  # group -> shared rows
    kll_stride: int = 1  # the KLL sampler's stride, from the whole dataset's rows


@dataclass
class TaskResult:
    dataset: str
    part: int
    row_offset: int
    rows: int
    profiles: dict[str, ColumnProfile]
    hashes: dict[str, np.ndarray]
    sample: dict[str, pa.Array] = field(default_factory=dict)
    written: tuple[str, ...] = ()  # hash groups written in place (Task.hash_targets)


@dataclass
class ScanResult:
    """What the pass found about one dataset."""

    profile: TableProfile
    hashes: RowHashes | None
    sample: pa.Table | None


def run_task(task: Task) -> TaskResult:
    """Profile one slice; runs in any process (everything it needs is in ``task``)."""
    kwargs = {} if task.exact_limit is None else {"exact_limit": task.exact_limit}
    profiles: dict[str, ColumnProfile] = {}
    # Written, not zero-filled and added to: fresh memory costs a page fault per first touch,
    # and a zero-filled page read before it is written costs two. Where the pass shares its
    # arrays, straight into the dataset's rows (assay.profiles.shared).
    sums: dict[str, np.ndarray] = {}
    in_place: list[str] = []
    for name in set(task.groups.values()):
        shared = task.hash_targets.get(name)
        view = shared.view() if shared is not None else None
        if view is not None:
            in_place.append(name)
        sums[name] = view if view is not None else np.empty(task.rows, np.uint64)
    sample: dict[str, list[pa.Array]] = (
        {c: [] for c in task.columns} if task.sample_rows.size else {}
    )
    position = 0
    for batch in _read(task):
        n = batch.num_rows
        written: set[str] = set()
        for name in task.columns:
            array = batch.column(name)
            if name not in profiles:
                kind = array.type.value_type if name in task.dictionary else array.type
                profiles[name] = ColumnProfile.empty(
                    name, kind, kll_stride=task.kll_stride, kll_offset=task.row_offset, **kwargs
                )
                profiles[name].distinct.below = task.distinct_below.get(name)
            hashes = profiles[name].update(array)
            group = task.groups.get(name)
            if group is not None:
                target = sums[group][position : position + n]
                if group in written:
                    np.add(target, hashes, out=target)
                else:  # the group's first column in this batch
                    np.copyto(target, hashes)
                    written.add(group)
        if sample:
            first = task.row_offset + position
            picked = (
                task.sample_rows[(task.sample_rows >= first) & (task.sample_rows < first + n)]
                - first
            )
            if picked.size:
                for name in task.columns:
                    taken = batch.column(name).take(int64_array(picked))
                    if name in task.dictionary:
                        taken = taken.dictionary_decode()
                    sample[name].append(taken)
        position += n
    if position != task.rows:
        raise RuntimeError(f"{task.dataset}: read {position} rows where {task.rows} were expected")
    return TaskResult(
        task.dataset,
        task.part,
        task.row_offset,
        task.rows,
        profiles,
        {g: a for g, a in sums.items() if g not in in_place},
        {c: pa.concat_arrays(a) for c, a in sample.items() if a},
        tuple(sorted(in_place)),
    )


def _read(task: Task) -> Iterator[pa.RecordBatch]:
    """The task's batches; a file that breaks mid-read is bad input, named, exit 2."""
    if task.dictionary:
        batches = task.reader(task.columns, task.parts, dictionary=task.dictionary)
    else:
        batches = task.reader(task.columns, task.parts)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError, ValueError) as exc:
            where = getattr(task.reader, "path", f"<in-memory {task.dataset}>")
            raise InputError(
                f"{where}: cannot read dataset {task.dataset!r}: {str(exc).splitlines()[0]}. "
                "The file may be corrupt or truncated; export it again."
            ) from None
        yield batch


def plan_tasks(datasets: Mapping[str, Dataset], options: ScanOptions, workers: int) -> list[Task]:
    """Split every dataset into about ``2 × workers`` slices of rows × columns."""
    tasks: list[Task] = []
    for name, ds in datasets.items():
        groups = hash_groups(ds) if options.row_hashes else {}
        sample = sample_rows(ds.rows, options.sample_size, options.seed, name)
        reader = ds.reader
        slices = row_slices(ds)
        encoded = dictionary_columns(ds)
        column_groups = _column_groups(ds.columns, 1 if len(slices) >= 2 * workers else 2 * workers)
        stride = sampling_stride(ds.rows)  # per dataset: the same however it is split
        for part, (parts, offset, rows) in enumerate(slices):
            inside = sample[(sample >= offset) & (sample < offset + rows)]
            for columns in column_groups:
                tasks.append(
                    Task(
                        dataset=name,
                        part=part,
                        reader=reader,
                        parts=parts,
                        columns=tuple(columns),
                        groups={c: g for c, g in groups.items() if c in columns},
                        row_offset=offset,
                        rows=rows,
                        sample_rows=inside,
                        exact_limit=options.exact_limit,
                        dictionary=tuple(c for c in columns if c in encoded),
                        kll_stride=stride,
                    )
                )
    return tasks


def hash_groups(ds: Dataset) -> dict[str, str]:
    """Which row-hash group each column adds to: ``features``, ``label``, ``extra`` or ``id``."""
    spec = ds.spec
    roles = {
        spec.target: "label",
        spec.id: "id",
        spec.prediction: "extra",
        spec.score: "extra",
        spec.timestamp: "extra",
    }
    return {c: roles.get(c, "features") for c in ds.columns}


def sample_rows(rows: int, size: int, seed: int, salt: str) -> np.ndarray:
    """Row numbers of a uniform sample of ``size`` rows without replacement, sorted.

    The rows are drawn before the pass from the seed, the dataset's name and its row count
    alone, so the sample is the same however the rows are split into tasks or engines.
    NumPy's ``Generator.choice`` draws them in O(size) (Floyd's algorithm with a hash set
    when ``size`` is small against ``rows``): 0.4 ms for 5,000 of 5M rows, where a seeded
    key per row and a partial sort took 50 ms, serially, before any task could start.
    """
    if size <= 0 or rows == 0:
        return np.empty(0, np.int64)
    if rows <= size:
        return np.arange(rows, dtype=np.int64)
    from assay.checks._registry import derive_seed

    rng = np.random.default_rng(derive_seed(seed, "sample", salt))
    return np.sort(rng.choice(rows, size, replace=False)).astype(np.int64)


def _column_groups(columns: Sequence[str], wanted: int) -> list[list[str]]:
    wanted = max(1, min(wanted, len(columns)))
    return [list(columns[i::wanted]) for i in range(wanted)]


def scan(
    datasets: Mapping[str, Dataset],
    options: ScanOptions = ScanOptions(),
    *,
    executor: Executor | None = None,
) -> dict[str, ScanResult]:
    """Profile every dataset (and collect row hashes and a sample) in one pass over each."""
    workers = options.workers or local_processes()
    tasks = plan_tasks(datasets, options, workers)
    if executor is None:
        executor = local_pool(workers) if wants_workers(datasets, workers) else run_inline
    state = _PassState(datasets, row_hashes=options.row_hashes)
    results = list(executor(tasks, state))
    state.check_filled(datasets)
    return assemble(datasets, results, options, state.arrays)


class _PassState(PassHooks):
    """The pass's hooks: row hashes folded into whole-dataset arrays, and distinct bounds.

    Row hashes: each task's partial arrays are added into whole-dataset arrays as the task
    finishes. Holding every task's partial arrays until the pass ends would double the per-row
    memory (and more with column groups); folded at once, a partial lives for one task.

    With :meth:`share_memory` (an executor on this machine) the arrays live in shared memory
    and a task that holds all of a dataset's columns for its rows writes its hashes there
    itself (:mod:`assay.profiles.shared`); its result then carries none. Tasks that split a
    dataset's columns (small datasets) still return partials: two of them would otherwise
    add to the same rows at once.

    Distinct bounds: the k-th smallest value hash of each column among the results folded so
    far. A hash at or above it cannot be among the column's k smallest, so a task that starts
    later skips such hashes at once instead of sorting them into its own sketch (about a
    fifth of a float column's profiling cost). The merged profile is identical either way.
    """

    def __init__(self, datasets: Mapping[str, Dataset], *, row_hashes: bool) -> None:
        self._width = {name: len(ds.columns) for name, ds in datasets.items()}
        self._shared: SharedHashes | None = None
        # Each row range's first partial is copied in, later ones (other columns of the same
        # rows) added: no zero-filled memory read before it is written (see run_task).
        self.arrays = (
            {
                name: {g: np.empty(ds.rows, np.uint64) for g in set(hash_groups(ds).values())}
                for name, ds in datasets.items()
            }
            if row_hashes
            else {}
        )
        self._filled: dict[tuple[str, str], set[tuple[int, int]]] = {}
        self._seen: dict[tuple[str, str], DistinctSketch] = {}
        self._lock = threading.Lock()

    def check_filled(self, datasets: Mapping[str, Dataset]) -> None:
        """Every row of every hash array was written by some task (an unwritten row would
        hold whatever the memory held)."""
        for name, arrays in self.arrays.items():
            for group in arrays:
                spans = self._filled.get((name, group), set())
                if sum(rows for _, rows in spans) != datasets[name].rows:
                    raise RuntimeError(f"{name}: the pass left rows of the {group} hashes unset")

    def share_memory(self) -> Callable[[], None]:
        sizes = {
            (name, group): array.size
            for name, arrays in self.arrays.items()
            for group, array in arrays.items()
        }
        shared = SharedHashes.create(sizes) if sizes else None
        if shared is None:
            return lambda: None
        self._shared = shared
        for (name, group), array in shared.arrays.items():
            self.arrays[name][group] = array
        return shared.close

    def prepare(self, task: Task) -> Task:
        with self._lock:
            bounds = {
                c: int(seen.hashes[seen.k - 1])
                for c in task.columns
                if (seen := self._seen.get((task.dataset, c))) is not None
                and seen.hashes.size >= seen.k
            }
        changes: dict[str, Any] = {"distinct_below": bounds} if bounds else {}
        if self._shared is not None and len(task.columns) == self._width[task.dataset]:
            changes["hash_targets"] = {
                group: self._shared.target((task.dataset, group), task.row_offset, task.rows)
                for group in set(task.groups.values())
            }
        return replace(task, **changes) if changes else task

    def fold(self, result: TaskResult) -> TaskResult:
        with self._lock:
            if self.arrays:
                arrays = self.arrays[result.dataset]
                span = (result.row_offset, result.rows)
                for group in result.written:  # in place, by a task with all the columns
                    filled = self._filled.setdefault((result.dataset, group), set())
                    if span in filled:
                        raise RuntimeError(f"{result.dataset}: rows {span} hashed twice")
                    filled.add(span)
                for group, partial in result.hashes.items():
                    target = arrays[group][result.row_offset : result.row_offset + result.rows]
                    filled = self._filled.setdefault((result.dataset, group), set())
                    if span in filled:
                        np.add(target, partial, out=target)
                    else:
                        np.copyto(target, partial)
                        filled.add(span)
            result.hashes = {}
            for name, profile in result.profiles.items():
                if profile.distinct.hashes.size:
                    key = (result.dataset, name)
                    seen = self._seen.get(key)
                    self._seen[key] = (
                        profile.distinct if seen is None else seen.merge(profile.distinct)
                    )
        return result


def run_inline(tasks: list[Task], hooks: PassHooks | None = None) -> Iterator[TaskResult]:
    hooks = hooks or PassHooks()
    for task in tasks:
        yield hooks.fold(run_task(hooks.prepare(task)))


def local_pool(workers: int) -> Executor:
    """Run tasks here and in ``workers − 1`` worker processes (see :mod:`assay.profiles.pool`).

    The pool lives as long as the pass; an audit that wants its workers afterwards (for
    background work) passes :func:`pooled` with its own :class:`WorkerPool` instead.
    """

    def execute(tasks: list[Task], hooks: PassHooks) -> Iterator[TaskResult]:
        with WorkerPool(workers - 1) as pool:
            yield from pooled(pool)(tasks, hooks)

    return execute


def pooled(pool: WorkerPool) -> Executor:
    """An executor that runs the pass on ``pool`` and leaves its workers running."""

    def execute(tasks: list[Task], hooks: PassHooks) -> Iterator[TaskResult]:
        done = hooks.share_memory()
        try:
            yield from pool.run(tasks, run_task, hooks.fold, prepare=hooks.prepare)
        finally:
            done()

    return execute


def wants_workers(datasets: Mapping[str, Dataset], workers: int | None = None) -> bool:
    """Whether the local engine would run the pass on worker processes (not inline)."""
    count = workers or local_processes()
    cells = sum(ds.rows * len(ds.columns) for ds in datasets.values())
    return (
        count > 1 and cells >= INLINE_CELLS and all(ds.path is not None for ds in datasets.values())
    )


def assemble(
    datasets: Mapping[str, Dataset],
    results: list[TaskResult],
    options: ScanOptions,
    hashes: Mapping[str, Mapping[str, np.ndarray]],
) -> dict[str, ScanResult]:
    """Merge task results per dataset, in row order, into profiles, hashes and samples."""
    out: dict[str, ScanResult] = {}
    for name, ds in datasets.items():
        mine = sorted((r for r in results if r.dataset == name), key=lambda r: r.part)
        merged: dict[str, ColumnProfile] = {}
        for result in mine:
            for column, part in result.profiles.items():
                merged[column] = merged[column].merge(part) if column in merged else part
        for column in ds.columns:  # a column no batch reached (a dataset of 0 rows)
            if column not in merged:
                merged[column] = ColumnProfile.empty(column, ds.schema.field(column).type)
        profile = TableProfile({c: merged[c] for c in ds.columns}, ds.rows, ds.fingerprint())
        row_hashes = None
        if options.row_hashes:
            arrays = hashes[name]
            row_hashes = RowHashes(ds.name, {g: arrays.get(g) for g in GROUPS}, hash_groups(ds))
        sample = None
        if options.sample_size:
            parts = [r for r in mine if r.sample]
            columns = {
                c: pa.concat_arrays([r.sample[c] for r in parts if c in r.sample])
                for c in ds.columns
                if any(c in r.sample for r in parts)
            }
            sample = pa.table(columns) if columns else None
        out[name] = ScanResult(profile, row_hashes, sample)
    return out
