"""The iNNvestigate reference engine: a graph-mode worker, eager caller."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification

tf = pytest.importorskip("tensorflow")

from sklearn_rbfm import KerasMLPClassifier  # noqa: E402
from sklearn_rbfm import _relevance_worker  # noqa: E402
from sklearn_rbfm._relevance import ANALYZERS, _submit, compute_relevance  # noqa: E402


@pytest.fixture(scope="module")
def informative():
    """A problem whose label depends on the first 3 of 12 features only."""
    X, y = make_classification(
        n_samples=400, n_features=12, n_informative=3, n_redundant=0,
        n_repeated=0, shuffle=False, class_sep=2.0, random_state=0,
    )
    clf = KerasMLPClassifier(
        hidden_layer_sizes=(32,), epochs=30, learning_rate=0.02, random_state=0
    ).fit(X, y)
    return X.astype(np.float32), y, clf


def _no_bias_model(seed=0):
    rng = np.random.RandomState(seed)
    inputs = tf.keras.Input(shape=(6,), name="x")
    hidden = tf.keras.layers.Dense(8, activation="relu", use_bias=False, name="h")(inputs)
    outputs = tf.keras.layers.Dense(3, activation="softmax", use_bias=False, name="out")(hidden)
    model = tf.keras.Model(inputs, outputs)
    model.set_weights([rng.randn(6, 8).astype("float32"), rng.randn(8, 3).astype("float32")])
    return model


def _logits(model, X):
    w_h, w_out = model.get_weights()
    return np.maximum(X @ w_h, 0) @ w_out


def test_lrp_z_conserves_relevance_without_biases():
    model = _no_bias_model()
    X = np.random.RandomState(1).rand(20, 6).astype(np.float32)
    logits = _logits(model, X)
    for cls in range(3):
        relevance = compute_relevance(model, X, method="lrp.z", target=cls)
        assert relevance.shape == X.shape and relevance.dtype == np.float32
        np.testing.assert_allclose(relevance.sum(axis=1), logits[:, cls], rtol=1e-4, atol=1e-5)
    predicted = compute_relevance(model, X, method="lrp.z")
    np.testing.assert_allclose(predicted.sum(axis=1), logits.max(axis=1), rtol=1e-4, atol=1e-5)


def test_target_array_selects_one_class_per_sample():
    model = _no_bias_model()
    X = np.random.RandomState(2).rand(9, 6).astype(np.float32)
    target = np.array([0, 1, 2] * 3)
    relevance = compute_relevance(model, X, method="gradient", target=target)
    for cls in range(3):
        rows = target == cls
        expected = compute_relevance(model, X[rows], method="gradient", target=cls)
        np.testing.assert_allclose(relevance[rows], expected, rtol=1e-6)


def test_deep_taylor_ranks_informative_features_first(informative):
    X, _, clf = informative
    relevance = compute_relevance(clf.model_, X)
    assert (relevance >= -1e-6).all()
    top3 = set(np.argsort(-relevance.mean(axis=0))[:3].tolist())
    assert top3 == {0, 1, 2}


def test_batches_give_the_same_relevance(informative):
    X, _, clf = informative
    whole = compute_relevance(clf.model_, X[:50], method="lrp.epsilon", batch_size=256)
    pieces = compute_relevance(clf.model_, X[:50], method="lrp.epsilon", batch_size=7)
    np.testing.assert_allclose(whole, pieces, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "method, same_as_default",
    [("lrp.epsilon", {"epsilon": 1e-7}), ("gradient", {"postprocess": None})],
)
def test_refitted_model_reuses_the_analyzer_correctly(informative, method, same_as_default):
    X, y, clf = informative
    compute_relevance(clf.model_, X[:20], method=method)
    refit = KerasMLPClassifier(
        hidden_layer_sizes=(32,), epochs=2, learning_rate=0.02, random_state=5
    ).fit(X, y)
    # Same architecture: the cached analyzer gets the refitted weights ...
    reused = compute_relevance(refit.model_, X[:20], method=method)
    # ... and explicit default arguments force a freshly built analyzer.
    fresh = compute_relevance(refit.model_, X[:20], method=method, **same_as_default)
    np.testing.assert_allclose(reused, fresh, rtol=1e-5, atol=1e-6)
    assert not np.allclose(reused, compute_relevance(clf.model_, X[:20], method=method))


def test_sigmoid_output_explains_class_zero_by_the_negated_logit():
    inputs = tf.keras.Input(shape=(4,), name="x")
    hidden = tf.keras.layers.Dense(5, activation="relu", name="h")(inputs)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid", name="out")(hidden)
    model = tf.keras.Model(inputs, outputs)
    X = np.random.RandomState(3).randn(10, 4).astype(np.float32)
    one = compute_relevance(model, X, method="gradient", target=1)
    zero = compute_relevance(model, X, method="gradient", target=0)
    np.testing.assert_allclose(zero, -one, rtol=1e-6)
    predicted = compute_relevance(model, X, method="gradient")
    positive = model(X).numpy().ravel() > 0.5
    np.testing.assert_allclose(predicted[positive], one[positive])
    np.testing.assert_allclose(predicted[~positive], zero[~positive])


def test_every_listed_analyzer_runs(informative):
    X, _, clf = informative
    for method in ("deep_taylor", "lrp.z", "lrp.epsilon", "lrp.alpha_1_beta_0",
                   "gradient", "integrated_gradients", "input_t_gradient", "smoothgrad"):
        assert method in ANALYZERS
        relevance = compute_relevance(clf.model_, X[:4], method=method)
        assert relevance.shape == (4, 12)
        assert np.isfinite(relevance).all() and np.abs(relevance).sum() > 0, method


def test_caller_stays_eager_and_keras_models_keep_working(informative):
    X, _, clf = informative
    before = tf.keras.Sequential(
        [tf.keras.Input(shape=(12,)), tf.keras.layers.Dense(3, name="user_dense")]
    )
    before_out = before(X[:5]).numpy()
    proba = clf.predict_proba(X)
    model_out = clf.model_.predict(X[:5], verbose=0)

    compute_relevance(clf.model_, X, method="deep_taylor")

    assert tf.executing_eagerly()
    np.testing.assert_array_equal(before(X[:5]).numpy(), before_out)
    np.testing.assert_array_equal(before.predict(X[:5], verbose=0), before_out)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    np.testing.assert_array_equal(clf.model_.predict(X[:5], verbose=0), model_out)
    after = tf.keras.Sequential(
        [tf.keras.Input(shape=(12,)), tf.keras.layers.Dense(2, name="user_dense")]
    )
    assert after.predict(X[:5], verbose=0).shape == (5, 2)
    after.compile(optimizer="adam", loss="mse")
    after.fit(X[:20], np.zeros((20, 2)), epochs=1, verbose=0)


def test_worker_is_replaced_after_it_dies(informative):
    X, _, clf = informative
    expected = compute_relevance(clf.model_, X[:8])
    pid = _submit(_relevance_worker.worker_pid)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    np.testing.assert_allclose(compute_relevance(clf.model_, X[:8]), expected, rtol=1e-5)
    assert _submit(_relevance_worker.worker_pid) != pid


def test_unknown_method_lists_valid_names(informative):
    _, _, clf = informative
    message = r"Unknown relevance method 'taylor'. Valid methods are: deep_taylor, .*lrp\.z, "
    with pytest.raises(ValueError, match=message):
        compute_relevance(clf.model_, np.zeros((2, 12)), method="taylor")


def test_bad_targets_and_shapes_are_named(informative):
    _, _, clf = informative
    X = np.zeros((3, 12), dtype=np.float32)
    with pytest.raises(ValueError, match=r"class index 2 \(sample 1\).*2 classes"):
        compute_relevance(clf.model_, X, target=[0, 2, 1])
    with pytest.raises(ValueError, match="one class index per sample"):
        compute_relevance(clf.model_, X, target=[0, 1])
    with pytest.raises(ValueError, match=r"X has shape \(3, 5\).*\(n_samples, 12\)"):
        compute_relevance(clf.model_, np.zeros((3, 5)))
    with pytest.raises(TypeError, match="tf.keras Model"):
        compute_relevance(clf, X)


def test_unanalysable_model_names_the_layer():
    inputs = tf.keras.Input(shape=(4,), name="x")
    hidden = tf.keras.layers.Dense(5, activation="tanh", name="tanh_hidden")(inputs)
    outputs = tf.keras.layers.Dense(2, activation="softmax", name="out")(hidden)
    model = tf.keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=r"'deep_taylor' cannot analyse layer\(s\) 'tanh_hidden'"):
        compute_relevance(model, np.ones((2, 4)), method="deep_taylor")

    conv_in = tf.keras.Input(shape=(6, 1), name="signal")
    conv_out = tf.keras.layers.Conv1D(2, 6, activation="softmax", name="conv_out")(conv_in)
    with pytest.raises(ValueError, match="output layer 'conv_out' is a Conv1D"):
        compute_relevance(tf.keras.Model(conv_in, conv_out), np.ones((2, 6, 1)))


def test_importing_the_package_does_not_import_tensorflow():
    code = (
        "import sys, sklearn_rbfm; sklearn_rbfm.KerasMLPClassifier; "
        "sklearn_rbfm.RelevanceMasker; import sklearn_rbfm._relevance; "
        "import sklearn_rbfm.explain, sklearn_rbfm.explain._pipeline_model; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
        "assert 'innvestigate' not in sys.modules, 'innvestigate imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_worker_module_imports_nothing_from_the_package():
    # no import cycle between the engine and its worker: the worker module
    # loads alone, without sklearn_rbfm._relevance
    code = (
        "import sys, sklearn_rbfm._relevance_worker as w; "
        "assert 'sklearn_rbfm._relevance' not in sys.modules; "
        "assert 'deep_taylor' in w.ANALYZERS and 'smoothgrad' not in w.REUSABLE"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

