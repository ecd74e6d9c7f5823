import numpy as np
import pytest
from sklearn.decomposition import PCA

from sklearn_rbfm.explain import RELAX


@pytest.fixture
def spectrograms():
    rng = np.random.RandomState(0)
    return rng.rand(3, 12, 15).astype(np.float32)


def _linear_embedder(n_bins, seed=1):
    W = np.random.RandomState(seed).randn(n_bins, 6)
    return lambda S: S @ W


@pytest.mark.parametrize("strategy", ["random", "time", "frequency", "time_frequency"])
def test_shapes_and_nonnegative_uncertainty(spectrograms, strategy):
    relax = RELAX(_linear_embedder(12 * 15), n_masks=300, strategy=strategy,
                  batch_size=64, random_state=0)
    importance, uncertainty = relax.explain(spectrograms)
    assert importance.shape == uncertainty.shape == spectrograms.shape
    assert (uncertainty >= 0).all()
    assert uncertainty.max() > 0
    # similarities are cosines, a bin is kept in at most every mask
    assert np.abs(importance).max() <= 1.0


def test_time_masks_give_importance_constant_along_frequency(spectrograms):
    importance, uncertainty = RELAX(
        _linear_embedder(12 * 15), n_masks=400, strategy="time", mask_size=(1, 3),
        random_state=0,
    ).explain(spectrograms)
    np.testing.assert_allclose(importance, importance[:, :1, :].repeat(12, axis=1),
                               rtol=1e-10)
    np.testing.assert_allclose(uncertainty, uncertainty[:, :1, :].repeat(12, axis=1),
                               rtol=1e-10, atol=1e-12)
    # and piecewise constant over segments of 3 frames, varying between them
    np.testing.assert_allclose(importance[:, :, 0], importance[:, :, 2])
    assert not np.allclose(importance[:, 0, 0], importance[:, 0, 3])


def test_frequency_masks_give_importance_constant_along_time(spectrograms):
    importance, _ = RELAX(
        _linear_embedder(12 * 15), n_masks=400, strategy="frequency", mask_size=2,
        random_state=0,
    ).explain(spectrograms)
    np.testing.assert_allclose(importance, importance[:, :, :1].repeat(15, axis=2),
                               rtol=1e-10)
    assert not np.allclose(importance[:, 0, 0], importance[:, 2, 0])


def test_repeatable_with_random_state_and_varies_without(spectrograms):
    make = lambda rs: RELAX(_linear_embedder(180), n_masks=100, random_state=rs)
    a = make(3).explain(spectrograms)
    b = make(3).explain(spectrograms)
    c = make(4).explain(spectrograms)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_batch_size_does_not_change_result(spectrograms):
    small = RELAX(_linear_embedder(180), n_masks=90, batch_size=7, random_state=0)
    large = RELAX(_linear_embedder(180), n_masks=90, batch_size=90, random_state=0)
    np.testing.assert_allclose(small.explain(spectrograms)[0],
                               large.explain(spectrograms)[0], rtol=1e-10)


def test_finds_the_bins_the_embedding_reads():
    # The embedding is two bins of the spectrogram: a masked copy keeps its
    # direction (cosine 1) only while both bins are kept, so the masks that
    # keep one of them score higher than the average mask.
    rng = np.random.RandomState(0)
    X = rng.rand(1, 10, 10).astype(np.float32) + 1.0
    read = [(2, 3), (2, 4)]
    rows = [f * 10 + t for f, t in read]
    importance, _ = RELAX(lambda S: S[:, rows], n_masks=1000, mask_size=1,
                          strategy="time_frequency", fill="zero",
                          random_state=0).explain(X)
    others = np.ones((10, 10), dtype=bool)
    others[2, 3:5] = False
    assert importance[0][2, 3:5].min() > importance[0][others].max()


def test_accepts_sklearn_transformers(spectrograms):
    flat = spectrograms.reshape(3, -1)
    pca = PCA(n_components=2).fit(np.vstack([flat, flat[::-1] * 0.5 + 0.1]))
    importance, _ = RELAX(pca, n_masks=50, random_state=0).explain(spectrograms)
    assert np.isfinite(importance).all()


