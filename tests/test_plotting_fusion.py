"""FusionRankingDisplay: the ranking plot of a fusion search."""

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from sklearn_rbfm import VotingFusionSearch
from sklearn_rbfm.plotting import FusionRankingDisplay

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=200, flip_y=0.2, random_state=0)


def _members():
    return [
        ("lr", LogisticRegression()),
        ("nb", GaussianNB()),
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("tree2", DecisionTreeClassifier(max_depth=2, random_state=1)),
    ]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_from_estimator_shows_best_subsets_in_rank_order(data):
    X, y = data
    search = VotingFusionSearch(_members(), cv=3).fit(X, y)
    display = FusionRankingDisplay.from_estimator(search, n_top=6)

    results = search.cv_results_
    order = np.argsort(results["rank"], kind="stable")[:6]
    np.testing.assert_array_equal(display.scores, results["score"][order])
    assert np.all(np.diff(display.scores) <= 0)
    assert display.member_names == ["lr", "nb", "tree", "tree2"]
    for row, i in zip(display.membership, order):
        expected = [results[f"member_{name}"][i] for name in display.member_names]
        np.testing.assert_array_equal(row.astype(bool), expected)
    # the curve and the member ticks are drawn
    np.testing.assert_array_equal(display.line_.get_ydata(), display.scores)
    ticks = display.ax_matrix_.collections[0].get_offsets()
    assert len(ticks) == display.membership.sum()
    assert [t.get_text() for t in display.ax_matrix_.get_yticklabels()] == display.member_names
    assert display.ax_.get_ylabel() == "roc_auc"
    assert display.figure_ is display.ax_.figure


def test_greedy_repeats_are_annotated(data):
    X, y = data
    search = VotingFusionSearch(_members(), cv=3, search="greedy", max_size=6).fit(X, y)
    display = FusionRankingDisplay.from_estimator(search, n_top=6)
    assert display.membership.max() > 1
    annotations = [t.get_text() for t in display.ax_matrix_.texts]
    assert annotations == [str(c) for c in display.membership[display.membership > 0] if c > 1]


def test_from_results_with_dataframe_and_given_axes(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    search = VotingFusionSearch(_members()[:3], cv=3).fit(X, y)
    fig, axes = plt.subplots(2, 1)
    display = FusionRankingDisplay.from_results(
        pd.DataFrame(search.cv_results_), n_top=50, ax=axes
    )
    assert display.ax_ is axes[0] and display.ax_matrix_ is axes[1]
    assert len(display.scores) == 7  # all subsets when n_top is larger


def test_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="not a fitted VotingFusionSearch"):
        FusionRankingDisplay.from_estimator(VotingFusionSearch(_members()))
    with pytest.raises(ValueError, match="n_top must be a positive integer"):
        FusionRankingDisplay.from_results({"members": [], "score": [], "rank": []}, n_top=0)
    with pytest.raises(ValueError, match=r"lacks the columns \['rank'\]"):
        FusionRankingDisplay.from_results({"members": [], "score": []})
    display = FusionRankingDisplay(
        scores=np.array([0.9, 0.8]), membership=np.ones((3, 2)), member_names=["a", "b"]
    )
    with pytest.raises(ValueError, match="membership has shape"):
        display.plot()
