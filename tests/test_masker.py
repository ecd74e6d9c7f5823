"""RelevanceMasker: relevance-based feature masking as a transformer."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import FeatureUnion, make_pipeline

tf = pytest.importorskip("tensorflow")

from sklearn_rbfm import KerasMLPClassifier, RelevanceMasker  # noqa: E402
from sklearn_rbfm.explain import compute_relevance  # noqa: E402


def _base():
    return KerasMLPClassifier(
        hidden_layer_sizes=(16,), epochs=10, batch_size=32, learning_rate=0.05,
        early_stopping=False, random_state=0,
    )


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=240, n_features=10, n_informative=3, n_redundant=0,
        n_repeated=0, shuffle=False, class_sep=2.0, random_state=0,
    )
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def minimal(data):
    return RelevanceMasker(_base(), n_features=3).fit(*data)


def test_minimal_keeps_the_most_relevant_features(data, minimal):
    X, _ = data
    assert minimal.feature_relevance_.shape == (10,)
    assert np.flatnonzero(minimal.get_support()).tolist() == [0, 1, 2]
    np.testing.assert_array_equal(minimal.transform(X), X[:, :3])
    assert minimal.get_feature_names_out().tolist() == ["x0", "x1", "x2"]
    restored = minimal.inverse_transform(minimal.transform(X))
    np.testing.assert_array_equal(restored[:, :3], X[:, :3])
    assert not restored[:, 3:].any()
    expected = compute_relevance(minimal.estimator_.model_, X).mean(axis=0)
    np.testing.assert_allclose(minimal.feature_relevance_, expected, rtol=1e-5)


@pytest.mark.slow
def test_innvestigate_engine_gives_the_same_mask(data, minimal, capsys):
    from sklearn_rbfm._relevance import shutdown_worker

    X, y = data
    reference = RelevanceMasker(
        minimal.estimator_, prefit=True, n_features=3, engine="innvestigate", verbose=1
    ).fit(X, y)
    shutdown_worker()
    scale = np.abs(minimal.feature_relevance_).max()
    np.testing.assert_allclose(reference.feature_relevance_, minimal.feature_relevance_,
                               rtol=0, atol=1e-4 * scale)
    np.testing.assert_array_equal(reference.get_support(), minimal.get_support())
    assert "relevance" in capsys.readouterr().err


def test_n_features_larger_than_the_input_is_an_error(data):
    message = r"n_features=11 is larger than the number of input features \(10\)"
    with pytest.raises(ValueError, match=message):
        RelevanceMasker(_base(), n_features=11).fit(*data)


def test_fractional_n_features(data, minimal):
    masker = RelevanceMasker(_base(), n_features=0.35).fit(*data)
    assert masker.transform(data[0]).shape == (240, 3)
    np.testing.assert_allclose(masker.feature_relevance_, minimal.feature_relevance_)


def test_negative_zeroes_each_samples_above_mean_features(data):
    X, y = data
    masker = RelevanceMasker(_base(), strategy="negative").fit(X, y)
    X_new = X[:40] + 0.1
    masked = masker.transform(X_new)
    assert masked.shape == X_new.shape and masked.dtype == X_new.dtype
    relevance = compute_relevance(masker.estimator_.model_, X_new)
    above = relevance > relevance.mean(axis=1, keepdims=True)
    np.testing.assert_array_equal(masked, np.where(above, 0, X_new))
    assert above.any(axis=1).all()
    # Masks are per sample, not one column set.
    assert len({row.tobytes() for row in above}) > 1
    assert masker.get_support().all()
    np.testing.assert_array_equal(masker.fit_transform(X, y), masker.transform(X))


def test_out_of_fold_relevances(data):
    X, y = data
    plain = RelevanceMasker(_base(), strategy="negative").fit(X, y)
    oof = RelevanceMasker(_base(), strategy="negative", cv=KFold(3))
    masked_train = oof.fit_transform(X, y)
    np.testing.assert_array_equal(
        oof.estimator_.predict_proba(X), plain.estimator_.predict_proba(X)
    )
    assert not np.allclose(oof.feature_relevance_, plain.feature_relevance_)
    # Training samples are masked with the relevances of models that did not see them.
    assert not np.array_equal(masked_train, oof.transform(X))
    folds = []
    for train, test in KFold(3).split(X):
        fold = clone(_base()).fit(X[train], y[train])
        folds.append((test, compute_relevance(fold.model_, X[test])))
    expected = np.empty_like(X)
    for test, relevance in folds:
        expected[test] = relevance
    np.testing.assert_allclose(oof.feature_relevance_, expected.mean(axis=0), rtol=1e-5)

    groups = np.repeat(np.arange(6), 40)
    grouped = RelevanceMasker(_base(), n_features=3, cv=GroupKFold(2)).fit(X, y, groups=groups)
    assert grouped.get_support().sum() == 3


def test_prefit_uses_the_given_model(data, minimal):
    X, y = data
    base = minimal.estimator_
    masker = RelevanceMasker(base, prefit=True, n_features=3).fit(X, y)
    assert masker.estimator_ is not base
    np.testing.assert_array_equal(masker.estimator_.predict_proba(X), base.predict_proba(X))
    np.testing.assert_allclose(masker.feature_relevance_, minimal.feature_relevance_)
    with pytest.raises(ValueError, match="cv cannot be used with prefit=True"):
        RelevanceMasker(base, prefit=True, cv=3, n_features=3).fit(X, y)


def test_estimator_without_a_keras_model_is_rejected(data):
    message = "exposes its fitted tf.keras model as `model_`.*LogisticRegression"
    with pytest.raises(TypeError, match=message):
        RelevanceMasker(LogisticRegression(), n_features=2).fit(*data)


def test_pipeline_feature_union_and_grid_search(data):
    X, y = data
    union = FeatureUnion(
        [
            ("top", RelevanceMasker(_base(), n_features=2)),
            ("negative", RelevanceMasker(_base(), strategy="negative")),
        ]
    )
    assert union.fit_transform(X, y).shape == (240, 12)
    assert set(union.get_feature_names_out()[:2]) <= {"top__x0", "top__x1", "top__x2"}

    pipe = make_pipeline(RelevanceMasker(_base(), n_features=2), LogisticRegression())
    grid = GridSearchCV(
        pipe,
        [
            {"relevancemasker__strategy": ["minimal"], "relevancemasker__n_features": [1, 3]},
            {"relevancemasker__strategy": ["negative"], "relevancemasker__method": ["gradient"]},
        ],
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 3
    assert grid.score(X, y) > 0.9


def test_pickle_and_pandas_output(data, minimal):
    pd = pytest.importorskip("pandas")
    X, y = data
    restored = pickle.loads(pickle.dumps(minimal))
    np.testing.assert_array_equal(restored.transform(X), minimal.transform(X))
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
    masker = RelevanceMasker(_base(), n_features=2).set_output(transform="pandas")
    out = masker.fit(frame, y).transform(frame)
    assert set(out.columns) <= {"f0", "f1", "f2"} and len(out.columns) == 2


def test_users_eager_model_keeps_working(data):
    X, y = data
    user = tf.keras.Sequential([tf.keras.Input(shape=(10,)), tf.keras.layers.Dense(2)])
    expected = user.predict(X[:5], verbose=0)
    masker = RelevanceMasker(_base(), strategy="negative").fit(X, y)
    masker.transform(X[:5])
    assert tf.executing_eagerly()
    np.testing.assert_array_equal(user.predict(X[:5], verbose=0), expected)
    later = tf.keras.Sequential([tf.keras.Input(shape=(10,)), tf.keras.layers.Dense(1)])
    later.compile(optimizer="sgd", loss="mse")
    later.fit(X[:16], y[:16], epochs=1, verbose=0)
    assert later.predict(X[:3], verbose=0).shape == (3, 1)


def test_relevance_display_takes_ax_by_keyword(minimal):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_rbfm.plotting import RelevanceDisplay

    _, ax = plt.subplots()
    display = RelevanceDisplay(minimal.feature_relevance_, support=minimal.support_)
    with pytest.raises(TypeError):
        display.plot(ax)
    assert display.plot(ax=ax).ax_ is ax and display.figure_ is ax.figure
    plt.close("all")


def test_strings_are_refused_naming_the_cell(data, minimal):
    X, y = data
    bad = X[:5].astype(object)
    bad[2, 3] = "loud"
    # the selector's own transform would return the strings silently
    with pytest.raises(ValueError, match=r"row 2, column 3 holds 'loud'"):
        minimal.transform(bad)
    with pytest.raises(ValueError, match=r"row 2, column 3 holds 'loud'"):
        RelevanceMasker(LogisticRegression(), n_features=2).fit(bad, y[:5])
