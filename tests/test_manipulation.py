import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_rbfm import KerasCNNClassifier
from sklearn_rbfm.explain import manipulation_test

SHAPE = (16, 8)


def planted_bands(n=240, seed=0):
    """Spectrograms whose class lives in one band: 0 in bins 2-5, 1 in bins 10-13."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    S = rng.rand(n, *SHAPE)
    S[y == 0, 2:6, 1:7] += 1.5
    S[y == 1, 10:14, 1:7] += 1.5
    return S.reshape(n, -1).astype(np.float32), y


def planted_segment(n=240, n_samples=256, seed=0):
    """Noise waveforms whose class is the pitch of a tone in samples 96-159 only."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = 0.3 * rng.randn(n, n_samples)
    t = np.arange(64) / 8000
    freq = np.where(y == 1, 2000.0, 500.0)[:, None]
    X[:, 96:160] += np.sin(2 * np.pi * freq * t + rng.rand(n, 1) * 2 * np.pi)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def spectrogram_net():
    X, y = planted_bands()
    clf = KerasCNNClassifier("alexnet", spectrogram_shape=SHAPE, width=0.05,
                             epochs=10, learning_rate=0.01, early_stopping=False,
                             random_state=0).fit(X, y)
    Xt, yt = planted_bands(seed=1)
    return clf, Xt, yt


def test_finds_the_planted_band_of_each_class_and_it_matters(spectrogram_net):
    clf, X, y = spectrogram_net
    result = manipulation_test(clf, X, y, region_fraction=0.25, random_state=0)
    assert result.axis == "frequency"
    assert result.accuracy >= 0.95
    assert list(result.classes) == [0, 1]
    np.testing.assert_allclose(result.regions, [[2, 6], [10, 14]], atol=1)
    assert result.profile.shape == (2, 16)
    assert result.control_regions.shape == (2, 5, 2)
    # controls never overlap the relevant band, and are as wide
    for (start, stop), controls in zip(result.regions, result.control_regions):
        assert np.all(controls[:, 1] - controls[:, 0] == stop - start)
        assert np.all((controls[:, 1] <= start) | (controls[:, 0] >= stop))
    assert result.relevant_drop >= 0.3
    assert result.relevant_drop > result.control_drop + 0.25
    assert result.relevant_drop == pytest.approx(result.accuracy - result.relevant_accuracy)


def test_time_axis_of_spectrograms_and_one_region_for_all_classes(spectrogram_net):
    clf, X, y = spectrogram_net
    result = manipulation_test(clf, X, y, axis="time", per_class=False,
                               region_fraction=0.25, random_state=0)
    assert result.axis == "time"
    assert result.regions.shape == (1, 2)
    assert result.profile.shape == (1, 8)
    start, stop = result.regions[0]
    assert stop - start == 2 and 1 <= start and stop <= 7


def test_precomputed_relevance_and_pipelines(spectrogram_net):
    clf, X, y = spectrogram_net
    # a band relevance that points at bins 12-15 for both classes
    R = np.zeros((len(X),) + SHAPE)
    R[:, 12:16] = 1.0
    result = manipulation_test(clf, X, y, relevance=R, per_class=False,
                               region_fraction=0.25, n_controls=3, random_state=0)
    assert result.regions.tolist() == [[12, 16]]
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z * 2.0), clf)
    piped = manipulation_test(pipe, X / 2.0, y, relevance=R, per_class=False,
                              region_fraction=0.25, n_controls=3, random_state=0)
    assert piped.relevant_accuracy == pytest.approx(result.relevant_accuracy)
    assert piped.control_accuracy == pytest.approx(result.control_accuracy)


@pytest.mark.slow
def test_finds_the_planted_time_segment_of_a_waveform_net():
    X, y = planted_segment()
    clf = KerasCNNClassifier("audionet", width=0.05, epochs=12, learning_rate=0.01,
                             early_stopping=False, augment=False,
                             random_state=0).fit(X, y)
    Xt, yt = planted_segment(seed=1)
    result = manipulation_test(clf, Xt, yt, per_class=False, region_fraction=0.25,
                               random_state=0)
    assert result.axis == "time"
    assert result.accuracy >= 0.9
    start, stop = result.regions[0]
    assert stop - start == 64 and abs(start - 96) <= 16
    assert result.relevant_drop > result.control_drop + 0.25


def test_errors(spectrogram_net):
    clf, X, y = spectrogram_net
    with pytest.raises(ValueError, match="axis must be"):
        manipulation_test(clf, X, y, axis="space")
    with pytest.raises(ValueError, match="region_fraction"):
        manipulation_test(clf, X, y, region_fraction=0.7)
    with pytest.raises(ValueError, match="fill must be"):
        manipulation_test(clf, X, y, fill="loud")
    with pytest.raises(ValueError, match="n_controls"):
        manipulation_test(clf, X, y, n_controls=0)
    with pytest.raises(ValueError, match="relevance has shape"):
        manipulation_test(clf, X, y, relevance=np.zeros((len(X), 5)))
    with pytest.raises(ValueError, match="labels for"):
        manipulation_test(clf, X, y[:-1], relevance=np.zeros((len(X),) + SHAPE))
    with pytest.raises(ValueError, match="NaN or infinite"):
        manipulation_test(clf, X, y, relevance=np.full((len(X),) + SHAPE, np.nan))
    with pytest.raises(ValueError, match="axis='frequency' needs spectrogram"):
        manipulation_test(clf, X, y, axis="frequency",
                          relevance=np.zeros((len(X), X.shape[1])))


def test_display_draws_the_profiles_regions_and_drops(spectrogram_net):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_rbfm.plotting import ManipulationTestDisplay

    clf, X, y = spectrogram_net
    disp = ManipulationTestDisplay.from_estimator(
        clf, X, y, class_names=["zero", "one"], region_fraction=0.25, random_state=0)
    result = disp.result
    assert [line.get_label() for line in disp.lines_] == ["zero", "one"]
    np.testing.assert_allclose(disp.lines_[1].get_ydata(), result.profile[1])
    assert disp.ax_.get_xlabel() == "frequency bin"
    assert f"drop {result.relevant_drop:.2f}" in disp.ax_.get_title()
    # one shaded relevant region and n_controls control spans per class
    assert len(disp.ax_.patches) == 2 * (1 + 5)
    with pytest.raises(ValueError, match="class_names has 1 names"):
        ManipulationTestDisplay(result, class_names=["x"]).plot()
