"""ROC AUC of many score vectors at once, and average votes of many model subsets.

The fusion search scores thousands of subsets of the same members on the same
labels. Two things make that fast and exact:

* Each subset's fused probability is built with the *same* floating-point
  operations as the reference computation (members summed one after the
  other in member order, then one true division by the subset size), so the
  values -- and hence their ties -- are bit for bit those that
  :func:`sklearn.metrics.roc_auc_score` would be given. Subsets sharing a
  prefix of members share its partial sum, so a subset costs one addition
  (an incremental sum in any other order, e.g. a Gray code, would round
  differently and could make or break ties).
* The AUC is the Mann-Whitney statistic computed from one sort per subset,
  in integer arithmetic, with tied scores counted one half (average ranks).
  The sort is on int64 keys that carry the label in their lowest bit, so no
  ``argsort`` and no gather are needed: for non-negative floats the bit
  pattern is ordered like the value.
"""

import sys

import numpy as np


def average_scores(scores, subsets, sizes):
    """Average vote of many subsets of members, computed like the reference.

    Parameters
    ----------
    scores : ndarray of shape (n_members + 1, n_samples)
        One row of scores per member, plus a last row of zeros used as
        padding (adding ``0.0`` to a non-negative float is exact).
    subsets : ndarray of int of shape (n_subsets, max_members)
        Member indices of each subset, ascending (repeats allowed), padded
        with ``n_members`` (the zero row).
    sizes : ndarray of shape (n_subsets,)
        Number of (non-padding) entries of each subset.

    Returns
    -------
    fused : ndarray of shape (n_subsets, n_samples)
        ``(scores[i1] + scores[i2] + ... + scores[ik]) / k`` for each subset,
        added left to right as :func:`average_probas` does.
    """
    sizes = np.asarray(sizes)
    fused = np.empty((len(subsets), scores.shape[1]))
    for size in np.unique(sizes):
        rows = np.flatnonzero(sizes == size)
        first, stop = rows[0], rows[-1] + 1
        if stop - first == len(rows):
            # subsets listed by size: write in place, no scatter
            _subset_sums(scores, subsets[first:stop, :size], fused[first:stop])
        else:
            fused[rows] = _subset_sums(scores, subsets[rows, :size])
    fused /= sizes.astype(np.float64)[:, None]
    return fused


