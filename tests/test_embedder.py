"""CNNEmbedder: input shapes, fine-tuning, persistence, pipelines, Inception and custom networks."""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("tensorflow")

from sklearn_rbfm import CNNEmbedder, SpectrogramTransformer  # noqa: E402
from sklearn_rbfm._keras import import_tensorflow  # noqa: E402


def _spectrograms(n=12, shape=(8, 10), seed=0):
    """Two classes: energy in the low or the high half of the bands."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    S = rng.normal(0.0, 1.0, size=(n, *shape)).astype(np.float32)
    half = shape[0] // 2
    S[y == 0, :half] += 3.0
    S[y == 1, half:] += 3.0
    return S, y


def test_import_does_not_load_tensorflow():
    code = (
        "import sys, sklearn_rbfm\n"
        "from sklearn_rbfm import CNNEmbedder\n"
        "import sklearn_rbfm._architectures, sklearn_rbfm._vggish, sklearn_rbfm._birdnet\n"
        "CNNEmbedder('small_cnn')\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pooling_default_is_max_for_the_small_cnn_and_avg_for_callables():
    S, _ = _spectrograms()
    tf = import_tensorflow()
    emb = CNNEmbedder("small_cnn", random_state=0).fit(S)
    assert emb.pooling is None and emb.pooling_ == "max"
    feature_map = emb.model_.get_layer("block3_pool").output
    maps = tf.keras.Model(emb.model_.input, feature_map)(S[..., None]).numpy()
    np.testing.assert_allclose(emb.transform(S), maps.max(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(emb.transform(S), maps.mean(axis=(1, 2)), atol=1e-3)
    averaged = CNNEmbedder("small_cnn", pooling="avg", random_state=0).fit(S)
    assert averaged.pooling_ == "avg"
    np.testing.assert_allclose(averaged.transform(S), maps.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert CNNEmbedder(builder, input_size=(6, 6), random_state=0).fit(S).pooling_ == "avg"


def test_flat_3d_and_named_inputs_agree():
    pd = pytest.importorskip("pandas")
    S, _ = _spectrograms()
    flat = S.reshape(len(S), -1)
    a = CNNEmbedder("small_cnn", random_state=0).fit(S)
    b = CNNEmbedder("small_cnn", spectrogram_shape=(8, 10), random_state=0).fit(flat)
    names = [f"f{i}_t{j}" for i in range(8) for j in range(10)]
    c = CNNEmbedder("small_cnn", random_state=0).fit(pd.DataFrame(flat, columns=names))
    assert a.spectrogram_shape_ == b.spectrogram_shape_ == c.spectrogram_shape_ == (8, 10)
    out = a.transform(S)
    assert out.shape == (12, 384) and out.dtype == np.float32
    np.testing.assert_array_equal(b.transform(flat), out)
    np.testing.assert_array_equal(c.transform(pd.DataFrame(flat, columns=names)), out)
    np.testing.assert_array_equal(a.transform(flat), out)
    # unknown 2-D input: one spectrum of n_features bands per row
    d = CNNEmbedder("small_cnn", random_state=0).fit(flat)
    assert d.spectrogram_shape_ == (80, 1)


def test_shape_errors_name_the_problem():
    pd = pytest.importorskip("pandas")
    S, _ = _spectrograms()
    flat = S.reshape(len(S), -1)
    with pytest.raises(ValueError, match=r"spectrogram_shape=\(8, 9\) has 72 cells but X has 80"):
        CNNEmbedder("small_cnn", spectrogram_shape=(8, 9)).fit(flat)
    with pytest.raises(ValueError, match=r"shape \(8, 10\), but spectrogram_shape=\(10, 8\)"):
        CNNEmbedder("small_cnn", spectrogram_shape=(10, 8)).fit(S)
    fitted = CNNEmbedder("small_cnn", random_state=0).fit(S)
    with pytest.raises(ValueError, match=r"shape \(10, 8\), but this CNNEmbedder was fitted on \(8, 10\)"):
        fitted.transform(S.reshape(12, 10, 8))
    with pytest.raises(ValueError, match="X has 70 features, but CNNEmbedder is expecting 80"):
        fitted.transform(flat[:, :70])
    shuffled = [f"f{i}_t{j}" for j in range(10) for i in range(8)]
    with pytest.raises(ValueError, match="not the full \\(frequency, frame\\) grid of 8 x 10"):
        CNNEmbedder("small_cnn").fit(pd.DataFrame(flat, columns=shuffled))
    with pytest.raises(ValueError, match="spectrogram_shape must be a pair of positive ints"):
        CNNEmbedder("small_cnn", spectrogram_shape=(8, 10, 1)).fit(S)
    with pytest.raises(ValueError, match="weights='imagenet' exists only for the Inception"):
        CNNEmbedder("small_cnn", weights="imagenet").fit(S)
    with pytest.raises(ValueError, match="start from random weights"):
        CNNEmbedder("small_cnn", weights="some.h5").fit(S)


def test_fine_tune_last_trains_only_the_last_block():
    S, y = _spectrograms()
    base = CNNEmbedder("small_cnn", random_state=0).fit(S, y)  # y ignored
    assert base.history_ is None and base.n_init_ == 1
    last = CNNEmbedder("small_cnn", fine_tune="last", epochs=2, validation_fraction=0.0,
                       n_init=1, random_state=0).fit(S, y)
    full = CNNEmbedder("small_cnn", fine_tune="all", epochs=2, validation_fraction=0.0,
                       n_init=1, random_state=0).fit(S, y)

    def kernel(emb, name):
        return emb.model_.get_layer(name).get_weights()[0]

    np.testing.assert_array_equal(kernel(last, "block1_conv"), kernel(base, "block1_conv"))
    np.testing.assert_array_equal(kernel(last, "block2_conv"), kernel(base, "block2_conv"))
    assert not np.array_equal(kernel(last, "block3_conv"), kernel(base, "block3_conv"))
    assert not np.array_equal(kernel(full, "block1_conv"), kernel(base, "block1_conv"))
    assert len(full.history_["loss"]) == 2
    assert full.model_.output_shape == (None, 384)  # the head is not part of the embedder


def test_fine_tuning_learns_the_task():
    from sklearn.linear_model import LogisticRegression

    S, y = _spectrograms(n=40, seed=1)
    emb = CNNEmbedder("small_cnn", fine_tune="all", epochs=15, learning_rate=3e-3,
                      batch_size=8, validation_fraction=0.2, random_state=0).fit(S, y)
    losses = emb.history_["loss"]
    assert losses[-1] < losses[0]
    # one network by default, even from random initial weights
    assert emb.n_init_ == 1 and set(emb.history_["member"]) == {0}
    assert emb.transform(S).shape == (40, 384)
    S_test, y_test = _spectrograms(n=20, seed=2)
    clf = LogisticRegression().fit(emb.transform(S), y)
    assert clf.score(emb.transform(S_test), y_test) >= 0.9


def test_fine_tuning_errors():
    S, y = _spectrograms()
    with pytest.raises(ValueError, match="call fit\\(X, y\\)"):
        CNNEmbedder("small_cnn", fine_tune="all").fit(S)
    with pytest.raises(ValueError, match="at least two classes.*only one class \\(0\\)"):
        CNNEmbedder("small_cnn", fine_tune="all").fit(S, np.zeros(12, dtype=int))
    with pytest.raises(ValueError, match="class_weight names classes \\[7\\]"):
        CNNEmbedder("small_cnn", fine_tune="all", class_weight={7: 1.0}).fit(S, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CNNEmbedder("small_cnn", fine_tune="all").fit(S, y[:5])


def test_pickle_joblib_and_clone_refit_are_identical(tmp_path):
    S, y = _spectrograms()
    emb = CNNEmbedder("small_cnn", fine_tune="all", epochs=2, batch_size=5,
                      validation_fraction=0.25, random_state=3).fit(S, y)
    expected = emb.transform(S)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(emb)).transform(S), expected)
    joblib.dump(emb, tmp_path / "emb.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "emb.joblib").transform(S), expected)
    refit = clone(emb).fit(S, y)
    np.testing.assert_array_equal(refit.transform(S), expected)
    assert refit.history_ == emb.history_
    # for a given batch_size, a clip's embedding does not depend on its batch
    np.testing.assert_array_equal(emb.transform(S[::-1]), expected[::-1])
    np.testing.assert_array_equal(emb.transform(S[7:9]), expected[7:9])
    # another batch size runs other kernels: equal up to float32 rounding
    emb.set_params(batch_size=3)
    np.testing.assert_allclose(emb.transform(S), expected, rtol=1e-5, atol=1e-6)


def test_pipeline_passes_the_spectrogram_shape_and_caches(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    waves = rng.standard_normal((6, 800)).astype(np.float32)
    spec = SpectrogramTransformer(kind="mel", sr=8000, n_fft=128, hop_length=64, n_mels=16)
    pipe = make_pipeline(spec, CNNEmbedder("small_cnn", random_state=0)).set_output(
        transform="pandas"
    )
    out = pipe.fit_transform(waves)
    n_frames = spec.fit(waves).spectrogram_shape_[1]
    assert pipe[-1].spectrogram_shape_ == (16, n_frames)
    assert list(out.columns[:2]) == ["small_cnn0", "small_cnn1"]

    fits = []
    original_fit = CNNEmbedder.fit

    def counting_fit(self, X, y=None):
        fits.append(1)
        return original_fit(self, X, y)

    monkeypatch.setattr(CNNEmbedder, "fit", counting_fit)
    # Pipeline caches the transformers before the last step
    steps = [
        ("spec", spec),
        ("emb", CNNEmbedder("small_cnn", random_state=0)),
        ("scale", StandardScaler()),
    ]
    first = Pipeline(steps, memory=str(tmp_path)).set_output(transform="pandas")
    a = first.fit(waves).transform(waves)
    second = Pipeline(steps, memory=str(tmp_path)).set_output(transform="pandas")
    b = second.fit(waves).transform(waves)
    assert len(fits) == 1  # the second fit came from the cache
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    np.testing.assert_array_equal(
        second.named_steps["emb"].transform(spec.transform(waves)), out.to_numpy()
    )


def test_progress_bar_when_verbose(capsys):
    S, _ = _spectrograms()
    CNNEmbedder("small_cnn", batch_size=4, verbose=1, random_state=0).fit(S).transform(S)
    assert "embedding" in capsys.readouterr().err


def builder(input_shape):
    """A user's network, defined at module level so that the embedder pickles."""
    tf = import_tensorflow()
    inputs = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inputs)
    x = tf.keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="c2")(x)
    return tf.keras.Model(inputs, x)


