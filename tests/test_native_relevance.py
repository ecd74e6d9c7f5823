"""The native relevance engine: equal to iNNvestigate where both apply, sound elsewhere."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_classification

tf = pytest.importorskip("tensorflow")

from sklearn_rbfm import KerasMLPClassifier  # noqa: E402
from sklearn_rbfm.explain import compute_relevance  # noqa: E402

layers = tf.keras.layers

# method -> arguments; every method both engines implement deterministically
SHARED = {
    "deep_taylor": {},
    "deep_taylor.bounded": {"low": -3.0, "high": 3.0},
    "lrp.z": {},
    "lrp.epsilon": {"epsilon": 0.1},
    "lrp.alpha_1_beta_0": {},
    "lrp.alpha_2_beta_1": {},
    "lrp.z_plus": {},
    "lrp.w_square": {},
    "gradient": {},
    "input_t_gradient": {},
    "integrated_gradients": {"steps": 6},
}


def _seeded(model, seed):
    rng = np.random.RandomState(seed)
    model.set_weights([rng.randn(*w.shape).astype("float32") * 0.5 for w in model.get_weights()])
    return model


def _dense_net():
    inputs = tf.keras.Input(shape=(10,), name="x")
    hidden = layers.Dense(16, activation="relu", name="h1")(inputs)
    hidden = layers.Dense(8, name="h2")(hidden)
    hidden = layers.Activation("relu", name="relu2")(hidden)
    outputs = layers.Dense(3, activation="softmax", name="out")(hidden)
    return _seeded(tf.keras.Model(inputs, outputs), 0)


def _conv_net():
    inputs = tf.keras.Input(shape=(8, 8, 1), name="x")
    hidden = layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    hidden = layers.MaxPooling2D(2, name="p1")(hidden)
    hidden = layers.Conv2D(6, 3, activation="relu", name="c2")(hidden)
    hidden = layers.Flatten(name="flat")(hidden)
    hidden = layers.Dropout(0.3, name="drop")(hidden)
    outputs = layers.Dense(3, activation="softmax", name="out")(hidden)
    return _seeded(tf.keras.Model(inputs, outputs), 1)


def _sigmoid_net():
    inputs = tf.keras.Input(shape=(5,), name="x")
    hidden = layers.Dense(7, activation="relu", name="h")(inputs)
    outputs = layers.Dense(1, activation="sigmoid", name="out")(hidden)
    return _seeded(tf.keras.Model(inputs, outputs), 2)


@pytest.fixture(scope="module")
def innvestigate_engine():
    """Shuts the reference worker down after the module: one start in all."""
    from sklearn_rbfm._relevance import shutdown_worker

    yield
    shutdown_worker()


@pytest.mark.parametrize(
    "build, shape, methods",
    [
        (_dense_net, (10,), list(SHARED)),
        (_conv_net, (8, 8, 1), ["deep_taylor", "lrp.z", "lrp.epsilon",
                                "lrp.alpha_2_beta_1", "gradient", "integrated_gradients"]),
        (_sigmoid_net, (5,), ["deep_taylor", "lrp.z", "lrp.alpha_1_beta_0", "gradient"]),
    ],
    ids=["dense", "conv-flatten", "sigmoid"],
)
@pytest.mark.slow
def test_equal_to_innvestigate(innvestigate_engine, build, shape, methods):
    model = build()
    X = np.random.RandomState(3).randn(6, *shape).astype(np.float32)
    targets = (None, 1, np.array([0, 1, 2, 0, 1, 2]) % (2 if shape == (5,) else 3))
    for method in methods:
        kwargs = SHARED[method]
        native, reference = [], []
        for target in targets:
            native.append(compute_relevance(model, X, method, target=target, **kwargs))
            reference.append(compute_relevance(
                model, X, method, target=target, engine="innvestigate", **kwargs
            ))
        # relative to the largest relevance of the method over all targets
        scale = np.abs(reference).max()
        assert scale > 0, method
        np.testing.assert_allclose(native, reference, rtol=0, atol=1e-4 * scale,
                                   err_msg=method)


def _deep_taylor_reference(X, k_conv, w1, w2, target):
    """Deep Taylor by hand: Conv1D(k=1, ReLU) -> GAP -> Dense(ReLU) -> Dense."""

    def z_plus(a, w, R):
        # R_i = sum_j a_i w_ij^+ / sum_i a_i w_ij^+ * R_j, for a >= 0
        contrib = a[:, None] * np.maximum(w, 0)
        total = contrib.sum(axis=0)
        return (contrib / np.where(total == 0, 1e-7, total) * R).sum(axis=1)

    out = []
    for x in X:
        conv = np.maximum(x @ k_conv, 0)  # (length, filters)
        pooled = conv.mean(axis=0)
        hidden = np.maximum(pooled @ w1, 0)
        logits = hidden @ w2
        R = np.zeros_like(logits)
        R[target] = max(logits[target], 0)
        R_hidden = z_plus(hidden, w2, R)
        R_pooled = z_plus(pooled, w1, R_hidden)
        # average pooling: in proportion to each position's share
        R_conv = conv / (conv.sum(axis=0) + 1e-30) * R_pooled
        # the input layer (x may be negative): positive contributions only
        R_x = np.zeros_like(x)
        for t in range(len(x)):
            pos_in, neg_in = np.maximum(x[t], 0), np.minimum(x[t], 0)
            act = pos_in[:, None] * np.maximum(k_conv, 0) + neg_in[:, None] * np.minimum(k_conv, 0)
            total = act.sum(axis=0)
            R_x[t] = (act / np.where(total == 0, 1e-7, total) * R_conv[t]).sum(axis=1)
        out.append(R_x)
    return np.array(out)


def test_deep_taylor_after_global_average_pooling_matches_hand_computation():
    inputs = tf.keras.Input(shape=(5, 2), name="x")
    hidden = layers.Conv1D(3, 1, activation="relu", use_bias=False, name="conv")(inputs)
    hidden = layers.GlobalAveragePooling1D(name="gap")(hidden)
    hidden = layers.Dense(4, activation="relu", use_bias=False, name="h")(hidden)
    outputs = layers.Dense(2, use_bias=False, name="out")(hidden)
    model = _seeded(tf.keras.Model(inputs, outputs), 4)
    X = np.random.RandomState(5).randn(4, 5, 2).astype(np.float32)
    k_conv, w1, w2 = (w.astype(np.float64) for w in model.get_weights())
    R = compute_relevance(model, X, "deep_taylor", target=1)
    expected = _deep_taylor_reference(X.astype(np.float64), k_conv[0], w1, w2, 1)
    assert np.abs(expected).sum() > 0
    np.testing.assert_allclose(R, expected, rtol=1e-4, atol=1e-5)


def test_input_layer_rules_match_hand_computation():
    inputs = tf.keras.Input(shape=(4,), name="x")
    hidden = layers.Dense(5, activation="relu", use_bias=False, name="h")(inputs)
    outputs = layers.Dense(2, use_bias=False, name="out")(hidden)
    model = _seeded(tf.keras.Model(inputs, outputs), 12)
    w1, w2 = (w.astype(np.float64) for w in model.get_weights())
    X = np.random.RandomState(13).randn(6, 4)
    h = np.maximum(X @ w1, 0)
    logit = h @ w2[:, 1]
    # z+ at the hidden layer (h >= 0), from max(logit, 0)
    contrib = h * np.maximum(w2[:, 1], 0)
    R_hidden = contrib / contrib.sum(axis=1, keepdims=True) * np.maximum(logit, 0)[:, None]
    # w^2 at the input: R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j
    expected = R_hidden @ (w1**2 / (w1**2).sum(axis=0)).T
    R = compute_relevance(model, X, "deep_taylor", target=1, input_layer_rule="w_square")
    np.testing.assert_allclose(R, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(R.sum(axis=1), np.maximum(logit, 0), rtol=1e-4, atol=1e-6)
    # bounded z^B on [-3, 3]: R_i = (x_i w_ij - l w_ij^+ - h w_ij^-) / z_j * R_j
    low, high = -3.0, 3.0
    parts = (X[:, :, None] * w1 - low * np.maximum(w1, 0) - high * np.minimum(w1, 0))
    expected = (parts / parts.sum(axis=1, keepdims=True) * R_hidden[:, None, :]).sum(axis=2)
    R = compute_relevance(model, X, "deep_taylor.bounded", target=1, low=low, high=high)
    np.testing.assert_allclose(R, expected, rtol=1e-4, atol=1e-6)


def test_batch_normalisation_after_dense_is_folded():
    inputs = tf.keras.Input(shape=(6,), name="x")
    hidden = layers.Dense(5, name="d")(inputs)
    hidden = layers.BatchNormalization(name="bn")(hidden)
    hidden = layers.Activation("relu", name="r")(hidden)
    outputs = layers.Dense(3, name="out")(hidden)
    model = tf.keras.Model(inputs, outputs)
    rng = np.random.RandomState(6)
    # every weight drawn here: Keras' initialisers follow the global random
    # state, which the tests run before this one move
    for name in ("d", "out"):
        model.get_layer(name).set_weights(
            [rng.randn(*w.shape) for w in model.get_layer(name).get_weights()]
        )
    model.get_layer("bn").set_weights(
        [rng.rand(5) + 0.5, rng.randn(5), rng.randn(5), rng.rand(5) + 0.2]
    )
    X = rng.randn(8, 6).astype(np.float32)
    # the same network with the normalisation folded into the Dense by hand
    gamma, beta, mean, var = model.get_layer("bn").get_weights()
    kernel, bias = model.get_layer("d").get_weights()
    scale = gamma / np.sqrt(var + model.get_layer("bn").epsilon)
    folded_in = tf.keras.Input(shape=(6,), name="x")
    folded_hidden = layers.Dense(5, activation="relu", name="d")(folded_in)
    folded = tf.keras.Model(folded_in, layers.Dense(3, name="out")(folded_hidden))
    folded.set_weights(
        [kernel * scale, (bias - mean) * scale + beta, *model.get_layer("out").get_weights()]
    )
    np.testing.assert_allclose(folded(X).numpy(), model(X).numpy(), rtol=1e-5, atol=1e-5)
    for method in ("lrp.z", "lrp.epsilon", "deep_taylor", "lrp.alpha_2_beta_1"):
        np.testing.assert_allclose(
            compute_relevance(model, X, method, target=2),
            compute_relevance(folded, X, method, target=2),
            rtol=1e-4, atol=1e-5, err_msg=method,
        )


def _inception_like(residual_scale=0.2, seed=7):
    """Branches of Conv-BN-ReLU joined by Concatenate, a scaled residual, GAP."""

    def conv_bn(x, filters, size, name):
        x = layers.Conv2D(filters, size, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(scale=False, center=False, name=f"{name}_bn")(x)
        return layers.Activation("relu", name=f"{name}_relu")(x)

    inputs = tf.keras.Input(shape=(12, 12, 2), name="x")
    stem = conv_bn(inputs, 4, 3, "stem")
    branch1 = conv_bn(stem, 3, 1, "b1")
    branch2 = conv_bn(conv_bn(stem, 2, 1, "b2a"), 3, 3, "b2b")
    branch3 = layers.AveragePooling2D(3, strides=1, padding="same", name="b3_pool")(stem)
    branch3 = conv_bn(branch3, 2, 1, "b3")
    mixed = layers.Concatenate(name="mixed")([branch1, branch2, branch3])
    up = layers.Conv2D(8, 1, use_bias=False, name="up")(conv_bn(mixed, 8, 1, "res"))
    mixed = layers.Lambda(
        lambda ab, scale: ab[0] + ab[1] * scale, arguments={"scale": residual_scale},
        name="scaled_residual",
    )([mixed, up])
    mixed = layers.Add(name="add")([mixed, layers.MaxPooling2D(1, name="id_pool")(mixed)])
    mixed = layers.Activation("relu", name="mixed_relu")(mixed)
    pooled = layers.GlobalAveragePooling2D(name="gap")(mixed)
    outputs = layers.Dense(4, use_bias=False, activation="softmax", name="out")(pooled)
    model = tf.keras.Model(inputs, outputs)
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            # zero means keep the network bias-free, so LRP-z conserves
            n = layer.moving_variance.shape[0]
            layer.set_weights([np.zeros(n), rng.rand(n) + 0.5])
        elif layer.weights:
            layer.set_weights([np.abs(rng.randn(*w.shape)) * 0.5 for w in layer.get_weights()])
    return model


def test_inception_like_network_conserves_the_logit():
    model = _inception_like()
    X = np.random.RandomState(8).rand(3, 12, 12, 2).astype(np.float32)
    out = model.get_layer("out")
    logit_model = tf.keras.Model(model.input, model.get_layer("gap").output)
    z = logit_model.predict(X, verbose=0) @ out.get_weights()[0]
    for target in (0, 3):
        R = compute_relevance(model, X, "lrp.z", target=target)
        np.testing.assert_allclose(R.sum(axis=(1, 2, 3)), z[:, target], rtol=1e-4)
    R = compute_relevance(model, X, "deep_taylor", target=np.array([1, 2, 3]), batch_size=2)
    assert (R >= -1e-6).all() and (R.sum(axis=(1, 2, 3)) > 0).all()
    # gradient methods: the plain autodiff gradient of the chosen logit
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum((logit_model(x) @ out.get_weights()[0])[:, 2])
    np.testing.assert_allclose(
        compute_relevance(model, X, "gradient", target=2), tape.gradient(score, x).numpy(),
        rtol=1e-4, atol=1e-6,
    )


def test_deep_taylor_ranks_planted_inputs_first_and_randomised_weights_differ():
    # every feature has unit variance, only the first three decide the label
    rng = np.random.RandomState(0)
    X = rng.randn(400, 12).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    clf = KerasMLPClassifier(
        hidden_layer_sizes=(32,), epochs=30, learning_rate=0.02, random_state=0
    ).fit(X, y)
    R = compute_relevance(clf.model_, X[:100])
    assert (R >= -1e-6).all()
    trained = np.abs(R).mean(axis=0)
    assert set(np.argsort(-trained)[:3].tolist()) == {0, 1, 2}
    assert trained[:3].sum() / trained.sum() > 0.6
    # Adebayo et al.'s randomisation check: random weights, another map
    model = tf.keras.models.clone_model(clf.model_)
    _seeded(model, 0)
    randomised = np.abs(compute_relevance(model, X[:100])).mean(axis=0)
    assert np.corrcoef(trained, randomised)[0, 1] < 0.5
    assert randomised[:3].sum() / randomised.sum() < 0.45


def test_smoothgrad_is_repeatable_and_tends_to_the_gradient():
    model = _dense_net()
    X = np.random.RandomState(10).randn(4, 10).astype(np.float32)
    a = compute_relevance(model, X, "smoothgrad", target=0, random_state=0, augment_by_n=8)
    b = compute_relevance(model, X, "smoothgrad", target=0, random_state=0, augment_by_n=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, compute_relevance(model, X, "gradient", target=0))
    tiny = compute_relevance(model, X, "smoothgrad", target=0, noise_scale=1e-6, random_state=0)
    np.testing.assert_allclose(tiny, compute_relevance(model, X, "gradient", target=0),
                               rtol=1e-3, atol=1e-5)


def test_batches_give_the_same_relevance():
    model = _conv_net()
    X = np.random.RandomState(11).randn(9, 8, 8, 1).astype(np.float32)
    np.testing.assert_allclose(
        compute_relevance(model, X, "lrp.epsilon", batch_size=4),
        compute_relevance(model, X, "lrp.epsilon", batch_size=256),
        rtol=1e-5, atol=1e-7,
    )


def test_errors_name_the_layer_the_method_and_the_argument():
    inputs = tf.keras.Input(shape=(4,), name="x")
    hidden = layers.Dense(5, activation="tanh", name="tanh_hidden")(inputs)
    outputs = layers.Dense(2, activation="softmax", name="out")(hidden)
    model = tf.keras.Model(inputs, outputs)
    X = np.ones((2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"'deep_taylor' cannot analyse layer\(s\) 'tanh_hidden'"):
        compute_relevance(model, X)
    # LRP passes relevance through a tanh, as iNNvestigate does
    assert np.isfinite(compute_relevance(model, X, "lrp.z")).all()

    multiplied = layers.Multiply(name="gate")([inputs, inputs])
    gated = tf.keras.Model(inputs, layers.Dense(2, name="out")(multiplied))
    message = r"'lrp.epsilon' cannot analyse layer\(s\) 'gate' \(Multiply\)"
    with pytest.raises(ValueError, match=message):
        compute_relevance(gated, X, "lrp.epsilon")
    assert compute_relevance(gated, X, "gradient").shape == (2, 4)

    message = "Unknown relevance method 'guided_backprop'.*engine='innvestigate'"
    with pytest.raises(ValueError, match=message):
        compute_relevance(model, X, "guided_backprop")
    with pytest.raises(ValueError, match="engine must be"):
        compute_relevance(model, X, engine="torch")
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['steps'\]"):
        compute_relevance(model, X, "lrp.z", steps=3)
    with pytest.raises(ValueError, match="needs the input range"):
        compute_relevance(model, X, "deep_taylor.bounded", low=0)
    with pytest.raises(ValueError, match=r"class index 2 \(sample 1\).*2 classes"):
        compute_relevance(model, X, target=[0, 2])
    with pytest.raises(ValueError, match=r"X has shape \(2, 3\)"):
        compute_relevance(model, X[:, :3])
    conv_in = tf.keras.Input(shape=(6, 1), name="signal")
    conv_out = layers.Conv1D(2, 6, activation="softmax", name="conv_out")(conv_in)
    with pytest.raises(ValueError, match="output layer 'conv_out' is a Conv1D"):
        compute_relevance(tf.keras.Model(conv_in, conv_out), np.ones((2, 6, 1)))


@pytest.mark.slow
def test_native_engine_stays_eager_without_innvestigate():
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "from sklearn_rbfm.explain import compute_relevance\n"
        "i = tf.keras.Input((3,)); m = tf.keras.Model(i, tf.keras.layers.Dense(2)(i))\n"
        "compute_relevance(m, np.ones((2, 3)), 'deep_taylor')\n"
        "assert tf.executing_eagerly()\n"
        "assert 'innvestigate' not in sys.modules, 'innvestigate imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
