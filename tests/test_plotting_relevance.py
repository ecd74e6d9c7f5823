"""RelevanceDisplay: the sorted feature-relevance profile."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
pytest.importorskip("tensorflow")

from sklearn_rbfm import KerasMLPClassifier, RelevanceMasker  # noqa: E402
from sklearn_rbfm.plotting import RelevanceDisplay  # noqa: E402


def test_display_from_arrays_marks_kept_and_dropped():
    import matplotlib.pyplot as plt

    relevance = np.array([0.1, 0.5, 0.05, 0.3, 0.2])
    display = RelevanceDisplay(
        relevance, support=relevance >= 0.2, feature_names=list("abcde")
    ).plot(n_labels=2)
    assert display.order_.tolist() == [1, 3, 4, 0, 2]
    np.testing.assert_array_equal(display.line_.get_ydata(), [0.5, 0.3, 0.2, 0.1, 0.05])
    np.testing.assert_array_equal(display.kept_.get_offsets()[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(display.dropped_.get_offsets()[:, 0], [4, 5])
    assert [t.get_text() for t in display.ax_.texts] == ["b", "d"]
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["kept (3)", "dropped (2)"]
    assert display.figure_ is display.ax_.figure
    plt.close("all")


def test_display_from_fitted_maskers():
    import matplotlib.pyplot as plt

    X, y = make_classification(n_samples=120, n_features=6, n_informative=2,
                               n_redundant=0, shuffle=False, random_state=0)
    base = KerasMLPClassifier(hidden_layer_sizes=(8,), epochs=10, learning_rate=0.05,
                              early_stopping=False, random_state=0)
    minimal = RelevanceMasker(base, n_features=2).fit(X, y)
    _, ax = plt.subplots()
    display = RelevanceDisplay.from_estimator(minimal, ax=ax)
    assert display.ax_ is ax
    kept_ranks = display.kept_.get_offsets()[:, 0]
    np.testing.assert_array_equal(kept_ranks, [1, 2])
    assert set(display.order_[:2]) == set(np.flatnonzero(minimal.get_support()))

    negative = RelevanceMasker(base, strategy="negative").fit(X, y)
    display = RelevanceDisplay.from_estimator(negative)
    assert display.kept_ is None
    threshold = display.ax_.get_lines()[-1].get_ydata()[0]
    assert threshold == pytest.approx(negative.feature_relevance_.mean())
    plt.close("all")


def test_display_needs_a_fitted_masker():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        RelevanceDisplay.from_estimator(RelevanceMasker())
