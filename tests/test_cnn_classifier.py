import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from sklearn_rbfm import KerasCNNClassifier
from sklearn_rbfm.exceptions import ChanceLevelWarning, FineTuningWarning


def tones(n=80, n_samples=256, sr=8000, seed=0):
    """Half the clips hold a 500 Hz tone, half a 2 kHz tone, in noise."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    t = np.arange(n_samples) / sr
    freq = np.where(y == 1, 2000.0, 500.0)[:, None]
    phase = rng.rand(n, 1) * 2 * np.pi
    X = np.sin(2 * np.pi * freq * t + phase) + 0.2 * rng.randn(n, n_samples)
    return X.astype(np.float32), np.where(y == 1, "high", "low")


def blobs(n=80, shape=(8, 8), seed=0):
    """Spectrograms whose class is where a bright patch sits: low or high bands."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = 0.1 * rng.rand(n, *shape)
    X[y == 0, 1:3, 2:6] += 1.0
    X[y == 1, 5:7, 2:6] += 1.0
    return X.reshape(n, -1).astype(np.float32), y


@pytest.fixture(scope="module")
def audionet():
    X, y = tones()
    clf = KerasCNNClassifier("audionet", width=0.05, epochs=15, batch_size=16,
                             learning_rate=0.005, early_stopping=False,
                             random_state=0)
    return clf.fit(X, y), X, y


def test_audionet_learns_tones_and_has_the_published_layout(audionet):
    clf, X, y = audionet
    Xt, yt = tones(seed=1)
    assert clf.score(Xt, yt) >= 0.9
    assert clf.input_shape_ == (256,)
    assert list(clf.classes_) == ["high", "low"]
    names = [layer.name for layer in clf.model_.layers]
    assert len(names) == len(set(names))
    convs = [l for l in clf.model_.layers if type(l).__name__ == "Conv1D"]
    assert [l.kernel_size for l in convs] == [(3,)] * 6
    dense = {l.name: l for l in clf.model_.layers if type(l).__name__ == "Dense"}
    # no ReLU after the last two dense layers (Becker et al.'s code)
    assert dense["dense1"].activation.__name__ == "linear"
    assert dense["dense2"].activation.__name__ == "linear"
    assert dense["output"].activation.__name__ == "softmax"
    # each convolution is linear, then batch-normalised, then rectified:
    # the order in which the relevance engine folds the normalisation
    for i in range(1, 7):
        assert clf.model_.get_layer(f"conv{i}").activation.__name__ == "linear"
        bn = clf.model_.get_layer(f"conv{i}_bn")
        assert type(bn).__name__ == "BatchNormalization"
        assert bn.input is clf.model_.get_layer(f"conv{i}").output
    assert type(clf.model_.get_layer("standardise")).__name__ == "ContentStandardization"


def test_batch_norm_statistics_are_those_of_the_training_data(audionet):
    import tensorflow as tf

    clf, X, _ = audionet
    bn = clf.model_.get_layer("conv3_bn")
    inner = tf.keras.Model(clf.model_.input, bn.input)
    out = inner(X, training=False).numpy().reshape(-1, bn.input.shape[-1])
    np.testing.assert_allclose(bn.moving_mean.numpy(), out.mean(axis=0),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), out.var(axis=0),
                               rtol=1e-3, atol=1e-4)


def test_relevance_of_the_batch_normalised_net_points_at_the_tone(audionet):
    from sklearn_rbfm.explain import relevance_maps

    clf, X, y = audionet
    quiet = X.copy()
    quiet[:, 128:] = 0.0
    R = relevance_maps(clf, quiet[:8], method="lrp.epsilon", target=y[:8])
    assert R.shape == (8, 256) and np.isfinite(R).all()
    # the silent half carries almost none of the relevance
    assert np.abs(R[:, 128:]).sum() < 0.2 * np.abs(R).sum()


