"""KerasMLPClassifier: the paper's base model."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import recall_score

pytest.importorskip("tensorflow")

from sklearn_rbfm import KerasMLPClassifier  # noqa: E402

SMALL = dict(hidden_layer_sizes=(16,), epochs=20, learning_rate=0.02, random_state=0)


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    labels = np.array(["cat", "dog", "eel"])[y]
    return X, labels, KerasMLPClassifier(**SMALL).fit(X, labels)


def test_multiclass_fit_predict(multiclass):
    X, y, clf = multiclass
    assert clf.classes_.tolist() == ["cat", "dog", "eel"]
    assert clf.score(X, y) > 0.85
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    scores = clf.decision_function(X)
    assert scores.shape == (300, 3)
    np.testing.assert_array_equal(clf.classes_[scores.argmax(axis=1)], clf.predict(X))


def test_binary_decision_function_is_the_log_odds():
    X, y = make_classification(n_samples=200, n_features=6, random_state=1)
    clf = KerasMLPClassifier(**SMALL).fit(X, y)
    proba = clf.predict_proba(X)
    scores = clf.decision_function(X)
    assert scores.shape == (200,)
    np.testing.assert_allclose(scores, np.log(proba[:, 1] / proba[:, 0]), rtol=1e-6, atol=1e-8)
    assert clf.score(X, y) > 0.85


def test_network_is_analysable(multiclass):
    _, _, clf = multiclass
    names = [layer.name for layer in clf.model_.layers]
    assert names == ["input", "hidden_1", "output"]
    assert clf.model_.get_layer("output").get_config()["activation"] == "softmax"
    assert clf.model_.get_layer("hidden_1").get_config()["activation"] == "relu"
    deep = KerasMLPClassifier(hidden_layer_sizes=(4, 3), epochs=1).fit(*multiclass[:2])
    assert [layer.name for layer in deep.model_.layers] == [
        "input", "hidden_1", "hidden_2", "output"
    ]


def test_predictions_match_the_keras_model(multiclass):
    X, _, clf = multiclass
    np.testing.assert_allclose(
        clf.predict_proba(X), clf.model_.predict(X, verbose=0), rtol=1e-4, atol=1e-6
    )


def test_balanced_class_weight_helps_the_minority_class():
    X, y = make_classification(
        n_samples=600, n_features=6, weights=[0.9, 0.1], flip_y=0.05,
        class_sep=0.5, random_state=0,
    )
    balanced = KerasMLPClassifier(**SMALL).fit(X, y)
    plain = KerasMLPClassifier(**SMALL, class_weight=None).fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.1


def test_random_state_repeats_and_round_trips(multiclass, tmp_path):
    X, y, clf = multiclass
    again = clone(clf).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "mlp.joblib")
    loaded = joblib.load(tmp_path / "mlp.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    other = KerasMLPClassifier(**{**SMALL, "random_state": 1}).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), clf.predict_proba(X))


def test_early_stopping_records_validation_loss():
    X, y = make_classification(n_samples=200, n_features=5, random_state=2)
    clf = KerasMLPClassifier(
        hidden_layer_sizes=(8,), epochs=200, learning_rate=0.05,
        validation_fraction=0.2, random_state=0,
    ).fit(X, y)
    assert "val_loss" in clf.history_
    assert len(clf.history_["loss"]) < 200


def test_bad_inputs_are_explained():
    X = np.random.RandomState(0).randn(10, 3)
    with pytest.raises(ValueError, match="only one class is present"):
        KerasMLPClassifier(epochs=1).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match=r"class_weight names classes \[7\]"):
        KerasMLPClassifier(epochs=1, class_weight={0: 1.0, 7: 2.0}).fit(X, [0, 1] * 5)
    with pytest.raises(ValueError, match="hidden_layer_sizes must list at least one"):
        KerasMLPClassifier(hidden_layer_sizes=(), epochs=1).fit(X, [0, 1] * 5)
    with pytest.raises(ValueError, match="learning_rate"):
        KerasMLPClassifier(learning_rate=0).fit(X, [0, 1] * 5)


def test_alpha_is_an_l2_penalty_that_shrinks_the_weights():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    common = dict(hidden_layer_sizes=(16,), epochs=30, learning_rate=0.02,
                  early_stopping=False, random_state=0)
    plain = KerasMLPClassifier(**common).fit(X, y)
    decayed = KerasMLPClassifier(alpha=0.1, **common).fit(X, y)
    layer = decayed.model_.get_layer("hidden_1")
    assert layer.kernel_regularizer.get_config()["l2"] == pytest.approx(0.1)
    assert plain.model_.get_layer("hidden_1").kernel_regularizer is None
    norm = [np.linalg.norm(m.model_.get_layer("hidden_1").get_weights()[0])
            for m in (plain, decayed)]
    assert norm[1] < 0.7 * norm[0]
    # the float64 NumPy forward pass still matches Keras' own
    np.testing.assert_allclose(decayed.predict_proba(X),
                               decayed.model_(X.astype(np.float32)).numpy(), atol=1e-5)


def test_strings_are_refused_naming_the_cell():
    X = np.zeros((6, 3), dtype=object)
    X[4, 1] = "n/a"
    with pytest.raises(ValueError, match=r"row 4, column 1 holds 'n/a'"):
        KerasMLPClassifier(epochs=1).fit(X, [0, 1] * 3)


def test_wide_network_adds_a_linear_path_the_relevance_engine_explains():
    from sklearn_rbfm.explain import compute_relevance

    X, y = make_classification(n_samples=200, n_features=6, random_state=3)
    clf = KerasMLPClassifier(**SMALL, wide=True).fit(X, y)
    assert [layer.name for layer in clf.model_.layers] == [
        "input", "hidden_1", "wide", "output"]
    assert clf.model_.get_layer("output").get_weights()[0].shape == (16 + 6, 2)
    np.testing.assert_allclose(
        clf.predict_proba(X), clf.model_(X.astype(np.float32)).numpy(), atol=1e-5)
    assert clf.score(X, y) > 0.85
    relevance = compute_relevance(clf.model_, X.astype(np.float32), method="deep_taylor")
    assert relevance.shape == X.shape and np.abs(relevance).sum() > 0
    # with the hidden path switched off, the logit is the linear path alone:
    # LRP-z then gives each feature exactly its term of the linear model
    hidden, output = clf.model_.get_layer("hidden_1"), clf.model_.get_layer("output")
    hidden.set_weights([np.zeros_like(w) for w in hidden.get_weights()])
    kernel, bias = output.get_weights()
    output.set_weights([kernel, np.zeros_like(bias)])
    relevance = compute_relevance(clf.model_, X.astype(np.float32), method="lrp.z", target=1)
    np.testing.assert_allclose(relevance, X * kernel[16:, 1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(clf.decision_function(X),
                               X @ (kernel[16:, 1] - kernel[16:, 0]), rtol=1e-5, atol=1e-6)

