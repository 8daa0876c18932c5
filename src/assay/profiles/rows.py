"""Row-level facts from 64-bit row hashes: duplicates, overlaps, conflicting labels.

The profile pass keeps, per dataset, one uint64 per row for each hash group — the feature
columns, the label, the other role columns (prediction, score, timestamp) and the id — and a
row's hash over any union of groups is their sum. Everything here is vectorised NumPy over
those arrays: sorting 1 M hashes takes about 60 ms. Two different rows share a hash with
probability about 2⁻⁶⁴, so the counts are exact in practice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.profiles.sketches import sorted_unique

GROUPS = ("features", "label", "extra", "id")
EXAMPLES = 5


@dataclass(frozen=True)
class GroupFacts:
    """Rows in groups of equal values: how many rows repeat, and a few examples."""

    rows: int
    extra_rows: int  # rows beyond the first of each group: what deduplication would drop
    groups: int  # groups with more than one row
    rows_in_groups: int
    examples: list[dict[str, Any]]


@dataclass(frozen=True)
class RowHashes:
    """The per-row hash arrays of one dataset (``None`` for a group it has no column in)."""

    dataset: str
    arrays: Mapping[str, np.ndarray | None]
    groups: Mapping[str, str]  # column -> group

    def over(self, columns: Sequence[str]) -> np.ndarray | None:
        """The row hash over exactly ``columns``, when it is a union of whole groups."""
        wanted = set(columns)
        chosen = {self.groups[c] for c in wanted if c in self.groups}
        if wanted - set(self.groups):
            return None
        covered = {c for c, g in self.groups.items() if g in chosen}
        if covered != wanted:
            return None
        present = [a for g in sorted(chosen) if (a := self.arrays.get(g)) is not None]
        if not present:
            return None
        if len(present) == 1:  # one group: its own array, read-only (no 8-byte-per-row copy)
            view = present[0].view()
            view.flags.writeable = False
            return view
        total: np.ndarray = present[0] + present[1]
        for array in present[2:]:
            total += array
        return total

    def largest_group_within(self, columns: Sequence[str]) -> tuple[str, np.ndarray] | None:
        """The hash group with the most columns among those wholly inside ``columns``.

        Rows that are all different over those columns are all different over ``columns``
        too, so one sort of that group's array (no sum of groups) can settle a duplicate or
        label-conflict question for any superset.
        """
        wanted = set(columns)
        best: tuple[int, str] | None = None
        for group in sorted(set(self.groups.values())):
            members = {c for c, g in self.groups.items() if g == group}
            usable = members <= wanted and self.arrays.get(group) is not None
            if usable and (best is None or len(members) > best[0]):
                best = (len(members), group)
        if best is None:
            return None
        array = self.arrays[best[1]]
        assert array is not None
        return best[1], array


def all_distinct(hashes: np.ndarray) -> bool:
    """True when no two values are equal (a sort of 5 M hashes takes ~30 ms)."""
    if hashes.size < 2:
        return True
    ordered = np.sort(hashes)
    return not bool((ordered[1:] == ordered[:-1]).any())


def duplicate_groups(hashes: np.ndarray) -> GroupFacts:
    """Groups of rows with equal hashes; examples give sizes and the first row numbers."""
    rows = int(hashes.size)
    if rows == 0:
        return GroupFacts(0, 0, 0, 0, [])
    if all_distinct(hashes):  # the common case: a sort costs ~5 ms per 1 M
        return GroupFacts(rows, 0, 0, 0, [])
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, rows])
    repeated = sizes > 1
    groups = int(repeated.sum())
    in_groups = int(sizes[repeated].sum())
    examples: list[dict[str, Any]] = []
    if groups:
        group_starts, group_sizes = starts[repeated], sizes[repeated]
        first_rows = order[group_starts]  # stable sort: the smallest row number of each group
        pick = np.lexsort((first_rows, -group_sizes))[:EXAMPLES]
        for i in pick:
            members = np.sort(order[group_starts[i] : group_starts[i] + group_sizes[i]])[:3]
            examples.append({"count": int(group_sizes[i]), "rows": [int(r) for r in members]})
    return GroupFacts(rows, in_groups - groups, groups, in_groups, examples)


def conflicting_labels(features: np.ndarray, labels: np.ndarray) -> GroupFacts:
    """Rows whose feature hash is shared with a row of a different label.

    The few distinct labels become small codes written into the low bits of each row's feature
    hash, so one sort of plain integers (milliseconds per million; an argsort or lexsort takes
    a hundred) puts each feature group together with its labels in order. Dropping those low
    bits from the feature hash leaves 56 or more bits: two different feature rows still share
    a hash with negligible probability. Examples list the largest groups.
    """
    rows = int(features.size)
    if rows == 0:
        return GroupFacts(0, 0, 0, 0, [])
    distinct, codes = _few_distinct(labels, 256)
    if distinct is None:  # not a class label; the label check skips such targets anyway
        return _conflicting_labels_by_lexsort(features, labels)
    bits = max(1, int(distinct.size - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    keys = np.sort((features & ~low) | codes)
    group = keys & ~low
    same = group[1:] == group[:-1]
    if not same.any():  # every feature row is unique: nothing can conflict
        return GroupFacts(rows, 0, 0, 0, [])
    shared = np.zeros(rows, bool)  # rows in a feature group of two or more
    shared[1:] |= same
    shared[:-1] |= same
    keys, group = keys[shared], group[shared]
    n = int(keys.size)
    new_group = np.empty(n, bool)
    new_group[0] = True
    np.not_equal(group[1:], group[:-1], out=new_group[1:])
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.r_[starts, n])
    label_changes = np.r_[False, (keys[1:] != keys[:-1]) & ~new_group[1:]]
    labels_per_group = np.add.reduceat(label_changes.astype(np.int64), starts) + 1
    conflicting = labels_per_group > 1
    examples = []
    if conflicting.any():
        idx = np.flatnonzero(conflicting)
        pick = idx[np.lexsort((group[starts[idx]], -sizes[idx]))][:EXAMPLES]
        examples = [{"count": int(sizes[i]), "labels": int(labels_per_group[i])} for i in pick]
    return GroupFacts(rows, 0, int(conflicting.sum()), int(sizes[conflicting].sum()), examples)


def _few_distinct(values: np.ndarray, limit: int) -> tuple[np.ndarray | None, np.ndarray]:
    """The sorted distinct values, if at most ``limit``, and each value's code (its index
    among them, as uint64); ``(None, ...)`` past the limit.

    Labels take a few values: the distinct ones of a leading slice are checked against every
    row with one binary search (a full sort of 5 M hashes would take ~0.1 s); only when some
    row holds another value does a full sort find them all.
    """
    empty = np.empty(0, np.uint64)
    distinct = sorted_unique(values[:65_536])
    if distinct.size > limit:
        return None, empty
    if distinct.size <= 8:  # a compare per value is cheaper than a binary search
        codes = np.zeros(values.size, np.int64)
        matched = 0
        for i, value in enumerate(distinct):
            equal = values == value
            codes[equal] = i
            matched += int(np.count_nonzero(equal))
        if matched == values.size:
            return distinct, codes.view(np.uint64)
    codes = np.searchsorted(distinct, values)
    if not np.array_equal(distinct[np.minimum(codes, distinct.size - 1)], values):
        distinct = sorted_unique(values)
        if distinct.size > limit:
            return None, empty
        codes = np.searchsorted(distinct, values)
    return distinct, codes.view(np.uint64)  # indices are non-negative: same bits


def _conflicting_labels_by_lexsort(features: np.ndarray, labels: np.ndarray) -> GroupFacts:
    rows = int(features.size)
    order = np.lexsort((labels, features))
    f, lab = features[order], labels[order]
    starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    sizes = np.diff(np.r_[starts, rows])
    label_changes = np.r_[False, (lab[1:] != lab[:-1]) & (f[1:] == f[:-1])]
    distinct_labels = np.add.reduceat(label_changes.astype(np.int64), starts) + 1
    conflicting = distinct_labels > 1
    examples = []
    if conflicting.any():
        idx = np.flatnonzero(conflicting)
        pick = idx[np.lexsort((f[starts[idx]], -sizes[idx]))][:EXAMPLES]
        examples = [{"count": int(sizes[i]), "labels": int(distinct_labels[i])} for i in pick]
    return GroupFacts(rows, 0, int(conflicting.sum()), int(sizes[conflicting].sum()), examples)


def overlap(left: np.ndarray, right: np.ndarray) -> int:
    """Rows of ``right`` whose hash is also a hash of ``left``."""
    if left.size == 0 or right.size == 0:
        return 0
    known = np.sort(left)
    at = np.minimum(np.searchsorted(known, right), known.size - 1)
    return int((known[at] == right).sum())
