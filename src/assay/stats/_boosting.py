"""A small histogram gradient-boosting classifier in NumPy (binary log-loss).

The domain classifier needs a flexible, deterministic model fitted in a fraction of a second.
scikit-learn's ``HistGradientBoostingClassifier`` is such a model, but importing scikit-learn
costs more CPU than the fit, so this module reimplements its algorithm with array operations:

1. **Binning.** A numeric feature gets up to ``max_bins`` bins: one per distinct training
   value when there are that few (edges at midpoints), else edges at the training quantiles
   (midpoint percentiles, duplicates dropped); a value goes to the bin of the edges below it.
   A categorical feature's code is its bin. Missing values get the last bin.
2. **Boosting.** The raw score starts at the log-odds of the training prior; each of
   ``max_iter`` trees is fitted to the gradient ``p - y`` and hessian ``p (1 - p)`` of the
   log-loss and adds ``learning_rate`` times its leaf values ``-G / (H + l2)``.
3. **Trees** grow best first to ``max_leaf_nodes`` leaves, in rounds: each round splits the
   leaves with the largest gains, at most half as many as leaves may still be added, so the
   order stays close to scikit-learn's one split at a time. For the smaller child of every
   split at once, one ``np.add.at`` fills (node, bin, feature) sums of gradient and hessian,
   then summed cumulatively over the bins in single precision; the larger child's sums are
   its parent's minus the smaller's. For every node, feature and threshold at once follows
   the score ``GL²/HL + GR²/HR`` of the split ``bin <= t``, with the missing values sent
   right, then left. Each child needs ``min_samples_leaf`` rows
   (estimated from its share of the hessian, as LightGBM does) and a hessian of 1e-3; a node
   splits when its best score beats its own ``G²/H``. Categorical features are split as in
   LightGBM and scikit-learn: the categories with support (hessian-scaled count ≥ 10) are
   sorted by ``G / (H + 10)`` and scanned in that order; the others, rare or unseen, are
   pooled and the pool is tried on either side.
4. **Prediction** walks all trees at once, one array step per tree level.

The defaults are scikit-learn's: learning rate 0.1, 31 leaves, 20 rows per leaf, no L2
penalty, 255 bins. A split is stored as the set of bins that go left, so numeric, categorical
and missing values are routed alike. :meth:`HistGradientBoosting.fit_many` grows the trees of
several models (cross-validation folds) in the same array operations. Nothing is random.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from assay.stats.distributions import FloatArray

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
Float32Array = npt.NDArray[np.float32]

#: A category joins the sorted scan when its hessian-scaled count reaches this (scikit-learn's
#: MIN_CAT_SUPPORT, LightGBM's cat_smooth); it also smooths the sort key G / (H + 10).
CATEGORY_SUPPORT = 10.0
MIN_HESSIAN = 1e-3
MAX_CODE = 253
BAD_CATEGORY = "Categorical features must hold codes 0..{top} or NaN; got {value!r}."
BAD_DATA = "Fitting needs a feature, labels 0 or 1 and at least one row per model."
NOT_FITTED = "Call fit() before predicting."


@dataclass(frozen=True)
class _Binner:
    """Maps rows to bins, one row of bins per feature in internal order (numeric first)."""

    columns: IntArray
    n_num: int
    edges: tuple[FloatArray, ...]
    cat_bins: int  # codes seen in training; higher codes share bin cat_bins
    slots: int  # bins per feature; the last holds missing values

    def __call__(self, x: FloatArray) -> npt.NDArray[np.uint8]:
        binned = np.full((x.shape[1], x.shape[0]), self.slots - 1, dtype=np.uint8)
        for i, j in enumerate(self.columns):
            present = ~np.isnan(x[:, j])
            values = x[present, j]
            if i < self.n_num:
                binned[i, present] = np.searchsorted(self.edges[i], values, side="left")
                continue
            binned[i, present] = np.minimum(_codes(values), self.cat_bins)
        return binned


def _codes(values: FloatArray) -> FloatArray:
    bad = (values < 0) | (values > MAX_CODE) | (values != np.floor(values))
    if bad.any():
        raise ValueError(BAD_CATEGORY.format(top=MAX_CODE, value=float(values[bad][0])))
    return values


@dataclass(frozen=True)
class _Forest:
    """All trees' nodes: split feature, bins going left, children (-1: leaf), leaf value."""

    init: float
    roots: IntArray
    feature: IntArray
    table: BoolArray
    child: IntArray
    value: FloatArray


