import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_rbfm.explain import perturbation_curve


@pytest.fixture(scope="module")
def linear_problem():
    rng = np.random.RandomState(0)
    X = rng.randn(400, 30)
    y = (X[:, :4] @ np.array([2.0, -1.5, 1.0, 1.0]) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    # exact contribution of each feature to the true class's logit
    relevance = X * clf.coef_[0] * np.where(y == 1, 1.0, -1.0)[:, None]
    return clf, X, y, relevance


@pytest.mark.parametrize("fill", ["zero", "min", "mean", "noise", 0.5])
def test_relevance_order_drops_faster_than_random(linear_problem, fill):
    clf, X, y, R = linear_problem
    # (random_state=0 would draw the very noise that X is made of)
    result = perturbation_curve(clf, X, y, R, steps=6, max_fraction=0.3,
                                fill=fill, random_state=1)
    assert result.fractions.shape == result.scores.shape == (7,)
    assert result.fractions[0] == 0 and result.fractions[-1] == pytest.approx(0.3)
    assert result.scores[0] == result.random_scores[0]
    assert result.aopc > result.random_aopc + 0.1
    np.testing.assert_allclose(result.aopc, np.mean(result.scores[0] - result.scores))


def test_reversed_relevance_is_worse_than_random(linear_problem):
    clf, X, y, R = linear_problem
    result = perturbation_curve(clf, X, y, -R, steps=5, max_fraction=0.2, random_state=0)
    assert result.aopc < result.random_aopc


def test_scoring_and_3d_relevance(linear_problem):
    clf, X, y, R = linear_problem
    acc = perturbation_curve(clf, X, y, R.reshape(400, 5, 6), steps=3,
                             scoring="accuracy", random_state=0)
    assert acc.scores[0] == pytest.approx(clf.score(X, y))
    # with every input zeroed only the intercept is left: one class for all
    assert acc.scores[-1] == pytest.approx(max(y.mean(), 1 - y.mean()))


def test_repeatable(linear_problem):
    clf, X, y, R = linear_problem
    a = perturbation_curve(clf, X, y, R, steps=3, fill="noise", random_state=1)
    b = perturbation_curve(clf, X, y, R, steps=3, fill="noise", random_state=1)
    np.testing.assert_array_equal(a.random_scores, b.random_scores)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_errors(linear_problem):
    clf, X, y, R = linear_problem
    with pytest.raises(ValueError, match="one relevance value per input value"):
        perturbation_curve(clf, X, y, R[:, :10])
    with pytest.raises(ValueError, match="fill must be 'zero', 'min'"):
        perturbation_curve(clf, X, y, R, fill="blur")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        perturbation_curve(clf, X, y, R, steps=0)
    with pytest.raises(ValueError, match="y has 3 labels"):
        perturbation_curve(clf, X, y[:3], R)
    from sklearn.svm import LinearSVC

    svc = LinearSVC().fit(X, y)
    with pytest.raises(ValueError, match="no predict_proba; pass scoring"):
        perturbation_curve(svc, X, y, R)


def test_fill_values_and_the_deprecated_baseline(linear_problem):
    clf, X, y, R = linear_problem
    # every input removed: the model sees the fill value everywhere
    for fill, value in [(0.5, np.full_like(X, 0.5)),
                        ("min", np.repeat(X.min(axis=1, keepdims=True), X.shape[1], 1)),
                        ("mean", np.broadcast_to(X.mean(axis=0), X.shape))]:
        result = perturbation_curve(clf, X, y, R, steps=1, fill=fill, random_state=0)
        proba = clf.predict_proba(value)[np.arange(len(y)), y].mean()
        assert result.scores[-1] == pytest.approx(proba)
    with pytest.warns(FutureWarning, match="renamed fill"):
        old = perturbation_curve(clf, X, y, R, steps=2, baseline="mean", random_state=0)
    new = perturbation_curve(clf, X, y, R, steps=2, fill="mean", random_state=0)
    np.testing.assert_array_equal(old.scores, new.scores)


def test_feature_relevance_of_a_relevance_masker():
    from sklearn_rbfm import KerasMLPClassifier, RelevanceMasker

    rng = np.random.RandomState(0)
    X = rng.rand(300, 12).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1.0).astype(int)
    base = KerasMLPClassifier((16,), epochs=40, learning_rate=0.02,
                              early_stopping=False, random_state=0)
    masker = RelevanceMasker(base, n_features=2).fit(X, y)
    result = perturbation_curve(masker.estimator_, X, y, masker.feature_relevance_,
                                steps=4, max_fraction=1 / 3, random_state=0)
    assert result.aopc > result.random_aopc + 0.05
