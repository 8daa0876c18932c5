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
   then summed cumulatively over the bins in single precision, in blocks of 16 bins (8 if
   fewer than 128); the larger child's sums are its parent's minus the smaller's. For every
   node, feature and threshold at once follows the score ``GL²/HL + GR²/HR`` of the split
   ``bin <= t``, with the missing values sent right, then left (only for features that have
   some); ties go to the lowest (side, threshold, feature). Each child needs
   ``min_samples_leaf`` rows (estimated from its share of the hessian, as LightGBM does) and
   a hessian of 1e-3; a node splits when its best score beats its own ``G²/H``. Categorical
   features are split as in LightGBM and scikit-learn: the categories with support
   (hessian-scaled count ≥ 10) are sorted by ``G / (H + 10)`` and scanned in that order; the
   others, rare or unseen, are pooled and the pool is tried on either side.
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
    keeps its cumulative histogram: per statistic (gradient, hessian), the sums over its rows
    with bin <= b of each feature. Numeric features get cells only for ``max_bins`` bins and
    a block ending with the missing bin, which gives them the sums of the binner's layout.
    Cells go (position in block, block, feature), numeric then categorical features, so each
    step of the blocked prefix sum is one array operation; :meth:`parts` splits them.
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
        self.step = step = 16 if self.slots >= 128 else 8  # prefix sums in blocks of `step` bins
        nn, nc, last = self.n_num, self.n_features - self.n_num, self.slots - 1
        self.thresholds = -(-model.max_bins // step) * step  # numeric; later bins are empty
        self.blocks = min(self.thresholds // step + 1, self.slots // step), self.slots // step
        self.span = self.blocks[0] * nn + self.blocks[1] * nc  # cells per position in a block
        self.width = step * self.span  # one node's cells per statistic
        cell = binned.T.astype(np.intp)
        cell[:, :nn] = np.minimum(cell[:, :nn], self.blocks[0] * step - 1)  # missing bin last
        first = np.r_[np.arange(nn), self.blocks[0] * nn + np.arange(nc)]  # cell of bin 0
        cell = cell % step * self.span + cell // step * np.repeat([nn, nc], [nn, nc]) + first
        self.root_cell = (cell + (group * self.width)[:, None]).ravel()
        self.cell = cell.astype(np.uint16 if self.width < 2**16 else np.intp, order="C")
        self.gaps = np.flatnonzero((binned[:nn] == last).any(axis=1))  # numeric, with missing
        # each candidate split's index (option, threshold, feature) in the binner's layout
        f, t = self.n_features, np.arange(self.thresholds)[:, None] * self.n_features
        self.where = np.r_[(t + np.arange(nn)).ravel(), (t + self.gaps + last * f).ravel()]
        t = (np.arange(2)[:, None, None] * last + np.arange(self.cat_bins + 1)) * f
        self.cat_where = t + nn + np.arange(nc)[:, None]  # (option, feature, rank)
        self.store = np.empty((self.n_groups * self.size, 2, step, self.span), dtype=np.float32)

    def histograms(self, rows: IntArray | None, slot: IntArray, out: Float32Array) -> None:
        """Fill ``out`` (slot, statistic, position in block, cell) with the cumulative histograms
        of the ``rows`` of each ``slot`` (``None``: of each group's rows)."""
        if rows is None:
            index, gh = self.root_cell, self.gh
        else:
            index = np.add(np.take(self.cell, rows, axis=0), (slot * self.width)[:, None])
            index, gh = index.ravel(), self.gh[rows]
        k, step = out.shape[0], self.step
        sums = np.zeros(k * self.width, dtype=np.complex128)
        np.add.at(sums, index, np.repeat(gh, self.n_features))
        out[:, 0], out[:, 1] = (part.reshape(k, step, -1) for part in (sums.real, sums.imag))
        for i in range(1, step):  # within each block of bins
            out[:, :, i] += out[:, :, i - 1]
        for part in self.parts(out):  # then add to each block the sum of the blocks before it
            part[:, :, :, 1:] += np.cumsum(part[:, :, -1:, :-1], axis=3)

    def parts(self, hist: Float32Array) -> tuple[Float32Array, Float32Array]:
        """Views (node, statistic, position, block, feature) of numeric and categorical cells."""
        (a, b), k, nn = self.blocks, hist.shape[0], self.n_num
        num = hist[..., : a * nn].reshape(k, 2, self.step, a, nn)
        return num, hist[..., a * nn :].reshape(k, 2, self.step, b, self.n_features - nn)

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
        self.histograms(None, node, self.store[: self.n_groups])
        found = np.zeros(total, dtype=np.intp)  # where a node's histogram is stored
        found[roots] = np.arange(self.n_groups)
        self.evaluate(self.store[: self.n_groups], roots)
        stored = self.n_groups
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
            child[chosen, 0], child[chosen, 1] = left, left + 1
            n_nodes, leaves = n_nodes + 2 * k, leaves + k
            slot_of = np.full(total, -1, dtype=np.intp)
            slot_of[chosen] = np.arange(chosen.size)
            s = slot_of[node]
            moving = np.flatnonzero(s >= 0)
            s = s[moving]
            cell = self.bins[(self.feature[chosen] * self.n)[s] + moving]
            goes_left = self.table.ravel()[(chosen * self.slots)[s] + cell]
            node[moving] = (left + 1)[s] - goes_left
            sides = np.bincount(2 * s + goes_left, None, 2 * chosen.size).reshape(-1, 2)
            count[left], count[left + 1] = sides[:, 1], sides[:, 0]
            grows = leaves[of] < model.max_leaf_nodes
            if not grows.any():
                break
            small_left = count[left] <= count[left + 1]
            small = goes_left == small_left[s]
            c = chosen.size
            hist = self.store[stored : stored + 2 * c]  # smaller children, then larger
            self.histograms(moving[small], s[small], hist[:c])
            np.subtract(self.store[found[chosen]], hist[:c], out=hist[c:])
            ids = np.concatenate([left + ~small_left, left + small_left])
            keep = np.tile(grows, 2) & (count[ids] >= max(2 * self.min_leaf, 2))
            at = stored + np.flatnonzero(keep)
            if not keep.all():
                hist, ids = hist[keep], ids[keep]
            found[ids], stored = at, stored + 2 * c
            if ids.size:
                self.evaluate(hist, ids)
        grad, hess = np.bincount(node, g, total), np.bincount(node, h, total)
        value = -model.learning_rate * grad / (hess + self.l2 + 1e-15)
        return (self.feature, self.table, child, value), node

    def evaluate(self, hist: Float32Array, ids: IntArray) -> None:
        """Best split of the nodes ``ids`` with cumulative histograms ``hist``: their gain,
        feature and left bins."""
        (num, cat), gaps, last = self.parts(hist), self.gaps, self.slots - 1
        k, nn, nc, tn = hist.shape[0], self.n_num, cat.shape[4], self.thresholds
        num = num.transpose(0, 1, 3, 2, 4)  # (node, statistic, block, position, feature)
        totals, count = (num if nn else cat)[:, :, -1, -1, 0], self.count[ids]  # (node, stat)
        row, code, rank, ranked = self.categories(cat, totals, count)
        a, b, tc = tn * nn, tn * (nn + gaps.size), ranked.shape[3]
        lsum = np.empty((k, 2, b + 2 * nc * tc), dtype=np.float32)  # (node, stat, candidate)
        missing = num[:, :, -1, -1, gaps] - num[:, :, -1, -2, gaps]
        num = num[:, :, : tn // self.step]
        lsum[:, :, :a].reshape(num.shape)[...] = num  # thresholds, the missing values right,
        out = lsum[:, :, a:b].reshape(*num.shape[:4], gaps.size)
        np.add(num[..., gaps], missing[:, :, None, None], out=out)  # then left where any
        if tn == self.blocks[0] * self.step:  # the last "threshold" is the missing bin: invalid
            lsum[:, 1, a - nn : a] = lsum[:, 1, b - gaps.size : b] = -1.0
        out = lsum[:, :, b:].reshape(k, 2, 2, nc, tc)  # ranks, the pool right, then left
        np.cumsum(ranked, axis=3, out=out[:, :, 0].transpose(0, 2, 1, 3))
        pool = totals[:, :, None] - out[:, :, 0, :, -1]  # the sums outside the ranked ones
        np.add(out[:, :, 0], pool[..., None], out=out[:, :, 1])
        where = np.concatenate([self.where, self.cat_where[:, :, :tc].ravel()])
        blocks = [(s, r, c) for s, r, c in ((0, 1, a), (a, 1, b - a), (b, 2 * nc, tc)) if r * c]
        score, index = self.best(lsum, totals, count, blocks, where)
        option, threshold, feat = np.unravel_index(index, (2, last, self.n_features))
        missing_left = option.astype(bool)
        left_bins = np.arange(self.slots)[None, :] <= threshold[:, None]
        left_bins[:, last] = missing_left
        nodes = np.flatnonzero(feat >= nn)
        if nodes.size:  # the pool (rare, unseen or missing codes) goes with the missing values
            left_bins[nodes] = missing_left[nodes, None]
            which = np.full(k * nc, -1)
            which[nodes * nc + feat[nodes] - nn] = nodes
            at = which[row]
            sel = np.flatnonzero(at >= 0)
            at, bins = at[sel], code[sel]
            left_bins[at, np.where(bins < self.cat_bins, bins, last)] = rank[sel] <= threshold[at]
        grad, hess = totals[:, 0].astype(np.float64), totals[:, 1].astype(np.float64)
        parent = grad**2 / (hess + self.l2)
        improvement = score - parent
        splits = (improvement > 1e-5 * parent + 1e-12) & (hess >= MIN_HESSIAN)
        self.gain[ids] = np.where(splits, improvement, -np.inf)
        self.feature[ids], self.table[ids] = feat, left_bins

    def categories(
        self, cum: Float32Array, totals: Float32Array, count: FloatArray
    ) -> tuple[IntArray, IntArray, IntArray, Float32Array]:
        """The categories with support, per (node, feature) row: row, code (``cat_bins`` for
        the missing bin) and rank by G / (H + 10); and their sums (node, feature, statistic,
        rank), up to the most any row supports."""
        k, nc, nb, last = cum.shape[0], cum.shape[4], self.cat_bins, self.slots - 1
        cum = np.ascontiguousarray(cum.transpose(0, 4, 1, 3, 2)).reshape(k * nc, 2, self.slots)
        raw = np.empty((k * nc, 2, nb + 1), dtype=np.float32)  # per-category sums
        raw[..., 0] = cum[..., 0]
        np.subtract(cum[..., 1:nb], cum[..., : max(nb - 1, 0)], out=raw[..., 1:nb])
        np.subtract(cum[..., last], cum[..., last - 1], out=raw[..., nb])
        scaled = raw[:, 1] * np.repeat(count / np.maximum(totals[:, 1], 1e-30), nc)[:, None]
        row, code = np.divmod(np.flatnonzero(scaled >= CATEGORY_SUPPORT), nb + 1)
        sums = raw[row, :, code]
        order = np.lexsort((sums[:, 0] / (sums[:, 1] + CATEGORY_SUPPORT), row))  # stable
        row, code, sums = row[order], code[order], sums[order]
        n_used = np.bincount(row, None, k * nc)
        rank = np.arange(row.size) - (np.cumsum(n_used) - n_used)[row]
        ranked = np.zeros((k, nc, max(int(n_used.max(initial=0)), 1), 2), dtype=np.float32)
        ranked.reshape(k * nc, ranked.shape[2], 2)[row, rank] = sums
        return row, code, rank, ranked.transpose(0, 1, 3, 2)

    def best(
        self,
        lsum: Float32Array,
        totals: Float32Array,
        count: FloatArray,
        blocks: list[tuple[int, int, int]],
        where: IntArray,
    ) -> tuple[FloatArray, IntArray]:
        """Per node, the best score GL²/HL + GR²/HR over ``lsum``'s candidates whose children
        have enough rows and hessian, and its index in ``where`` (the lowest of equals). The
        ``blocks`` (start, rows, columns) of candidates are in ``where`` order along a row."""
        grad, hess = totals[:, 0, None], totals[:, 1, None]
        rows_per_hessian = np.maximum(count, 1.0) / np.maximum(totals[:, 1], 1e-30)
        low = np.maximum(self.min_leaf / rows_per_hessian, MIN_HESSIAN).astype(np.float32)
        lg, lh, low = lsum[:, 0], lsum[:, 1], low[:, None]
        rh = hess - lh
        valid = np.minimum(lh, rh) >= low  # other cells score 0, below the node's G²/H
        lh, rh = np.maximum(lh, low), np.maximum(rh, low)
        if self.l2:
            lh += self.l2
            rh += self.l2
        score = np.square(lg)
        score /= lh
        right = np.subtract(grad, lg, out=lh)
        np.square(right, out=right)
        right /= rh
        score += right
        score *= valid
        k, firsts = lsum.shape[0], []
        for a, r, c in blocks:  # the first best of each row of each block
            firsts.append(score[:, a : a + r * c].reshape(k, r, c).argmax(2) + a + c * np.arange(r))
        at = np.hstack(firsts)
        value = score[np.arange(k)[:, None], at]
        top = value.max(axis=1)
        index = np.where(value == top[:, None], where[at], np.iinfo(np.intp).max).min(axis=1)
        return top.astype(np.float64), index