def _subset_sums(scores, subsets, out=None):
    """Left-to-right sums of equal-size subsets, sharing the common prefixes.

    The sum of ``(i1, ..., ik)`` is the sum of its prefix ``(i1, ..., ik-1)``
    plus ``scores[ik]``: exactly the reference order of additions, but each
    distinct prefix is summed once, so a subset costs one addition instead
    of ``k``.
    """
    if out is None:
        out = np.empty((len(subsets), scores.shape[1]))
    if subsets.shape[1] == 1:
        np.take(scores, subsets[:, 0], axis=0, out=out)
        return out
    prefixes, inverse = np.unique(subsets[:, :-1], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    prefix_sums = _subset_sums(scores, prefixes)
    if np.all(inverse[1:] >= inverse[:-1]):
        # Lexicographic order (exhaustive search): each prefix covers a run of
        # rows, filled in one pass from the small, cache-resident ``scores``.
        bounds = np.flatnonzero(np.diff(inverse)) + 1
        for start, stop, prefix in zip(
            np.r_[0, bounds], np.r_[bounds, len(inverse)], prefix_sums
        ):
            np.add(scores[subsets[start:stop, -1]], prefix, out=out[start:stop])
    else:
        np.take(prefix_sums, inverse, axis=0, out=out)
        out += np.take(scores, subsets[:, -1], axis=0)
    return out


def average_probas(probas):
    """Average a sequence of probability arrays, left to right.

    This is the reference order of operations of the fusion search: the
    running sum starts with the first array and adds the next ones one at a
    time, then divides by their number once.

    Parameters
    ----------
    probas : sequence of ndarray of the same shape
        Probabilities of each member, in member order (repeats allowed).

    Returns
    -------
    average : ndarray
        Their average.
    """
    total = np.array(probas[0], dtype=np.float64, copy=True)
    for proba in probas[1:]:
        total += proba
    total /= float(len(probas))
    return total


def roc_auc_rows(y_true, scores):
    """ROC AUC of each row of ``scores`` against the same binary labels.

    Equal to ``sklearn.metrics.roc_auc_score(y_true, scores[i])`` for every
    ``i`` (the value here is the exact Mann-Whitney ratio rounded once;
    scikit-learn's trapezoid sum may differ from it in the last bit).

    Parameters
    ----------
    y_true : array-like of bool of shape (n_samples,)
        True for the positive class. Both classes must be present.
    scores : ndarray of float64 of shape (n_rows, n_samples)
        Scores in ``[0, 2)``, e.g. probabilities. Modified in place.

    Returns
    -------
    auc : ndarray of shape (n_rows,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm._fast_auc import roc_auc_rows
    >>> roc_auc_rows([0, 0, 1, 1], np.array([[0.1, 0.4, 0.35, 0.8],
    ...                                      [0.5, 0.5, 0.5, 0.9]]))
    array([0.75, 0.75])
    """
    y_true = np.asarray(y_true, dtype=bool)
    n_samples = y_true.shape[0]
    n_pos = int(np.count_nonzero(y_true))
    n_neg = n_samples - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "Only one class present in y_true. ROC AUC score is not defined "
            "in that case."
        )
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    keys = scores.view(np.int64)
    # Bit patterns of floats in [0, 2) are below 2**62, so the shift is safe;
    # it also drops the sign bit of -0.0, which then ties with 0.0.
    keys <<= 1
    keys |= y_true
    keys.sort(axis=1)
    # the lowest byte of each key holds its label bit: a strided view, no pass
    low_byte = 0 if sys.byteorder == "little" else 7
    labels = (keys.view(np.uint8)[:, low_byte::8] & 1).astype(np.float64)
    positions = np.arange(n_samples, dtype=np.float64)
    # Ties are put negatives first, so each positive is counted above every
    # negative before it; the tie correction below halves the tied pairs.
    twice_u = 2.0 * (labels @ positions) - n_pos * (n_pos - 1)
    keys >>= 1  # back to the values' bit patterns, in place
    tied = keys[:, 1:] == keys[:, :-1]
    rows_with_ties = np.flatnonzero(tied.any(axis=1))
    if rows_with_ties.size:
        twice_u[rows_with_ties] -= _tied_pairs(
            keys[rows_with_ties], labels[rows_with_ties]
        )
    return twice_u / (2.0 * n_pos * n_neg)


def _tied_pairs(values, labels):
    """Per row, the number of (positive, negative) pairs with equal scores."""
    n_rows, n_samples = values.shape
    new_group = np.ones(values.shape, dtype=bool)
    new_group[:, 1:] = values[:, 1:] != values[:, :-1]
    starts = np.flatnonzero(new_group.ravel())
    n_pos = np.add.reduceat(labels.ravel(), starts)
    size = np.diff(np.append(starts, values.size))
    return np.bincount(
        starts // n_samples, weights=n_pos * (size - n_pos), minlength=n_rows
    )


def subset_roc_auc(scores, y, subsets, sizes):
    """ROC AUC of the average vote of each subset of members.

    Parameters
    ----------
    scores : ndarray of shape (n_classes, n_members + 1, n_samples)
        Per class, the members' probabilities for that class (last member row
        all zeros, see :func:`average_scores`). For binary problems pass only
        the positive class: shape ``(1, n_members + 1, n_samples)``.
    y : ndarray of int of shape (n_samples,)
        Encoded labels ``0 .. n_classes - 1``.
    subsets, sizes : see :func:`average_scores`.

    Returns
    -------
    auc : ndarray of shape (n_subsets,)
        Binary: AUC of the positive class. Multi-class: the macro average of
        the one-vs-rest AUCs, as ``roc_auc_score(multi_class="ovr")``.
    """
    if scores.shape[0] == 1:
        return roc_auc_rows(y == 1, average_scores(scores[0], subsets, sizes))
    per_class = np.column_stack(
        [
            roc_auc_rows(y == k, average_scores(scores[k], subsets, sizes))
            for k in range(scores.shape[0])
        ]
    )
    return per_class.mean(axis=1)