def test_alexnet_reads_spectrograms_of_the_given_shape():
    X, y = blobs()
    clf = KerasCNNClassifier("alexnet", spectrogram_shape=(8, 8), width=0.05,
                             epochs=15, batch_size=16, learning_rate=0.005,
                             early_stopping=False, random_state=0).fit(X, y)
    Xt, yt = blobs(seed=1)
    assert clf.score(Xt, yt) >= 0.9
    assert clf.input_shape_ == (8, 8)
    assert clf.model_.get_layer("conv1").strides == (4, 4)
    assert clf.model_.get_layer("conv1").kernel_size == (11, 11)
    # the authors' batch normalisation after the first two convolutions only
    bns = [l.name for l in clf.model_.layers if type(l).__name__ == "BatchNormalization"]
    assert bns == ["conv1_bn", "conv2_bn"]
    proba = clf.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_frequency_standardisation_normalises_each_band_and_is_explained():
    import tensorflow as tf

    from sklearn_rbfm.explain import relevance_maps

    X, y = blobs(n=16)
    X = 10 * X + np.repeat(np.arange(8.0) * 50, 8)[None, :]  # a tilt per band
    clf = KerasCNNClassifier("alexnet", spectrogram_shape=(8, 8), width=0.05,
                             epochs=1, standardize="frequency",
                             random_state=0).fit(X, y)
    inner = tf.keras.Model(clf.model_.input, clf.model_.get_layer("standardise").output)
    bands = inner(X).numpy()
    assert bands.shape == (16, 8, 8)
    np.testing.assert_allclose(bands.mean(axis=2), 0.0, atol=1e-4)
    np.testing.assert_allclose(bands.std(axis=2), 1.0, atol=0.05)
    R = relevance_maps(clf, X[:2], method="lrp.epsilon")
    assert R.shape == (2, 8, 8) and np.isfinite(R).all() and np.abs(R).sum() > 0


def test_averaged_network_outputs_the_softmax_of_the_mean_logits():
    from sklearn_rbfm._architectures import averaged_network, build_alexnet

    rng = np.random.RandomState(0)
    members = [build_alexnet((8, 8), 3, 0.05, 0.5) for _ in range(3)]
    for member in members:  # distinct heads, so that a wrong stacking shows
        head = member.get_layer("output")
        head.set_weights([rng.randn(*w.shape).astype(np.float32) for w in head.get_weights()])
    X, _ = blobs(n=6)
    logits = np.mean([np.log(m.predict(X, verbose=0)) for m in members], axis=0)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    averaged = averaged_network(members, "alexnet")
    np.testing.assert_allclose(averaged.predict(X, verbose=0), expected, rtol=1e-4, atol=1e-6)
    units = members[0].get_layer("dense2").units
    assert averaged.get_layer("output").kernel.shape == (3 * units, 3)


@pytest.mark.parametrize("architecture", ["audionet", "alexnet"])
def test_several_networks_are_trained_apart_and_explained_as_one(architecture):
    from sklearn_rbfm.explain import relevance_maps

    if architecture == "audionet":
        X, y = tones(n=48, n_samples=128)
        shape = None
    else:
        X, y = blobs(n=48)
        shape = (8, 8)
    params = dict(spectrogram_shape=shape, width=0.05, epochs=12, batch_size=16,
                  learning_rate=0.005, random_state=0)
    clf = KerasCNNClassifier(architecture, n_networks=3, **params).fit(X, y)
    names = [layer.name for layer in clf.model_.layers]
    assert names == ["input", "net1", "net2", "net3", "networks", "output"]
    kernels = [clf.model_.get_layer(f"net{i}").get_layer("conv1").get_weights()[0]
               for i in (1, 2, 3)]
    assert not np.allclose(kernels[0], kernels[1])
    per_net = [clf.history_[f"net{i}_loss"] for i in (1, 2, 3)]
    np.testing.assert_allclose(clf.history_["loss"], np.mean(per_net, axis=0), rtol=1e-6)
    assert clf.score(X, y) >= 0.9
    # the first network is the one n_networks=1 trains
    single = KerasCNNClassifier(architecture, **params).fit(X, y)
    np.testing.assert_allclose(single.history_["loss"], per_net[0], rtol=1e-4)
    np.testing.assert_allclose(single.model_.get_layer("conv1").get_weights()[0],
                               kernels[0], rtol=1e-4, atol=1e-6)
    for method in ("lrp.epsilon", "deep_taylor"):
        R = relevance_maps(clf, X[:4], method=method, target=y[:4])
        assert R.shape == ((4, 128) if shape is None else (4, 8, 8))
        assert np.isfinite(R).all() and np.abs(R).sum() > 0
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_full_width_matches_the_paper_sizes():
    X, y = tones(n=4, n_samples=64)
    clf = KerasCNNClassifier(width=1.0, epochs=1, random_state=0).fit(X, y)
    filters = [clf.model_.get_layer(f"conv{i}").filters for i in range(1, 7)]
    assert filters == [100, 64, 128, 128, 128, 128]
    assert clf.model_.get_layer("dense1").units == 1024
    assert clf.model_.get_layer("dense2").units == 512


