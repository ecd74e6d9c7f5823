import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_rbfm import KerasCNNClassifier
from sklearn_rbfm.explain import perturbation_curve, relevance_maps

from .test_cnn_classifier import blobs, tones


@pytest.fixture(scope="module")
def spectrogram_net():
    X, y = blobs(n=120)
    clf = KerasCNNClassifier("alexnet", spectrogram_shape=(8, 8), width=0.1,
                             epochs=20, batch_size=16, learning_rate=0.005,
                             early_stopping=False, random_state=0).fit(X, y)
    return clf, X, y


def test_spectrogram_relevance_lies_on_the_informative_patch(spectrogram_net):
    clf, X, y = spectrogram_net
    R = relevance_maps(clf, X[:20], method="deep_taylor")
    assert R.shape == (20, 8, 8)
    assert R.dtype == np.float32
    low = np.zeros((8, 8), dtype=bool)
    low[1:3, 2:6] = True
    high = np.zeros((8, 8), dtype=bool)
    high[5:7, 2:6] = True
    patches = low | high
    share = np.abs(R)[:, patches].sum(axis=1) / np.abs(R).reshape(20, -1).sum(axis=1)
    # the two patches are 25% of the bins but hold most of the relevance
    assert share.mean() > 0.6


def test_3d_input_target_labels_and_pipelines(spectrogram_net):
    clf, X, y = spectrogram_net
    flat = relevance_maps(clf, X[:6], method="gradient", target=1)
    cube = relevance_maps(clf, X[:6].reshape(6, 8, 8), method="gradient", target=1)
    np.testing.assert_allclose(flat, cube)
    per_sample = relevance_maps(clf, X[:6], method="gradient",
                                target=np.ones(6, dtype=int))
    np.testing.assert_allclose(per_sample, flat)
    other = relevance_maps(clf, X[:6], method="gradient", target=0)
    assert not np.allclose(other, flat)
    # a pipeline explains the input of its last step
    identity = FunctionTransformer(lambda Z: Z * 1.0)
    pipe = make_pipeline(identity, clf)
    np.testing.assert_allclose(
        relevance_maps(pipe, X[:6], method="gradient", target=1), flat, rtol=1e-5
    )


def test_waveform_relevance_has_the_waveform_shape():
    X, y = tones(n=40, n_samples=128)
    clf = KerasCNNClassifier("audionet", width=0.05, epochs=3, batch_size=16,
                             early_stopping=False, random_state=0).fit(X, y)
    R = relevance_maps(clf, X[:5], method="lrp.epsilon")
    assert R.shape == (5, 128)
    assert np.isfinite(R).all() and np.abs(R).sum() > 0


def test_relevance_order_beats_random_order(spectrogram_net):
    clf, X, y = spectrogram_net
    Xt, yt = blobs(n=40, seed=5)
    R = relevance_maps(clf, Xt, method="deep_taylor")
    result = perturbation_curve(clf, Xt, yt, R, steps=8, max_fraction=0.5,
                                random_state=0)
    assert result.aopc > result.random_aopc + 0.1
    assert result.scores[-1] < result.random_scores[-1]


def test_errors(spectrogram_net):
    clf, X, _ = spectrogram_net
    with pytest.raises(ValueError, match="Unknown relevance method 'lrp.bogus'"):
        relevance_maps(clf, X[:2], method="lrp.bogus")
    with pytest.raises(ValueError, match="target label 7 is not a class"):
        relevance_maps(clf, X[:2], target=7)
    with pytest.raises(ValueError, match="fitted on 64 features"):
        relevance_maps(clf, X[:2, :10])
    with pytest.raises(TypeError, match="no Keras network"):
        from sklearn.linear_model import LogisticRegression

        relevance_maps(LogisticRegression().fit(X, np.arange(len(X)) % 2), X[:2])


def test_batch_normalisation_is_native_only(spectrogram_net):
    import tensorflow as tf

    clf, X, _ = spectrogram_net
    inputs = tf.keras.Input(shape=(64,), name="input")
    hidden = tf.keras.layers.Dense(4, name="d")(inputs)
    hidden = tf.keras.layers.BatchNormalization(name="bn")(hidden)
    outputs = tf.keras.layers.Dense(2, activation="softmax", name="output")(hidden)
    odd = KerasCNNClassifier()
    odd.__dict__.update(clf.__dict__)
    odd.model_ = tf.keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=r"Layer 'bn' \(BatchNormalization\).*engine='native'"):
        relevance_maps(odd, X[:2], engine="innvestigate")
    R = relevance_maps(odd, X[:2], method="lrp.z")
    assert R.shape == (2, 8, 8) and np.isfinite(R).all()


def test_target_none_is_the_estimators_prediction(spectrogram_net):
    clf, X, _ = spectrogram_net
    predicted = clf.predict(X[:10])
    per_label = relevance_maps(clf, X[:10], method="lrp.epsilon", target=predicted)
    np.testing.assert_allclose(relevance_maps(clf, X[:10], method="lrp.epsilon"), per_label)


@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "an infinite value")])
def test_non_finite_inputs_are_named(spectrogram_net, bad, kind):
    clf, X, _ = spectrogram_net
    X = X[:5].copy()
    X[3, 17] = bad
    with pytest.raises(ValueError, match=f"X holds {kind} at sample 3, column 17"):
        relevance_maps(clf, X)
    # a transformer that makes a non-finite value is named too
    pipe = make_pipeline(FunctionTransformer(lambda Z: np.where(Z > 0, np.nan, Z)), clf)
    with pytest.raises(ValueError, match="the input of KerasCNNClassifier holds NaN at sample 0"):
        relevance_maps(pipe, np.abs(X[:2]) * 0 + 0.01)


