import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from sklearn_rbfm import KerasCNNClassifier


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
    assert not any("BatchNormalization" in type(l).__name__ for l in clf.model_.layers)


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
    proba = clf.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_full_width_matches_the_paper_sizes():
    X, y = tones(n=4, n_samples=64)
    clf = KerasCNNClassifier(epochs=1, early_stopping=False, random_state=0).fit(X, y)
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