def test_pickle_joblib_clone_round_trips(audionet, tmp_path):
    clf, X, _ = audionet
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X),
                                  expected)
    fresh = clone(clf)
    assert not hasattr(fresh, "model_")
    assert fresh.get_params() == clf.get_params()


def test_random_state_makes_fits_repeatable():
    X, y = tones(n=24, n_samples=64)
    make = lambda: KerasCNNClassifier(width=0.05, epochs=2, early_stopping=False,
                                      random_state=3).fit(X, y)
    np.testing.assert_array_equal(make().predict_proba(X), make().predict_proba(X))


def test_errors():
    X, y = blobs(n=10)
    with pytest.raises(ValueError, match=r"spectrogram_shape=\(8, 9\).*n_freq \* n_frames == 64"):
        KerasCNNClassifier("alexnet", spectrogram_shape=(8, 9), epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="architecture"):
        KerasCNNClassifier("resnet").fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        KerasCNNClassifier(epochs=1).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="'audionet' reads raw waveforms"):
        KerasCNNClassifier("audionet", spectrogram_shape=(8, 8), epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="standardize='frequency'.*raw waveforms"):
        KerasCNNClassifier("audionet", standardize="frequency", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="one group label per clip"):
        KerasCNNClassifier(epochs=1).fit(X, y, groups=np.arange(9))


def test_random_offset_moves_the_content_and_never_wraps_it():
    from sklearn_rbfm._cnn_classifier import _content_bounds, _shifted

    X = np.zeros((3, 10), dtype=np.float32)
    X[0, 0:4] = [1, 2, 3, 4]          # padded at the end
    X[1, 3:6] = [5, 6, 7]             # padded on both sides
    X[2] = np.arange(1, 11)           # no room
    start, end = _content_bounds(X, (10,))
    assert start.tolist() == [0, 3, 0] and end.tolist() == [4, 6, 10]
    rng = np.random.RandomState(0)
    seen = set()
    for _ in range(50):
        out = _shifted(X, (10,), start, end, rng)
        first = int(np.flatnonzero(out[0])[0])
        np.testing.assert_array_equal(out[0, first:first + 4], [1, 2, 3, 4])
        assert np.count_nonzero(out[0]) == 4 and first <= 6
        np.testing.assert_array_equal(out[2], X[2])
        seen.add(first)
    assert len(seen) == 7  # every offset of the frame is drawn


def test_random_offset_of_spectrograms_shifts_frames():
    from sklearn_rbfm._cnn_classifier import _content_bounds, _shifted

    S = np.full((1, 3, 6), -100.0, dtype=np.float32)  # silent frames
    S[0, :, 1:3] = [[1, 2], [3, 4], [5, 6]]
    flat = S.reshape(1, -1)
    start, end = _content_bounds(flat, (3, 6))
    assert (start[0], end[0]) == (1, 3)
    out = _shifted(flat, (3, 6), start, end, np.random.RandomState(1)).reshape(3, 6)
    frame = int(np.flatnonzero(out[0] > -100)[0])
    np.testing.assert_array_equal(out[:, frame:frame + 2], S[0, :, 1:3])
    assert np.sum(out > -100) == 6


def test_warp_resamples_waveforms_and_both_spectrogram_axes():
    from sklearn_rbfm._cnn_classifier import _resampled, _warped

    x = np.zeros((2, 8), dtype=np.float32)
    x[:, :4] = [2, 4, 6, 8]
    out = _resampled(x, np.array([2.0, 0.5]), x[:, -1:])
    # twice as fast: every second sample, then the padding
    np.testing.assert_allclose(out[0], [2, 6, 0, 0, 0, 0, 0, 0])
    # half as fast: halfway values interpolated
    np.testing.assert_allclose(out[1], [2, 3, 4, 5, 6, 7, 8, 4])
    rng = np.random.RandomState(0)
    np.testing.assert_array_equal(_warped(x, (8,), 0.0, rng), x)
    # a spectrogram whose rows hold their frequency index, frames their time:
    # the warp moves rows and frames by independent factors
    freq, time = np.meshgrid(np.arange(6.0), np.arange(5.0), indexing="ij")
    S = np.stack([freq * 10 + time]).reshape(1, -1).astype(np.float32)
    out = _warped(S, (6, 5), 0.3, rng).reshape(6, 5)
    f_factor = out[1, 0] / 10
    t_factor = out[0, 1]
    assert 0.7 <= f_factor <= 1.3 and 0.7 <= t_factor <= 1.3
    assert abs(f_factor - t_factor) > 1e-3
    inside = (np.arange(6)[:, None] * f_factor <= 5) & (np.arange(5) * t_factor <= 4)
    np.testing.assert_allclose(
        out[inside],
        (10 * f_factor * np.arange(6)[:, None] + t_factor * np.arange(5))[inside],
        rtol=1e-5,
    )