def test_relevance_through_a_cnn_embedder_and_a_dense_head():
    import tensorflow as tf
    from sklearn.preprocessing import StandardScaler

    from sklearn_rbfm import CNNEmbedder, KerasMLPClassifier

    X, y = blobs(n=60)
    X = X.reshape(60, 8, 8)
    pipe = make_pipeline(
        CNNEmbedder("small_cnn", weights=None, random_state=0),
        StandardScaler(),
        KerasMLPClassifier((8,), epochs=30, learning_rate=0.01, random_state=0),
    ).fit(X, y)
    R = relevance_maps(pipe, X[:6], method="deep_taylor")
    assert R.shape == (6, 8, 8) and (R >= -1e-5).all() and (R.sum(axis=(1, 2)) > 0).all()
    # the joined network computes the pipeline's decision ...
    from sklearn_rbfm.explain._pipeline_model import joined_model

    model, flat, shape = joined_model(pipe, 0, X[:2])
    assert shape == (8, 8)
    np.testing.assert_allclose(model.predict(flat, verbose=0), pipe.predict_proba(X[:2]),
                               rtol=1e-4, atol=1e-5)
    # ... and its gradient is that of the pipeline: the log-odds
    # log(p1 / p0) = z1 - z0, by central differences on one bin
    G = relevance_maps(pipe, X[:2], method="gradient", target=1) - relevance_maps(
        pipe, X[:2], method="gradient", target=0)

    def log_odds(Z):
        proba = pipe.predict_proba(Z.reshape(2, 8, 8)).astype(np.float64)
        return np.log(proba[:, 1] / proba[:, 0])

    # every bin: with 64-128-384 ReLU units and max pools, a step of 1e-3
    # crosses a kink in some bins, so the check is on all of them together
    diffs = []
    for column in range(flat.shape[1]):
        step = np.zeros_like(flat)
        step[:, column] = 1e-3
        diffs.append((log_odds(flat + step) - log_odds(flat - step)) / 2e-3)
    diffs, grads = np.array(diffs).T, G.reshape(2, -1)
    assert np.corrcoef(grads.ravel(), diffs.ravel())[0, 1] > 0.999
    assert np.median(np.abs(grads - diffs) / np.abs(grads)) < 0.01
    assert np.isclose(grads, diffs, rtol=0.03, atol=1e-3).mean() > 0.7


def test_spectrogram_display_from_estimator(spectrogram_net):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_rbfm.plotting import SpectrogramExplanationDisplay

    clf, X, y = spectrogram_net
    disp = SpectrogramExplanationDisplay.from_estimator(
        clf, X, index=3, method="lrp.epsilon", sr=8000, hop_length=64)
    expected = relevance_maps(clf, X[3:4], method="lrp.epsilon")[0]
    np.testing.assert_allclose(disp.relevance, expected)
    np.testing.assert_allclose(disp.spectrogram, X[3].reshape(8, 8))
    assert [ax.get_title() for ax in disp.axes_] == ["Spectrogram", "Relevance"]


@pytest.mark.slow
def test_relevance_through_vggish_patches():
    from sklearn_rbfm import CNNEmbedder, KerasMLPClassifier
    from sklearn_rbfm.explain._pipeline_model import joined_model

    rng = np.random.RandomState(0)
    # 130 frames: two 96-frame patches, the second padded with silence
    X = (rng.rand(12, 64, 130) * 3 - 8).astype(np.float32)
    y = np.arange(12) % 2
    pipe = make_pipeline(
        CNNEmbedder("vggish", weights=None, random_state=0),
        KerasMLPClassifier((8,), epochs=2, random_state=0),
    ).fit(X, y)
    model, flat, shape = joined_model(pipe, 0, X[:2])
    assert shape == (64, 130)
    np.testing.assert_allclose(model.predict(flat, verbose=0), pipe.predict_proba(X[:2]),
                               rtol=1e-4, atol=1e-6)
    R = relevance_maps(pipe, X[:2], method="lrp.epsilon")
    assert R.shape == (2, 64, 130) and np.isfinite(R).all()
    assert (np.abs(R[:, :, 96:]).sum(axis=(1, 2)) > 0).all()


@pytest.mark.slow
def test_relevance_through_inception_v3():
    from sklearn_rbfm import CNNEmbedder, KerasMLPClassifier
    from sklearn_rbfm.explain._pipeline_model import joined_model

    rng = np.random.RandomState(0)
    X = rng.rand(8, 32, 40).astype(np.float32)
    y = np.arange(8) % 2
    pipe = make_pipeline(
        CNNEmbedder("inception_v3", weights=None, input_size=(75, 75), random_state=0),
        KerasMLPClassifier((8,), epochs=2, random_state=0),
    ).fit(X, y)
    model, flat, _ = joined_model(pipe, 0, X[:2])
    np.testing.assert_allclose(model.predict(flat, verbose=0), pipe.predict_proba(X[:2]),
                               rtol=1e-4, atol=1e-6)
    R = relevance_maps(pipe, X[:2], method="deep_taylor")
    assert R.shape == (2, 32, 40) and np.isfinite(R).all() and (R.sum(axis=(1, 2)) > 0).all()
