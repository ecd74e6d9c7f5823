import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from sklearn_rbfm.explain import perturbation_curve  # noqa: E402
from sklearn_rbfm.plotting import (  # noqa: E402
    PerturbationCurveDisplay,
    SpectrogramExplanationDisplay,
)


def test_spectrogram_display_axes_are_in_seconds_and_hertz():
    S, R = np.random.RandomState(0).rand(2, 16, 40)
    disp = SpectrogramExplanationDisplay.from_explanation(S, R, sr=8000, hop_length=200)
    assert len(disp.axes_) == 2
    left, right = disp.axes_
    assert left.get_xlabel() == "Time (s)" and right.get_ylabel() == "Frequency (Hz)"
    image = right.get_images()[0]
    x0, x1, y0, y1 = image.get_extent()
    assert x1 == pytest.approx(39 * 200 / 8000) and y1 == pytest.approx(4000)
    # relevance colours are centred on zero
    assert image.get_clim() == (-R.max(), R.max())
    overlay = SpectrogramExplanationDisplay.from_explanation(
        S.ravel(), R, sr=8000, hop_length=200, kind="overlay",
        frequencies=np.geomspace(50, 4000, 16))
    assert len(overlay.axes_) == 1 and len(overlay.axes_[0].get_images()) == 2
    with pytest.raises(ValueError, match="kind must be"):
        disp.plot(kind="stacked")
    with pytest.raises(ValueError, match="frequencies has 3 values for 16 bins"):
        SpectrogramExplanationDisplay.from_explanation(S, R, sr=8000, hop_length=200,
                                                       frequencies=[1, 2, 3])


def test_perturbation_display_from_estimator():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    X = rng.randn(100, 6)
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    R = X * clf.coef_[0] * np.where(y == 1, 1, -1)[:, None]
    disp = PerturbationCurveDisplay.from_estimator(clf, X, y, R, name="exact",
                                                   steps=3, random_state=0)
    result = perturbation_curve(clf, X, y, R, steps=3, random_state=0)
    line = disp.ax_.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), result.scores)
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels[0] == f"exact (AOPC {result.aopc:.3f})"