def test_masks_silence_one_span_per_axis_at_the_clips_floor():
    from sklearn_rbfm._cnn_classifier import _masked

    rng = np.random.RandomState(0)
    W = rng.rand(200, 50).astype(np.float32) + 1
    out = _masked(W, (50,), 0.2, rng)
    widths = (out == 0).sum(axis=1)
    assert widths.max() <= 10 and widths.max() >= 8 and widths.min() == 0
    for row in out:  # one contiguous span
        zeros = np.flatnonzero(row == 0)
        assert len(zeros) == 0 or zeros[-1] - zeros[0] == len(zeros) - 1
    np.testing.assert_array_equal(out[out != 0], W[out != 0])
    S = rng.rand(100, 8 * 10).astype(np.float32) + 1
    S[:, 0] = 0.5  # each clip's floor
    out = _masked(S, (8, 10), 0.5, rng).reshape(100, 8, 10)
    at_floor = out == 0.5
    assert at_floor.all(axis=2).any(axis=1).mean() > 0.5  # whole bands
    assert at_floor.all(axis=1).any(axis=1).mean() > 0.5  # whole frames
    assert at_floor.all(axis=2).sum(axis=1).max() <= 4
    assert at_floor.all(axis=1).sum(axis=1).max() <= 5


def test_channel_colouring_adds_one_smooth_curve_per_clip_above_the_floor():
    from sklearn_rbfm._cnn_classifier import _channel_curves, _coloured

    rng = np.random.RandomState(0)
    curves = _channel_curves(500, 129, 12.0, rng)
    peaks = np.abs(curves).max(axis=1)
    assert peaks.max() <= 12.0 + 1e-9 and peaks.max() > 11.0 and peaks.min() < 1.0
    np.testing.assert_allclose(curves.mean(axis=1), 0, atol=1e-9)
    # smooth: neighbouring bins differ by a small part of the peak
    assert np.abs(np.diff(curves, axis=1)).max() < 0.2 * 12.0
    # spectrograms in dB: each band of a clip moves by one gain, every frame alike
    S = rng.uniform(-40, 0, size=(20, 16, 6)).astype(np.float32)
    S[:, :, 4:] = -100.0  # padding frames at the floor
    out = _coloured(S.reshape(20, -1), (16, 6), 20.0, rng).reshape(20, 16, 6)
    np.testing.assert_array_equal(out[:, :, 4:], -100.0)
    gain = out[:, :, :4] - S[:, :, :4]
    np.testing.assert_allclose(gain, gain[:, :, :1].repeat(4, axis=2), atol=1e-4)
    assert np.abs(gain).max() > 5 and np.abs(gain).max() <= 20.0 + 1e-4
    # waveforms: filtered, so the spectrum's shape changes but not the length
    t = np.arange(800) / 8000
    W = np.stack([np.sin(2 * np.pi * 300 * t) + np.sin(2 * np.pi * 3000 * t)] * 50)
    out = _coloured(W.astype(np.float32), (800,), 20.0, rng)
    spectrum = np.abs(np.fft.rfft(out, axis=1))
    ratio_db = 20 * np.log10(spectrum[:, 300] / spectrum[:, 30])  # 3 kHz vs 300 Hz
    assert out.shape == W.shape and ratio_db.std() > 3 and np.abs(ratio_db).max() <= 40.1


