"""``random_state`` controls Keras' randomness whatever the user seeded before."""

import numpy as np

from sklearn_rbfm import KerasMLPClassifier
from sklearn_rbfm._keras import import_tensorflow, seeded


def _weights(random_state):
    X = np.random.RandomState(0).rand(40, 6).astype(np.float32)
    clf = KerasMLPClassifier(hidden_layer_sizes=(8,), epochs=2,
                             random_state=random_state)
    clf.fit(X, np.arange(40) % 2)
    return clf.model_.get_weights()


def _assert_same(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_random_state_repeats_after_keras_set_random_seed():
    tf = import_tensorflow()
    from keras.src import backend as keras_backend

    before = _weights(0)
    tf.keras.utils.set_random_seed(123)
    try:
        users = keras_backend._SEED_GENERATOR.generator
        # the user's seed must not decide the network: both fits start alike,
        # and alike to the fit made before any seed was set
        first, second = _weights(0), _weights(0)
        _assert_same(first, second)
        _assert_same(first, before)
        assert not np.allclose(_weights(1)[0], first[0])
        # the user's generator is handed back, where it was
        assert keras_backend._SEED_GENERATOR.generator is users
    finally:
        keras_backend._SEED_GENERATOR.generator = None
        tf.random.set_seed(None)


def test_seeded_leaves_no_keras_generator_behind():
    import_tensorflow()
    from keras.src import backend as keras_backend

    with seeded(7):
        pass
    assert getattr(keras_backend._SEED_GENERATOR, "generator", None) is None