def test_flat_spectrograms_of_the_transformer_are_explained_flat(spectrograms):
    from sklearn_rbfm import SpectrogramTransformer

    flat = spectrograms.reshape(3, -1)
    relax = RELAX(_linear_embedder(180), n_masks=60, strategy="time", random_state=0)
    cube = relax.explain(spectrograms)
    out = relax.set_params(spectrogram_shape=(12, 15)).explain(flat)
    assert out[0].shape == out[1].shape == (3, 180)
    np.testing.assert_array_equal(out[0], cube[0].reshape(3, -1))
    np.testing.assert_array_equal(out[1], cube[1].reshape(3, -1))
    # the transformer that made the spectrograms tells their shape
    rng = np.random.default_rng(0)
    waves = rng.standard_normal((2, 1200)).astype(np.float32)
    spec = SpectrogramTransformer("mel", sr=8000, n_fft=256, hop_length=100, n_mels=12)
    S = spec.fit_transform(waves)
    assert spec.spectrogram_shape_ == (12, 13)
    W = np.random.RandomState(0).randn(12 * 13, 4)
    by_transformer = RELAX(lambda Z: Z @ W, n_masks=40, spectrogram_shape=spec,
                           random_state=0).explain(S)[0]
    by_cube = RELAX(lambda Z: Z @ W, n_masks=40, random_state=0).explain(spec.to_3d(S))[0]
    np.testing.assert_array_equal(by_transformer, by_cube.reshape(2, -1))


def test_fill_choices_replace_masked_bins(spectrograms):
    seen = []

    def record(S):
        seen.append(S.copy())
        return S[:, :6]

    S = spectrograms[:1]
    for fill, value in [("zero", 0.0), ("min", S.min()), ("mean", S.mean()), (-3.5, -3.5)]:
        seen.clear()
        RELAX(record, n_masks=4, strategy="time", mask_size=(1, 15), p_keep=0.5,
              fill=fill, random_state=1).explain(S)
        masked = np.vstack(seen[1:])
        removed = masked[np.all(masked == masked[:, :1], axis=1)]
        assert len(removed) > 0  # some masks removed the whole clip
        np.testing.assert_allclose(removed, value, rtol=1e-6)


def test_errors(spectrograms):
    with pytest.raises(ValueError, match=r"pass spectrogram_shape"):
        RELAX(_linear_embedder(180), n_masks=5).explain(spectrograms.reshape(3, -1))
    with pytest.raises(ValueError, match=r"transposed"):
        RELAX(_linear_embedder(180), n_masks=5, spectrogram_shape=(15, 12)).explain(
            spectrograms
        )
    bad = spectrograms.copy()
    bad[2, 1, 1] = np.nan
    with pytest.raises(ValueError, match="clip 2"):
        RELAX(_linear_embedder(180), n_masks=5).explain(bad)
    with pytest.raises(ValueError, match="strategy"):
        RELAX(_linear_embedder(180), strategy="diagonal").explain(spectrograms)
    with pytest.raises(ValueError, match="mask_size"):
        RELAX(_linear_embedder(180), mask_size=(1, 2, 3), n_masks=5).explain(spectrograms)
    with pytest.raises(ValueError, match="one embedding row per input row"):
        RELAX(lambda S: S.sum(), n_masks=5).explain(spectrograms)
    with pytest.raises(TypeError, match="transform method or be callable"):
        RELAX(object(), n_masks=5).explain(spectrograms)


@pytest.mark.parametrize("strategy", ["random", "time_frequency"])
def test_matches_the_formulas_of_the_poster(spectrograms, strategy):
    # R = 1/N sum_n s_n M_n and U = 1/N sum_n (s_n - R)^2 M_n, computed
    # directly from the same masks
    from sklearn.utils import check_random_state

    embed = _linear_embedder(12 * 15)
    relax = RELAX(embed, n_masks=40, strategy=strategy, mask_size=(3, 4),
                  fill="zero", batch_size=16, random_state=0)
    importance, uncertainty = relax.explain(spectrograms[:1])
    draws = relax._draw(check_random_state(0), 12, 15, (3, 4))
    masks = relax._masks(draws, 0, 40, 12, 15, (3, 4))
    x = spectrograms[0].astype(np.float64)
    h = embed(x.reshape(1, -1))[0]
    s = np.array([
        np.dot(h, e) / (np.linalg.norm(h) * np.linalg.norm(e))
        for e in embed((x * masks).reshape(40, -1))
    ])
    R = np.mean(s[:, None, None] * masks, axis=0)
    U = np.mean((s[:, None, None] - R) ** 2 * masks, axis=0)
    np.testing.assert_allclose(importance[0], R, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(uncertainty[0], U, rtol=1e-4, atol=1e-7)