def test_mixup_blends_each_clip_target_and_weight_with_one_partner():
    from sklearn_rbfm._cnn_classifier import _mixed

    rng = np.random.RandomState(0)
    n = 12
    X = rng.randn(n, 5).astype(np.float32)
    y = np.eye(n, dtype=np.float32)  # clip i is class i: y shows lam and partner
    w = rng.uniform(1, 2, n).astype(np.float32)
    Xm, ym, wm = _mixed(X, y, w, 0.4, np.random.RandomState(1))
    assert Xm.dtype == X.dtype and ym.dtype == y.dtype
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)
    moved = 0
    for i in range(n):
        lam = ym[i, i]
        assert lam >= 0.5 - 1e-6
        others = np.flatnonzero((ym[i] > 0) & (np.arange(n) != i))
        assert len(others) <= 1
        j = others[0] if len(others) else i
        np.testing.assert_allclose(Xm[i], lam * X[i] + (1 - lam) * X[j], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(wm[i], lam * w[i] + (1 - lam) * w[j], rtol=1e-5)
        moved += j != i and lam < 0.99
    assert moved >= n // 2
    # on a fit: validated, and the classifier still learns the tones
    X, y = tones(n=48, n_samples=128)
    with pytest.raises(ValueError, match="mixup"):
        KerasCNNClassifier(mixup=-0.1, epochs=1).fit(X, y)
    clf = KerasCNNClassifier(width=0.05, epochs=12, batch_size=16, learning_rate=0.005,
                             mixup=0.4, random_state=0).fit(X, y)
    assert clf.score(*tones(n=48, n_samples=128, seed=1)) >= 0.9


def test_trains_on_all_clips_by_default_and_augmentation_is_validated():
    X, y = tones(n=24, n_samples=64)
    clf = KerasCNNClassifier(width=0.05, epochs=2, random_state=0).fit(
        X, y, groups=np.arange(24) % 4)
    assert "val_loss" not in clf.history_ and len(clf.history_["loss"]) == 2
    for bad in (dict(warp=0.6), dict(warp=-0.1), dict(mask_fraction=1.0),
                dict(channel_db=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            KerasCNNClassifier(epochs=1, **bad).fit(X, y)


def test_default_epochs_depend_on_the_architecture():
    X, y = blobs(n=16)
    alexnet = KerasCNNClassifier("alexnet", spectrogram_shape=(8, 8), width=0.05,
                                 batch_size=16, random_state=0).fit(X, y)
    assert alexnet.epochs is None and len(alexnet.history_["loss"]) == 100
    # the cosine schedule spans the resolved number of epochs
    assert alexnet.history_["lr"][50] == pytest.approx(0.5e-3, rel=1e-3)
    W, labels = tones(n=16, n_samples=64)
    audionet = KerasCNNClassifier(width=0.05, batch_size=16, random_state=0).fit(W, labels)
    assert len(audionet.history_["loss"]) == 30
    assert audionet.history_["lr"][15] == pytest.approx(0.5e-3, rel=1e-3)


def test_default_epochs_make_a_fixed_number_of_updates_within_bounds():
    from sklearn_rbfm._cnn_classifier import default_epochs

    # FSDD's 2500 training clips, batches of 32: the measured 100 and 30
    assert default_epochs("alexnet", 79) == 100
    assert default_epochs("audionet", 79) == 30
    # 10 times the clips: fewer passes, down to the floor
    assert default_epochs("alexnet", 400) == 20
    assert default_epochs("alexnet", 200) == 40
    assert default_epochs("audionet", 100) == 24
    assert default_epochs("audionet", 790) == 10
    # a handful of batches: capped, not thousands of epochs
    assert default_epochs("alexnet", 1) == 100


def test_early_stopping_holds_out_whole_groups():
    from sklearn_rbfm._keras import validation_split

    y = np.arange(60) % 3
    groups = np.repeat(["a", "b", "c", "d", "e", "f"], 10)
    train, val = validation_split(y, groups, 0.3, seed=0)
    assert len(set(groups[val])) == 2
    assert not set(groups[val]) & set(groups[train])
    assert sorted(np.r_[train, val]) == list(range(60))
    train, val = validation_split(y, None, 0.2, seed=0)
    assert len(val) == 12 and np.bincount(y[val]).tolist() == [4, 4, 4]
    # one group cannot be held out whole: a stratified fraction of clips
    train, val = validation_split(y, np.zeros(60), 0.2, seed=0)
    assert len(val) == 12 and np.bincount(y[val]).tolist() == [4, 4, 4]
    X, yt = tones(n=40, n_samples=64)
    clf = KerasCNNClassifier(width=0.05, epochs=2, early_stopping=True,
                             random_state=0).fit(X, yt, groups=np.arange(40) % 4)
    assert len(clf.history_["val_loss"]) == len(clf.history_["loss"]) == 2
    assert clf.history_["lr"][1] < clf.history_["lr"][0]  # cosine decay


def test_standardize_false_leaves_the_level_to_the_network():
    X, y = tones(n=8, n_samples=64)
    names = lambda clf: [layer.name for layer in clf.model_.layers]
    kept = KerasCNNClassifier(width=0.05, epochs=1, early_stopping=False,
                              random_state=0).fit(X, y)
    raw = KerasCNNClassifier(width=0.05, epochs=1, early_stopping=False,
                             standardize=False, random_state=0).fit(X, y)
    assert "standardise" in names(kept) and "standardise" not in names(raw)
    # a standardised network hardly tells a clip from a louder copy
    np.testing.assert_allclose(kept.predict_proba(3 * X), kept.predict_proba(X),
                               atol=1e-2)
    # nor from one 50 dB quieter: each still reaches unit variance (at
    # 5e-6, Keras' default epsilon of 1e-3 left a standard deviation of 0.07)
    import tensorflow as tf

    model = kept.model_
    standardise = tf.keras.Model(model.input, model.get_layer("standardise").output)
    for copy in (3 * X, X / 300):
        np.testing.assert_allclose(np.std(standardise(copy).numpy(), axis=1), 1.0,
                                   rtol=1e-3)


def test_audionet_refuses_a_spectrogram_shape():
    X, y = blobs(n=8)
    clf = KerasCNNClassifier("audionet", spectrogram_shape=(8, 8), epochs=1)
    with pytest.raises(ValueError, match="'audionet' reads raw waveforms.*'alexnet'"):
        clf.fit(X, y)


def test_strings_are_refused_naming_x():
    X, y = blobs(n=8)
    X = X.astype(object)
    X[3, 5] = "loud"
    with pytest.raises(ValueError, match="X must hold numbers.*'loud'"):
        KerasCNNClassifier("alexnet", spectrogram_shape=(8, 8), epochs=1).fit(X, y)


def test_class_weight_is_balanced_by_default_like_the_other_estimators():
    from sklearn_rbfm import CNNEmbedder, KerasMLPClassifier

    assert KerasCNNClassifier().class_weight == "balanced"
    assert CNNEmbedder().class_weight == KerasMLPClassifier().class_weight == "balanced"


def test_fit_leaves_the_users_tensorflow_random_state_alone(monkeypatch):
    from sklearn_rbfm._keras import import_tensorflow

    tf = import_tensorflow()
    X, y = tones(n=16, n_samples=64)
    tf.random.set_seed(123)
    expected = [tf.random.uniform([3]).numpy() for _ in range(2)]
    tf.random.set_seed(123)
    first = tf.random.uniform([3]).numpy()
    KerasCNNClassifier("audionet", width=0.05, epochs=1, early_stopping=False,
                       random_state=0).fit(X, y)
    second = tf.random.uniform([3]).numpy()
    assert tf.compat.v1.get_seed(None)[0] == 123
    np.testing.assert_array_equal(np.stack([first, second]), np.stack(expected))
    # a log level the user chose is kept
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    import_tensorflow()
    assert __import__("os").environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


@pytest.mark.slow
def test_no_global_seed_and_no_tensorflow_start_up_lines_in_a_fresh_process():
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from sklearn_rbfm import KerasCNNClassifier\n"
        "X = np.random.RandomState(0).rand(8, 32).astype('float32')\n"
        "KerasCNNClassifier(width=0.05, epochs=1, early_stopping=False,\n"
        "                   random_state=0).fit(X, np.arange(8) % 2)\n"
        "from sklearn_rbfm._keras import import_tensorflow\n"
        "assert import_tensorflow().compat.v1.get_seed(None) == (None, None)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    for line in ("Unable to register", "cuDNN factory", "cuda_dnn.cc"):
        assert line not in done.stderr, done.stderr


def _training_lengths(monkeypatch):
    """Record the number of epochs each call of ``_train`` ran."""
    lengths = []
    train = KerasCNNClassifier._train

    def spy(self, *args, **kwargs):
        history = train(self, *args, **kwargs)
        lengths.append(len(history["loss"]))
        return history

    monkeypatch.setattr(KerasCNNClassifier, "_train", spy)
    return lengths


def test_a_network_at_chance_level_starts_again_and_then_warns(monkeypatch):
    # constant clips: every network's loss stays at log(2)
    X, y = np.ones((16, 64), dtype=np.float32), np.arange(16) % 2
    lengths = _training_lengths(monkeypatch)
    clf = KerasCNNClassifier(width=0.05, epochs=20, augment=False, random_state=0)
    with pytest.warns(ChanceLevelWarning, match=(
            r"^KerasCNNClassifier\(augment=False, epochs=20, random_state=0, "
            r"width=0.05\) training ended at chance level: the training loss never "
            r"went below 0.658 \(chance level 0.693\) in 3 attempts")):
        clf.fit(X, y)
    # the first two attempts stop after a tenth of the epochs, the last runs all
    assert lengths == [2, 2, 20]
    assert clf.n_attempts_.tolist() == [3] and len(clf.history_["loss"]) == 20
    assert clf.history_["loss"][-1] == pytest.approx(np.log(2), abs=0.01)


def test_short_runs_are_not_restarted_and_each_network_at_chance_is_named(monkeypatch):
    X, y = np.ones((16, 64), dtype=np.float32), np.arange(16) % 2
    lengths = _training_lengths(monkeypatch)
    clf = KerasCNNClassifier(width=0.05, epochs=2, augment=False, n_networks=2,
                             random_state=0)
    with pytest.warns(ChanceLevelWarning,
                      match=r"for 2 of its 2 networks \(net1, net2\).* in 1 attempt,"):
        clf.fit(X, y)
    assert lengths == [2, 2] and clf.n_attempts_.tolist() == [1, 1]


def test_a_network_that_learns_is_trained_once(audionet):
    assert audionet[0].n_attempts_.tolist() == [1]
    assert min(audionet[0].history_["loss"]) < 0.95 * np.log(2)


@pytest.mark.parametrize("losses, stops_after", [
    ([2.30, 2.31, 2.30, 2.29], 3),          # sits at log(10): stopped at the check
    ([5.6, 2.5, 2.35, 2.33, 2.2], 4),      # still coming down at the check: later
    ([2.32, 2.0, 2.3, 2.31, 2.3], None),   # left chance once: never stopped
    ([8.0, 6.0, 5.0, 4.0], None),          # above chance but falling: never stopped
])
def test_the_restart_check_stops_only_trainings_sitting_at_chance(losses, stops_after):
    import types

    from sklearn_rbfm._cnn_classifier import _stop_at_chance
    from sklearn_rbfm._keras import import_tensorflow

    callback = _stop_at_chance(import_tensorflow(), np.log(10), 3)
    callback.set_model(types.SimpleNamespace(stop_training=False))
    stopped = None
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": loss})
        if callback.model.stop_training and stopped is None:
            stopped = epoch + 1
    assert stopped == stops_after


def test_chance_level_is_the_loss_of_the_weighted_class_frequencies():
    from sklearn_rbfm._cnn_classifier import chance_level

    y = np.array([0] * 9 + [1])
    balanced = np.where(y == 0, 10 / 18, 10 / 2)
    assert chance_level(y, balanced, 2) == pytest.approx(np.log(2))
    p = np.array([0.9, 0.1])
    assert chance_level(y, np.ones(10), 2) == pytest.approx(-(p * np.log(p)).sum())
    assert chance_level(np.arange(30) % 10, np.ones(30), 10) == pytest.approx(np.log(10))
    assert issubclass(FineTuningWarning, ChanceLevelWarning)


def test_content_standardisation_ignores_the_padding_and_the_level():
    import tensorflow as tf

    X, _ = tones(n=8, n_samples=128)
    short = np.zeros((8, 512), dtype=np.float32)
    short[:, :128] = X                       # a quarter content, padded
    half = np.zeros((8, 512), dtype=np.float32)
    half[:, :128] = X
    half[:, 128:256] = X[:, ::-1]             # half content
    from sklearn_rbfm._architectures import build_audionet

    frames = {}
    for standardize in (True, "content"):
        model = build_audionet(512, 2, 0.05, 0.5, standardize)
        frames[standardize] = tf.keras.Model(
            model.input, model.get_layer("standardise").output)
    content = frames["content"]
    out = content(short).numpy()
    # zero mean and unit variance over the content; the padding stays silent
    np.testing.assert_allclose(out[:, :128].mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(out[:, :128].std(axis=1), 1.0, rtol=1e-4)
    assert not out[:, 128:].any()
    # the same speech comes out the same whatever the padding and the level
    np.testing.assert_allclose(content(half).numpy()[:, :256].std(axis=1), 1.0,
                               rtol=1e-4)
    np.testing.assert_allclose(content(short / 300).numpy(), out, rtol=2e-3, atol=1e-5)
    # over the whole frame (standardize=True) a clip with four times the
    # padding came out at twice the scale
    whole = frames[True]
    ratio = whole(short).numpy()[:, :128].std(axis=1) / whole(half).numpy()[:, :128].std(axis=1)
    np.testing.assert_allclose(ratio, np.sqrt(2), rtol=0.05)
    # a silent clip stays silent instead of dividing by zero
    assert not content(np.zeros((1, 512), np.float32)).numpy().any()


@pytest.mark.filterwarnings("ignore::sklearn_rbfm.exceptions.ChanceLevelWarning")
def test_content_standardised_net_is_explained_and_pickled_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    from sklearn_rbfm.explain import relevance_maps

    X, y = tones(n=16, n_samples=128)
    X[:, 96:] = 0.0
    clf = KerasCNNClassifier(width=0.05, epochs=2, standardize="content",
                             random_state=0).fit(X, y)
    assert type(clf.model_.get_layer("standardise")).__name__ == "ContentStandardization"
    R = relevance_maps(clf, X[:4], method="lrp.epsilon")
    assert R.shape == (4, 128) and np.isfinite(R).all() and np.abs(R).sum() > 0
    assert not R[:, 96:].any()   # silence carries no relevance
    path = tmp_path / "clf.pkl"
    joblib.dump((clf, X, clf.predict_proba(X)), path)
    code = (
        "import joblib, numpy as np, sys; clf, X, p = joblib.load(sys.argv[1]); "
        "np.testing.assert_array_equal(clf.predict_proba(X), p); print('same')"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and "same" in out.stdout, out.stderr[-2000:]


def test_content_standardisation_is_refused_for_spectrograms():
    X, y = blobs(n=10)
    with pytest.raises(ValueError, match="standardize='content'.*spectrograms"):
        KerasCNNClassifier("alexnet", spectrogram_shape=(8, 8), standardize="content",
                           epochs=1).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn_rbfm.exceptions.ChanceLevelWarning")
def test_test_offsets_average_the_placements_of_each_clips_content():
    from sklearn_rbfm._cnn_classifier import _spread_placements

    X = np.zeros((2, 10), dtype=np.float32)
    X[0, :4] = [1, 2, 3, 4]
    X[1] = np.arange(1, 11)                  # no room to move
    placed = list(_spread_placements(X, (10,), 4))
    firsts = [int(np.flatnonzero(p[0])[0]) for p in placed]
    assert firsts == [0, 2, 4, 6]            # from the start to the end of the frame
    for p in placed:
        np.testing.assert_array_equal(p[0, p[0] != 0], [1, 2, 3, 4])
        np.testing.assert_array_equal(p[1], X[1])
    # clips that fill their frames are predicted once, not n times
    assert len(list(_spread_placements(X[1:], (10,), 4))) == 1
    S = np.full((1, 2, 5), -80.0, dtype=np.float32)
    S[0, :, 0:2] = [[1, 2], [3, 4]]
    last = list(_spread_placements(S.reshape(1, -1), (2, 5), 2))[-1].reshape(2, 5)
    np.testing.assert_array_equal(last[:, 3:], S[0, :, 0:2])

    Xt, yt = tones(n=16, n_samples=128)
    Xt[:, 64:] = 0.0
    clf = KerasCNNClassifier(width=0.05, epochs=2, test_offsets=1,
                             random_state=0).fit(Xt, yt)
    single = clf.predict_proba(Xt)
    np.testing.assert_allclose(single, clf.model_.predict(Xt, verbose=0), rtol=1e-5,
                               atol=1e-6)
    clf.set_params(test_offsets=3)
    expected = np.mean([clf.model_.predict(p, verbose=0)
                        for p in _spread_placements(Xt, (128,), 3)], axis=0)
    np.testing.assert_allclose(clf.predict_proba(Xt), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(clf.predict_proba(Xt), single)
    # "auto": five placements for a net trained at random offsets
    five = np.mean([clf.model_.predict(p, verbose=0)
                    for p in _spread_placements(Xt, (128,), 5)], axis=0)
    clf.set_params(test_offsets="auto")
    np.testing.assert_allclose(clf.predict_proba(Xt), five, rtol=1e-5, atol=1e-6)
    clf.set_params(augment=False)
    np.testing.assert_allclose(clf.predict_proba(Xt), single, rtol=1e-5, atol=1e-6)
    assert KerasCNNClassifier("alexnet", augment=False)._placements() == 1


@pytest.mark.filterwarnings("ignore::sklearn_rbfm.exceptions.ChanceLevelWarning")
def test_the_spectrogram_net_averages_five_placements_by_default():
    from sklearn_rbfm._cnn_classifier import _spread_placements

    X, y = blobs(n=16, shape=(8, 16))
    S = X.reshape(16, 8, 16)
    S[:, :, 10:] = -1.0                         # six silent frames of padding
    X = S.reshape(16, -1)
    clf = KerasCNNClassifier("alexnet", spectrogram_shape=(8, 16), width=0.1, epochs=1,
                             random_state=0).fit(X, y)
    five = np.mean([clf.model_.predict(p, verbose=0)
                    for p in _spread_placements(X, (8, 16), 5)], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X), five, rtol=1e-5, atol=1e-6)
    assert not np.allclose(five, clf.model_.predict(X, verbose=0))
