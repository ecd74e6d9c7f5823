"""The vectorised rank AUC against scikit-learn's roc_auc_score."""

from fractions import Fraction
from functools import reduce

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sklearn_rbfm._fast_auc import (
    average_probas,
    average_scores,
    roc_auc_rows,
    subset_roc_auc,
)


def _exact_auc(y, score):
    """Mann-Whitney AUC in exact rational arithmetic (ties count one half)."""
    pos = score[y]
    neg = score[~y]
    wins = sum(int(np.count_nonzero(p > neg)) for p in pos)
    ties = sum(int(np.count_nonzero(p == neg)) for p in pos)
    return Fraction(2 * wins + ties, 2 * len(pos) * len(neg))


def test_roc_auc_rows_equals_roc_auc_score_with_and_without_ties():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.3
    continuous = rng.random((20, 400))
    # few distinct values: every row has many ties, within and across classes
    coarse = rng.integers(0, 5, size=(20, 400)) / 4.0
    scores = np.vstack([continuous, coarse])
    expected = np.array([roc_auc_score(y, row) for row in scores])

    got = roc_auc_rows(y, scores.copy())

    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    # the value is the exact Mann-Whitney ratio, correctly rounded
    for row, value in zip(scores[[0, 1, 20, 21]], got[[0, 1, 20, 21]]):
        assert value == float(_exact_auc(y, row))


def test_roc_auc_rows_small_example_with_ties():
    y = np.array([0, 0, 1, 1, 0, 1], dtype=bool)
    scores = np.array([[0.2, 0.5, 0.5, 0.9, 0.1, 0.2]])
    # pairs: pos 0.5 vs neg 0.5 tie, pos 0.2 vs neg 0.2 tie
    assert roc_auc_rows(y, scores.copy())[0] == pytest.approx(
        roc_auc_score(y, scores[0]), abs=1e-15
    )
    assert roc_auc_rows(y, scores.copy())[0] == float(_exact_auc(y, scores[0]))


def test_negative_zero_ties_with_zero():
    y = np.array([0, 1, 0, 1], dtype=bool)
    scores = np.array([[-0.0, 0.0, 0.5, 0.7]])
    assert roc_auc_rows(y, scores.copy())[0] == roc_auc_score(y, scores[0]) == 0.625


def test_roc_auc_rows_one_class_raises():
    with pytest.raises(ValueError, match="Only one class present"):
        roc_auc_rows(np.ones(5, dtype=bool), np.random.rand(2, 5))


def test_average_scores_is_bitwise_the_reference_average():
    rng = np.random.default_rng(1)
    members = rng.random((9, 300))
    scores = np.vstack([members, np.zeros(300)])
    subsets = np.full((200, 6), 9)
    sizes = rng.integers(1, 7, size=200)
    for row, size in zip(subsets, sizes):
        # repeats allowed (greedy search weights members that way)
        row[:size] = np.sort(rng.integers(0, 9, size=size))

    fused = average_scores(scores, subsets, sizes)

    for row, size, got in zip(subsets, sizes, fused):
        expected = average_probas([members[i] for i in row[:size]])
        np.testing.assert_array_equal(got, expected)


def test_summation_order_decides_ties_like_the_reference():
    # 0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1 in floating point: whether the two
    # samples tie depends on the order of the additions. The search must see
    # exactly what roc_auc_score sees on the averaged probabilities.
    members = np.array([[0.1, 0.3, 0.6], [0.2, 0.2, 0.6], [0.3, 0.1, 0.6]])
    y = np.array([0, 1, 1])
    fused = average_probas(list(members))
    assert fused[0] != fused[1]  # no tie in floating point
    scores = np.vstack([members, np.zeros(3)])[None]
    subsets = np.array([[0, 1, 2]])

    got = subset_roc_auc(scores, y, subsets, np.array([3]))

    assert got[0] == roc_auc_score(y, fused)
    # a different order of additions would have tied the two samples
    assert ((0.3 + 0.2) + 0.1) / 3 == fused[1] != fused[0]


def test_subset_roc_auc_multiclass_is_macro_one_vs_rest():
    rng = np.random.default_rng(2)
    n_members, n_samples, n_classes = 4, 250, 3
    y = rng.integers(0, n_classes, size=n_samples)
    raw = rng.random((n_members, n_samples, n_classes)) ** 3
    probas = raw / raw.sum(axis=2, keepdims=True)
    scores = np.zeros((n_classes, n_members + 1, n_samples))
    scores[:, :n_members] = probas.transpose(2, 0, 1)
    subsets = np.array([[0, 4, 4], [1, 2, 4], [0, 1, 3], [0, 2, 3]])
    sizes = np.array([1, 2, 3, 3])

    got = subset_roc_auc(scores, y, subsets, sizes)

    expected = [
        roc_auc_score(
            y,
            reduce(np.add, [probas[i] for i in row[:size]]) / size,
            multi_class="ovr",
            average="macro",
        )
        for row, size in zip(subsets, sizes)
    ]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
