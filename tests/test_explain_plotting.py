import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from sklearn_rbfm.explain import perturbation_curve  # noqa: E402
from sklearn_rbfm.plotting import (  # noqa: E402
    PerturbationCurveDisplay,
    SpectrogramExplanationDisplay,
)


def _cell_centres(mesh):
    """Centres of a QuadMesh's cells along time (x) and frequency (y).

    Cells drawn with shading='nearest' have their inner edges half way
    between neighbouring centres; the centres are recovered from the first
    one (half a cell past the outer edge) by reflecting across each edge.
    """
    def centres(edges):
        c = [edges[0] + (edges[1] - edges[0]) / 2]
        for edge in edges[1:-1]:
            c.append(2 * edge - c[-1])
        return np.array(c)

    edges = mesh.get_coordinates()
    return centres(edges[0, :, 0]), centres(edges[:, 0, 1])


def test_spectrogram_display_axes_are_in_seconds_and_hertz():
    S, R = np.random.RandomState(0).rand(2, 16, 40)
    disp = SpectrogramExplanationDisplay.from_explanation(S, R, sr=8000, hop_length=200)
    assert len(disp.axes_) == 2 and disp.ax_.shape == (2,)
    assert disp.figure_ is disp.ax_[0].figure
    left, right = disp.axes_
    assert left.get_xlabel() == "Time (s)" and right.get_ylabel() == "Frequency (Hz)"
    mesh = right.collections[0]
    x, y = _cell_centres(mesh)
    np.testing.assert_allclose(x, np.arange(40) * 200 / 8000)
    np.testing.assert_allclose(y, np.linspace(0, 4000, 16))
    np.testing.assert_allclose(mesh.get_array().reshape(16, 40), R)
    # relevance colours are centred on zero
    assert mesh.get_clim() == (-R.max(), R.max())
    overlay = SpectrogramExplanationDisplay.from_explanation(
        S.ravel(), R, sr=8000, hop_length=200, kind="overlay",
        frequencies=np.geomspace(50, 4000, 16))
    assert len(overlay.axes_) == 1 and len(overlay.ax_.collections) == 2
    np.testing.assert_allclose(_cell_centres(overlay.ax_.collections[1])[1],
                               np.geomspace(50, 4000, 16))
    with pytest.raises(ValueError, match="kind must be"):
        disp.plot(kind="stacked")
    with pytest.raises(ValueError, match="frequencies has 3 values for 16 bins"):
        SpectrogramExplanationDisplay.from_explanation(S, R, sr=8000, hop_length=200,
                                                       frequencies=[1, 2, 3])
    with pytest.raises(ValueError, match="sr and hop_length"):
        SpectrogramExplanationDisplay.from_explanation(S, R)


@pytest.mark.parametrize("kind", ["mel", "vggish"])
def test_mel_bands_are_drawn_at_their_real_frequencies(kind):
    from sklearn_rbfm import SpectrogramTransformer

    X = np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32)
    params = dict(sr=16000, n_fft=512, hop_length=160, n_mels=40) if kind == "mel" else {}
    spec = SpectrogramTransformer(kind, **params).fit(X)
    S = spec.transform(X)
    R = np.random.RandomState(1).rand(*S.shape)
    disp = SpectrogramExplanationDisplay.from_explanation(S[0], R[0], transformer=spec)
    x, y = _cell_centres(disp.ax_[1].collections[0])
    # the peaks of the filters the transformer applied, read off its filterbank
    peaks = np.fft.rfftfreq(512, 1 / 16000)[spec.mel_basis_.argmax(axis=1)]
    assert np.abs(y - peaks).max() <= 16000 / 512
    assert np.diff(y)[-1] > 3 * np.diff(y)[0]  # not evenly spaced
    np.testing.assert_allclose(x, spec.frame_times_)
    np.testing.assert_allclose(disp.relevance, spec.to_3d(R)[0])
    with pytest.raises(ValueError, match="transposed"):
        SpectrogramExplanationDisplay.from_explanation(
            spec.to_3d(S)[0].T, spec.to_3d(R)[0].T, transformer=spec)
    with pytest.raises(ValueError, match="sr.*transformer both"):
        SpectrogramExplanationDisplay.from_explanation(S[0], R[0], transformer=spec, sr=8000)


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