class HistGradientBoosting:
    """Binary classifier: gradient-boosted trees on binned features (see the module doc)."""

    def __init__(
        self,
        *,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_bins: int = 255,
    ) -> None:
        if not (2 <= max_bins <= 255 and max_iter >= 1):
            raise ValueError(
                f"Needs max_bins in 2..255 and max_iter >= 1; got {max_bins}, {max_iter}."
            )
        self.max_iter, self.learning_rate = max_iter, learning_rate
        self.max_leaf_nodes, self.min_samples_leaf = max_leaf_nodes, min_samples_leaf
        self.l2_regularization, self.max_bins = l2_regularization, max_bins
        self._binner: _Binner | None = None
        self._forest: _Forest | None = None

    def fit(self, x: FloatArray, y: npt.ArrayLike, categorical: npt.ArrayLike = ()) -> Self:
        """Fit rows ``x`` (NaN = missing) to 0/1 labels ``y``. ``categorical`` masks the
        columns holding category codes 0..253, as ``encode_tables`` returns them."""
        self._fit([self], x, np.asarray(y, np.float64), categorical, [np.arange(len(x))])
        return self

    def fit_many(
        self, x: FloatArray, y: npt.ArrayLike, categorical: npt.ArrayLike, subsets: Sequence[Any]
    ) -> list[Self]:
        """A copy of this model per row subset (mask or indexes), all fitted at once: each
        equals ``fit(x[subset], y[subset], categorical)``."""
        models = [copy.copy(self) for _ in subsets]
        rows = [np.arange(len(x))[np.asarray(subset)] for subset in subsets]
        self._fit(models, x, np.asarray(y, np.float64), categorical, rows)
        return models

    def _fit(
        self,
        models: Sequence[Self],
        x: FloatArray,
        y: FloatArray,
        categorical: npt.ArrayLike,
        rows: list[IntArray],
    ) -> None:
        mask = np.zeros(x.shape[1], bool)
        mask[np.asarray(categorical, bool).nonzero()] = True  # () marks none
        codes = _codes(x[:, mask][~np.isnan(x[:, mask])])
        cat_bins = int(codes.max(initial=-1.0)) + 1
        if not (x.shape[1] and np.isin(y, (0.0, 1.0)).all() and all(r.size for r in rows)):
            raise ValueError(BAD_DATA)
        slots = -(-(max(self.max_bins, cat_bins + 1) + 1) // 16) * 16
        columns, n_num = np.argsort(mask, kind="stable"), int(mask.size - mask.sum())
        edges = [tuple(_edges(x[r, j], self.max_bins) for j in columns[:n_num]) for r in rows]
        binners = [_Binner(columns, n_num, e, cat_bins, slots) for e in edges]
        group = np.repeat(np.arange(len(rows)), [r.size for r in rows])
        target = np.concatenate([y[r] for r in rows])
        prior = np.clip(np.bincount(group, target) / np.bincount(group), 1e-12, 1 - 1e-12)
        init = np.log(prior / (1.0 - prior))
        binned = np.hstack([b(x[r]) for b, r in zip(binners, rows, strict=True)])
        grower = _Grower(binned, group, binners[0], self)
        raw, trees = init[group], []
        for _ in range(self.max_iter):
            p = _sigmoid(raw)
            tree, leaf = grower.grow(p - target, p * (1.0 - p))
            trees.append(tree)
            raw += tree[3][leaf]
        size = grower.size
        for i, model in enumerate(models):
            part = [[a[i * size : (i + 1) * size] for a in tree] for tree in trees]
            moved = [np.where(t[2] >= 0, t[2] + (j - i) * size, -1) for j, t in enumerate(part)]
            model._binner = binners[i]
            model._forest = _Forest(
                init=float(init[i]),
                roots=np.arange(len(trees)) * size,
                feature=np.concatenate([t[0] for t in part]),
                table=np.concatenate([t[1] for t in part]),
                child=np.concatenate(moved),
                value=np.concatenate([t[3] for t in part]),
            )

    def decision_function(self, x: FloatArray) -> FloatArray:
        """The raw score (log-odds of class 1) of each row."""
        if self._binner is None or self._forest is None:
            raise RuntimeError(NOT_FITTED)
        forest, n = self._forest, x.shape[0]
        bins, table, child = self._binner(x).ravel(), forest.table.ravel(), forest.child.ravel()
        node = np.repeat(forest.roots, n)  # one walker per (tree, row), tree-major
        row = np.tile(np.arange(n), forest.roots.size)
        todo = np.flatnonzero(child[2 * node] >= 0)
        while todo.size:
            at = node[todo]
            goes_left = table[at * self._binner.slots + bins[forest.feature[at] * n + row[todo]]]
            node[todo] = at = child[2 * at + 1 - goes_left]
            todo = todo[child[2 * at] >= 0]
        raw: FloatArray = forest.init + forest.value[node].reshape(forest.roots.size, n).sum(axis=0)
        return raw

    def predict_proba_positive(self, x: FloatArray) -> FloatArray:
        """The probability of class 1 for each row."""
        return _sigmoid(self.decision_function(x))


def _sigmoid(raw: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * raw)), dtype=np.float64)