def test_custom_network():
    S, y = _spectrograms()
    emb = CNNEmbedder(builder, pooling="max", input_size=(6, 6), random_state=0).fit(S)
    out = emb.transform(S)
    assert out.shape == (12, 5)
    assert emb.get_feature_names_out().tolist() == [f"cnnembedder{i}" for i in range(5)]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(emb)).transform(S), out)
    tuned = CNNEmbedder(builder, fine_tune="last", epochs=1, n_init=1, random_state=0).fit(S, y)
    frozen = CNNEmbedder(builder, random_state=0).fit(S)
    nets = [[la for la in e.model_.layers if hasattr(la, "layers")][0] for e in (tuned, frozen)]
    np.testing.assert_array_equal(*(n.get_layer("c1").get_weights()[0] for n in nets))
    assert not np.array_equal(*(n.get_layer("c2").get_weights()[0] for n in nets))

    with pytest.raises(TypeError, match="returned int, not a tf.keras.Model"):
        CNNEmbedder(lambda shape: 3).fit(S)


@pytest.fixture(scope="module")
def inception_input():
    return _spectrograms(n=3, shape=(20, 30), seed=5)[0]


def test_inception_v3_weights_from_a_file(inception_input, tmp_path):
    S = inception_input
    emb = CNNEmbedder("inception_v3", weights=None, input_size=(75, 75), batch_size=2,
                      random_state=0).fit(S)
    out = emb.transform(S)
    assert out.shape == (3, 2048) and np.isfinite(out).all()
    assert emb.get_feature_names_out()[-1] == "inception_v3_2047"
    backbone = emb.model_.get_layer("inception_v3")
    path = str(tmp_path / "inception_v3_notop.h5")
    backbone.save_weights(path)
    # the weights file is independent of the input size it was saved at
    loaded = CNNEmbedder("inception_v3", weights=path, input_size=(80, 80), random_state=1).fit(S)
    assert loaded.weights_path_ == path
    for a, b in zip(loaded.model_.get_layer("inception_v3").get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_inception_imagenet_weights_use_the_keras_cache(inception_input, tmp_path, monkeypatch):
    tf = import_tensorflow()
    S = inception_input
    calls = []

    def offline(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        raise Exception(f"URL fetch failure on {origin}: None -- no network")

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(tf.keras.utils, "get_file", offline)
    fname = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with pytest.raises(FileNotFoundError) as info:
        CNNEmbedder("inception_v3", weights="imagenet", input_size=(75, 75)).fit(S)
    message = str(info.value)
    assert str(tmp_path / ".keras" / "models" / fname) in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + fname in message
    assert calls[0][0] == fname
    assert calls[0][2] == {"cache_subdir": "models", "file_hash": "bcbd6486424b2319ff4ef7d526e38f63"}
    with pytest.raises(ValueError, match="too small for inception_v3: Keras needs at least 75"):
        CNNEmbedder("inception_v3", weights=None, input_size=(32, 32)).fit(S)


def test_inception_resnet_v2_embeds_1536(inception_input):
    emb = CNNEmbedder("inception_resnet_v2", weights=None, input_size=(75, 75), batch_size=3,
                      random_state=0).fit(inception_input)
    out = emb.transform(inception_input)
    assert out.shape == (3, 1536) and np.isfinite(out).all()
    assert emb.get_feature_names_out()[0] == "inception_resnet_v2_0"


def test_strings_are_refused_naming_x():
    S, _ = _spectrograms()
    X = S.reshape(len(S), -1).astype(object)
    X[2, 7] = "n/a"
    with pytest.raises(ValueError, match="X must hold numbers.*'n/a'"):
        CNNEmbedder("small_cnn", random_state=0).fit(X)
