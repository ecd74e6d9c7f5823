"""The baseline feature transformers on real clips and in the common checks."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rbfm import AudioLoader, SpectrogramTransformer
from sklearn_rbfm.baselines import ComParEFunctionals, LogMelStatistics, band_statistics
from sklearn_rbfm.datasets import load_fsdd_sample


@pytest.fixture(scope="module")
def waves():
    files = load_fsdd_sample().filenames[::50]
    return AudioLoader(sr=8000, duration=0.5).fit_transform(files)


def test_log_mel_statistics_are_the_band_moments(waves):
    stats = LogMelStatistics(sr=8000, n_mels=20).fit_transform(waves)
    spec = SpectrogramTransformer(kind="mel", sr=8000, n_fft=256, win_length=200,
                                  hop_length=80, n_mels=20, log="db").fit(waves)
    S = spec.transform(waves).reshape(len(waves), 20, -1)
    np.testing.assert_allclose(stats[:, :20], S.mean(axis=2), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(stats[:, 20:], S.std(axis=2), rtol=1e-4, atol=1e-4)
    model = LogMelStatistics(sr=8000, n_mels=20).fit(waves)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.transform(waves), stats)
    with pytest.raises(ValueError, match="expecting 4000 features"):
        model.transform(waves[:, :3000])


def test_band_statistics_refuses_a_wrong_width():
    with pytest.raises(ValueError, match=r"\(n_clips, 3 \* n_frames\); got shape \(1, 4\)"):
        band_statistics(np.zeros((1, 4)), n_bands=3)


def test_compare_functionals_on_real_clips(waves):
    pytest.importorskip("opensmile")
    import opensmile

    model = ComParEFunctionals(sr=8000).fit(waves[:2])
    F = model.transform(waves[:2])
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                            feature_level=opensmile.FeatureLevel.Functionals)
    expected = smile.process_signal(waves[1], 8000).to_numpy()[0]
    assert F.shape == (2, 6373)
    np.testing.assert_allclose(F[1], expected, rtol=1e-6)
    assert model.get_feature_names_out()[0] == smile.feature_names[0]
    assert clone(model).get_params() == {"sr": 8000}
    with pytest.raises(ValueError, match=r"clip\(s\) \[0\] of 20 samples"):
        model.fit(waves[:1, :20]).transform(waves[:1, :20])


@parametrize_with_checks(
    [LogMelStatistics(sr=8000, n_mels=2, n_fft=8, hop_length=2)])
def test_log_mel_statistics_common_checks(estimator, check):
    check(estimator)