def _edges(column: FloatArray, max_bins: int) -> FloatArray:
    values = np.sort(column[~np.isnan(column)])
    distinct = values[np.r_[True, values[1:] != values[:-1]]] if values.size else values
    if distinct.size <= max_bins:
        return np.asarray((distinct[:-1] + distinct[1:]) / 2.0, dtype=np.float64)
    position = np.linspace(0.0, values.size - 1.0, max_bins + 1)[1:-1]
    lo, hi = np.floor(position).astype(np.intp), np.ceil(position).astype(np.intp)
    return np.unique((values[lo] + values[hi]) / 2.0)


class _Grower:
    """Grows one tree per group of rows (per model) at a time; see the module doc.

    Group ``i`` owns nodes ``i * size`` (its root) to ``(i + 1) * size - 1``. An evaluated node
    keeps its cumulative histogram (statistic, bin, feature): the sums of gradient (0) and
    hessian (1) over its rows with bin <= b. Numeric features come first, ``n_num`` of them.
    """

    def __init__(
        self,
        binned: npt.NDArray[np.uint8],
        group: IntArray,
        binner: _Binner,
        model: HistGradientBoosting,
    ) -> None:
        self.model, self.min_leaf, self.l2 = model, model.min_samples_leaf, model.l2_regularization
        self.size = 2 * model.max_leaf_nodes - 1
        self.n_features, self.n = binned.shape
        self.n_num, self.cat_bins, self.slots = binner.n_num, binner.cat_bins, binner.slots
        self.bins, self.group, self.n_groups = binned.ravel(), group, int(group.max()) + 1
        self.width = self.slots * self.n_features  # one node's histogram cells
        cell = binned.T.astype(np.intp) * self.n_features + np.arange(self.n_features)
        self.root_cell = (cell + (group * self.width)[:, None]).ravel()
        self.cell = cell.astype(np.uint16 if self.width < 2**16 else np.intp)

    def histograms(self, rows: IntArray | None, slot: IntArray, k: int) -> Float32Array:
        """Cumulative sums of gradient and hessian per slot: shape (slot, 2, bin, feature)."""
        if rows is None:  # the roots: every row
            index, gh = self.root_cell, self.gh
        else:
            index = np.add(np.take(self.cell, rows, axis=0), (slot * self.width)[:, None])
            index, gh = index.ravel(), self.gh[rows]
        sums = np.zeros(k * self.width, dtype=np.complex128)
        np.add.at(sums, index, np.repeat(gh, self.n_features))
        out = np.empty((k, 2, self.slots, self.n_features), dtype=np.float32)
        out[:, 0], out[:, 1] = (part.reshape(k, self.slots, -1) for part in (sums.real, sums.imag))
        step = 16 if self.slots >= 128 else 8  # prefix sums in blocks of `step` bins
        blocks = out.reshape(k, 2, -1, step, self.n_features)
        for i in range(1, step):
            blocks[:, :, :, i] += blocks[:, :, :, i - 1]
        for i in range(1, blocks.shape[2]):
            blocks[:, :, i] += blocks[:, :, i - 1, -1:]
        return out

    def grow(self, g: FloatArray, h: FloatArray) -> tuple[tuple[npt.NDArray[Any], ...], IntArray]:
        """One tree per group fitted to gradients ``g`` and hessians ``h``: (feature, left
        bins, children, leaf value) per node; also each row's leaf."""
        model, size, self.gh = self.model, self.size, g + 1j * h
        total = self.n_groups * size
        self.feature, child = np.zeros(total, np.intp), np.full((total, 2), -1, np.intp)
        self.table, self.gain = np.zeros((total, self.slots), bool), np.full(total, -np.inf)
        node, roots = self.group * size, np.arange(self.n_groups) * size
        self.count = count = np.zeros(total)
        count[roots] = np.bincount(self.group)
        stored = [self.histograms(None, node, self.n_groups)]  # cumulative histograms by round
        found = np.zeros((total, 2), dtype=np.intp)  # (round, index) of a node's histogram
        found[roots, 1] = np.arange(self.n_groups)
        self.evaluate(stored[0], roots)
        n_nodes, leaves = np.ones(self.n_groups, np.intp), np.ones(self.n_groups, np.intp)
        while True:
            candidates = np.flatnonzero(self.gain > 0.0)
            by_group = candidates // size
            k = np.bincount(by_group, None, self.n_groups)
            k = np.minimum(k, (model.max_leaf_nodes - leaves + 1) // 2)
            if not k.any():
                break
            order = np.lexsort((-self.gain[candidates], by_group))
            candidates, by_group = candidates[order], by_group[order]
            rank = np.arange(candidates.size) - np.searchsorted(by_group, by_group)
            take = rank < k[by_group]
            chosen, rank, of = candidates[take], rank[take], by_group[take]
            self.gain[chosen] = -np.inf
            left = of * size + n_nodes[of] + 2 * rank
            child[chosen] = np.stack([left, left + 1], axis=1)
            n_nodes, leaves = n_nodes + 2 * k, leaves + k
            slot_of = np.full(total, -1, dtype=np.intp)
            slot_of[chosen] = np.arange(chosen.size)
            moving = np.flatnonzero(slot_of[node] >= 0)
            s = slot_of[node[moving]]
            at = chosen[s]
            cell = at * self.slots + self.bins[self.feature[at] * self.n + moving]
            goes_left = self.table.ravel()[cell]
            node[moving] = left[s] + ~goes_left
            n_left = np.bincount(s, goes_left, chosen.size)
            count[left], count[left + 1] = n_left, np.bincount(s, None, chosen.size) - n_left
            grows = leaves[of] < model.max_leaf_nodes
            if not grows.any():
                break
            small_left = count[left] <= count[left + 1]
            small = goes_left == small_left[s]
            hist = self.histograms(moving[small], s[small], chosen.size)
            parent = np.empty_like(hist)
            for r in np.unique(found[chosen, 0]):
                sel = np.flatnonzero(found[chosen, 0] == r)
                parent[sel] = stored[r][found[chosen[sel], 1]]
            hist = np.concatenate([hist, parent - hist])
            ids = np.concatenate([left + ~small_left, left + small_left])
            keep = np.tile(grows, 2) & (count[ids] >= max(2 * self.min_leaf, 2))
            if not keep.all():
                hist, ids = hist[keep], ids[keep]
            found[ids] = np.stack([np.full(ids.size, len(stored)), np.arange(ids.size)], axis=1)
            stored.append(hist)
            if ids.size:
                self.evaluate(hist, ids)
        grad, hess = np.bincount(node, g, total), np.bincount(node, h, total)
        value = -model.learning_rate * grad / (hess + self.l2 + 1e-15)
        return (self.feature, self.table, child, value), node

    def evaluate(self, cum: Float32Array, ids: IntArray) -> None:
        """Best split of the nodes ``ids`` with cumulative histograms ``cum``: their gain,
        feature and left bins."""
        k, num, last = cum.shape[0], self.n_num, self.slots - 1
        totals, count = cum[:, :, last, 0], self.count[ids]  # (node, statistic), (node,)
        lsum = np.empty((k, 2, 2, last, self.n_features), dtype=np.float32)
        lsum[:, 0, :, :, :num] = cum[:, :, :last, :num]  # missing values right, then left
        missing = cum[:, :, last, None, :num] - cum[:, :, last - 1, None, :num]
        np.add(lsum[:, 0, :, :, :num], missing, out=lsum[:, 1, :, :, :num])
        if num < self.n_features:
            order, used = self.categories(cum[..., num:], totals, count, lsum[..., num:])
        score, index = self.best(lsum, totals, count)
        option, threshold, feat = np.unravel_index(index, (2, last, self.n_features))
        missing_left = option.astype(bool)
        left_bins = np.arange(self.slots)[None, :] <= threshold[:, None]
        left_bins[:, last] = missing_left
        nodes = np.flatnonzero(feat >= num)
        if nodes.size:
            o, u = order[nodes, feat[nodes] - num], used[nodes, feat[nodes] - num]
            rank = np.empty_like(o)
            np.put_along_axis(rank, o, np.arange(o.shape[1])[None, :], axis=1)
            goes = np.where(u, rank <= threshold[nodes, None], missing_left[nodes, None])
            left_bins[nodes] = missing_left[nodes, None]  # unseen codes go with the pool
            left_bins[nodes, : self.cat_bins], left_bins[nodes, last] = goes[:, :-1], goes[:, -1]
        grad, hess = totals[:, 0].astype(np.float64), totals[:, 1].astype(np.float64)
        parent = grad**2 / (hess + self.l2)
        improvement = score - parent
        splits = (improvement > 1e-5 * parent + 1e-12) & (hess >= MIN_HESSIAN)
        self.gain[ids] = np.where(splits, improvement, -np.inf)
        self.feature[ids], self.table[ids] = feat, left_bins

    def categories(
        self, cum: Float32Array, totals: Float32Array, count: FloatArray, out: Float32Array
    ) -> tuple[IntArray, BoolArray]:
        """Fill ``out`` (node, option, statistic, threshold, feature) for categorical features:
        left sums over the supported categories sorted by G / (H + 10), the pool of the others
        going right, then left. Returns the sort order and the support (node, feature, bin)
        of the codes' bins and, last, the missing bin."""
        k, nb, last = cum.shape[0], self.cat_bins, self.slots - 1
        raw = np.empty((k, 2, nb + 1, cum.shape[3]), dtype=np.float32)  # per-category sums
        raw[:, :, 0] = cum[:, :, 0]
        np.subtract(cum[:, :, 1:nb], cum[:, :, : max(nb - 1, 0)], out=raw[:, :, 1:nb])
        np.subtract(cum[:, :, last], cum[:, :, last - 1], out=raw[:, :, nb])
        raw = np.ascontiguousarray(raw.transpose(0, 3, 1, 2))  # (node, feature, stat, bin)
        factor = count / np.maximum(totals[:, 1], 1e-30)
        used = raw[:, :, 1] * factor[:, None, None] >= CATEGORY_SUPPORT
        key = np.where(used, raw[:, :, 0] / (raw[:, :, 1] + CATEGORY_SUPPORT), np.inf)
        order = np.argsort(key, axis=2, kind="stable")
        start = np.arange(0, raw.size, nb + 1).reshape((*raw.shape[:3], 1))
        ranked = raw.ravel()[order[:, :, None] + start]
        ranked *= np.arange(nb + 1) < used.sum(axis=2)[:, :, None, None]
        cumulative = np.cumsum(ranked, axis=3).transpose(0, 2, 3, 1)  # (node, stat, bin, feat)
        out[:, 0, :, : nb + 1] = cumulative
        out[:, 0, :, nb + 1 :] = cumulative[:, :, -1:]
        np.add(out[:, 0], (totals[:, :, None] - cumulative[:, :, -1])[:, :, None], out=out[:, 1])
        return order, used

    def best(
        self, lsum: Float32Array, totals: Float32Array, count: FloatArray
    ) -> tuple[FloatArray, IntArray]:
        """Per node, the best score GL²/HL + GR²/HR over ``lsum``'s (option, threshold,
        feature) cells whose children have enough rows and hessian, and its flat index."""
        grad, hess = totals[:, 0, None, None, None], totals[:, 1, None, None, None]
        rows_per_hessian = np.maximum(count, 1.0) / np.maximum(totals[:, 1], 1e-30)
        low = np.maximum(self.min_leaf / rows_per_hessian, MIN_HESSIAN).astype(np.float32)
        low = low[:, None, None, None]
        lg, lh = lsum[:, :, 0], lsum[:, :, 1]
        rh = hess - lh
        score = lg * lg
        score /= np.maximum(lh, low) + self.l2
        right = grad - lg
        right *= right
        right /= np.maximum(rh, low) + self.l2
        score += right
        score *= (lh >= low) & (rh >= low)  # invalid cells score 0, below the node's G²/H
        flat = score.reshape(lsum.shape[0], -1)
        index = flat.argmax(axis=1)
        return flat[np.arange(index.size), index].astype(np.float64), index
