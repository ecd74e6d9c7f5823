"""RBFMClassifier: members, cross-fitting without leakage, selection rules."""

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier

from sklearn_rbfm import CNNEmbedder, KerasMLPClassifier, RBFMClassifier
from sklearn_rbfm._rbfm import _learns_from_labels


def _blocks(*widths):
    """Embedders that select consecutive column blocks of X."""
    embedders, start = [], 0
    for i, width in enumerate(widths):
        embedders.append((f"e{i}", ColumnTransformer(
            [("cols", "passthrough", slice(start, start + width))])))
        start += width
    return embedders


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=160, n_features=12, n_informative=4,
                               random_state=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def keras_fit(data):
    X, y = data
    base = KerasMLPClassifier((16,), epochs=15, learning_rate=0.02,
                              early_stopping=False)
    clf = RBFMClassifier(base_estimator=base, n_features=4, cv=2,
                         selection="exhaustive", random_state=0)
    return clf.fit(X, y)


@pytest.mark.slow
def test_masked_members_reuse_the_fitted_base_model(keras_fit, data):
    X, _ = data
    clf = keras_fit
    assert list(clf.members_) == ["base", "minimal", "negative"]
    base = clf.members_["base"]["clf"]
    for name in ("minimal", "negative"):
        mask = clf.members_[name]["mask"]
        assert mask.prefit and mask.strategy == name
        for w_base, w_mask in zip(base.model_.get_weights(),
                                  mask.estimator_.model_.get_weights()):
            np.testing.assert_array_equal(w_base, w_mask)
    assert clf.members_["minimal"]["mask"].support_.sum() == 4
    # relevance is taken on the standardised embedding the base model saw
    scaled = clf.members_["base"][:-1].transform(X[:5])
    np.testing.assert_allclose(scaled.mean(), 0, atol=1.5)
    proba = clf.predict_proba(X)
    assert proba.shape == (160, 2)


@pytest.mark.slow
def test_pickle_and_clone_repeat_the_predictions(keras_fit, data):
    X, y = data
    again = pickle.loads(pickle.dumps(keras_fit))
    np.testing.assert_array_equal(again.predict_proba(X), keras_fit.predict_proba(X))
    refit = clone(keras_fit).fit(X, y)
    np.testing.assert_allclose(refit.oof_proba_, keras_fit.oof_proba_, atol=1e-6)
    np.testing.assert_allclose(refit.predict_proba(X), keras_fit.predict_proba(X),
                               atol=1e-6)
    # RBFMClassifier() with its defaults clones and pickles
    default = RBFMClassifier()
    assert clone(default).get_params() == default.get_params()
    assert pickle.loads(pickle.dumps(default)).get_params()["selection"] == "greedy"


@pytest.mark.slow
def test_best_score_and_results_are_the_oof_scores(keras_fit, data):
    _, y = data
    clf = keras_fit
    res = clf.cv_results_
    assert len(res["members"]) == 7
    assert {"params", "mean_test_score", "rank_test_score", "std_test_score",
            "split0_test_score", "split1_test_score", "score", "rank"} <= set(res)
    for i, members in enumerate(res["members"]):
        fused = clf.oof_proba_[[list(clf.members_).index(m) for m in members]].mean(0)
        assert res["score"][i] == pytest.approx(roc_auc_score(y, fused[:, 1]))
        assert res["params"][i] == {"members": members}
    best = int(np.argmax(res["score"]))
    assert clf.best_members_ == res["members"][best]
    assert clf.best_score_ == pytest.approx(res["score"][best])
    np.testing.assert_allclose(
        clf.decision_function(data[0]),
        np.diff(clf.predict_proba(data[0]), axis=1).ravel())


def test_feature_fusion_members_and_extra_members(data):
    X, y = data
    clf = RBFMClassifier(_blocks(4, 8), base_estimator=GaussianNB(),
                         maskings=("none",), extra_members=[("knn", KNeighborsClassifier())],
                         cv=3, selection="average", random_state=0).fit(X, y)
    assert list(clf.members_) == ["e0", "e1", "FF", "e0_knn", "e1_knn"]
    np.testing.assert_array_equal(clf.weights_, np.ones(5))
    # each member sees its own columns: the FF member all 12, e0 the first 4
    assert clf.members_["e0"]["clf"].n_features_in_ == 4
    assert clf.members_["FF"]["clf"].n_features_in_ == 12
    expected = np.mean([m.predict_proba(X) for m in clf.members_.values()], axis=0)
    np.testing.assert_allclose(clf.predict_proba(X), expected)
    np.testing.assert_allclose(clf.predict_member_proba(X).mean(axis=0), expected)
    no_ff = clone(clf).set_params(feature_fusion=False).fit(X, y)
    assert "FF" not in no_ff.members_


@pytest.mark.parametrize("selection", ["exhaustive", "one_se", "holdout", "greedy"])
def test_selection_rules(selection, data):
    X, y = data
    clf = RBFMClassifier(_blocks(4, 8), base_estimator=GaussianNB(), maskings=("none",),
                         extra_members=[("lr", LogisticRegression())], cv=4,
                         selection=selection, random_state=0).fit(X, y)
    res, names = clf.cv_results_, list(clf.members_)
    chosen = tuple(n for n, w in zip(names, clf.weights_) if w)
    if selection == "exhaustive":
        assert chosen == res["members"][int(np.argmax(res["score"]))]
    elif selection == "holdout":
        assert chosen == res["members"][int(np.argmax(res["split0_test_score"]))]
    elif selection == "one_se":
        best = int(np.argmax(res["mean_test_score"]))
        i = list(res["members"]).index(chosen)
        assert res["mean_test_score"][i] >= (
            res["mean_test_score"][best] - res["std_test_score"][best] / 2)
        assert len(chosen) <= len(res["members"][best])
    else:
        assert clf.weights_.sum() >= 1
        # bagged greedy never does worse than its best single start
        assert clf.best_score_ >= res["score"][res["n_members"] == 1].max() - 0.02
    fused = np.tensordot(clf.weights_ / clf.weights_.sum(), clf.oof_proba_, axes=1)
    assert clf.best_score_ == pytest.approx(roc_auc_score(y, fused[:, 1]))


def test_multiclass_greedy_scores_candidates_as_the_scorer_does():
    from sklearn.metrics import get_scorer
    from sklearn.utils import check_random_state

    rng = np.random.RandomState(0)
    y = rng.randint(0, 4, 300)
    proba = rng.dirichlet(np.ones(4), size=(7, 300))
    # members of graded skill, so that the selection has something to find
    proba[:, np.arange(300), y] += np.linspace(0.05, 0.6, 7)[:, None]
    proba /= proba.sum(axis=2, keepdims=True)
    weights = {}
    for scoring in ("roc_auc_ovr", get_scorer("roc_auc_ovr")):
        clf = RBFMClassifier(scoring=scoring)
        clf.classes_, clf.oof_proba_ = np.arange(4), proba
        clf._seeds = check_random_state(0).randint(2**31 - 1, size=4)
        weights[isinstance(scoring, str)] = clf._bagged_greedy(y, list("abcdefg"))
    # the vectorised one-vs-rest AUC chooses exactly what the scorer chooses
    np.testing.assert_array_equal(weights[True], weights[False])
    assert np.argmax(weights[True]) == 6  # the most skilled member, most often


def test_out_of_fold_probabilities_never_saw_the_label():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 300)).astype(np.float32)
    y = rng.randint(0, 2, 80)
    # a memorising member on pure noise: in-sample AUC 1, out of fold ~0.5
    clf = RBFMClassifier(base_estimator=KNeighborsClassifier(1), maskings=("none",),
                         cv=4, selection="average").fit(X, y)
    assert roc_auc_score(y, clf.predict_proba(X)[:, 1]) == 1.0
    assert clf.best_score_ < 0.7
    # an embedder that learns from the labels is refitted on each inner fold;
    # fitted once on all rows, its 5 best noise columns would look predictive
    kbest = [("kbest", SelectKBest(k=5))]
    assert _learns_from_labels(kbest[0][1])
    clf = RBFMClassifier(kbest, base_estimator=LogisticRegression(), maskings=("none",),
                         cv=4, selection="average").fit(X, y)
    leaky = SelectKBest(k=5).fit(X, y).transform(X)
    leaky_oof = RBFMClassifier(base_estimator=LogisticRegression(), maskings=("none",),
                               cv=4, selection="average").fit(leaky, y)
    assert leaky_oof.best_score_ > 0.8
    assert clf.best_score_ < 0.7


def test_fine_tuned_embedders_count_as_learning_from_labels():
    assert _learns_from_labels(CNNEmbedder("small_cnn", fine_tune="all"))
    assert not _learns_from_labels(CNNEmbedder("small_cnn"))
    assert not _learns_from_labels(_blocks(3)[0][1])


class _RecordingGroupKFold(GroupKFold):
    seen = []

    def split(self, X, y=None, groups=None):
        type(self).seen.append(None if groups is None else np.asarray(groups).copy())
        return super().split(X, y, groups)


def test_groups_reach_the_inner_folds_in_cross_validate(data):
    X, y = data
    groups = np.arange(len(y)) % 8
    _RecordingGroupKFold.seen = []
    clf = RBFMClassifier(base_estimator=GaussianNB(), maskings=("none",),
                         extra_members=[("lr", LogisticRegression())],
                         cv=_RecordingGroupKFold(3), selection="exhaustive",
                         random_state=0)
    result = cross_validate(clf, X, y, groups=groups, cv=GroupKFold(2),
                            params={"groups": groups}, scoring="roc_auc",
                            return_estimator=True, return_indices=True)
    assert len(_RecordingGroupKFold.seen) == 2
    for seen, train in zip(_RecordingGroupKFold.seen, result["indices"]["train"]):
        np.testing.assert_array_equal(seen, groups[train])
    for est, test, score in zip(result["estimator"], result["indices"]["test"],
                                result["test_score"]):
        assert score == pytest.approx(roc_auc_score(y[test], est.predict_proba(X[test])[:, 1]))


def test_grid_search_over_the_selection(data):
    X, y = data
    clf = RBFMClassifier(base_estimator=GaussianNB(), maskings=("none",),
                         extra_members=[("lr", LogisticRegression())], cv=3,
                         random_state=0)
    grid = GridSearchCV(clf, {"selection": ["average", "exhaustive"]}, cv=2,
                        scoring="roc_auc").fit(X, y)
    assert len(grid.cv_results_["mean_test_score"]) == 2
    assert grid.best_estimator_.selection == grid.best_params_["selection"]


def test_bad_parameters_name_the_culprit(data):
    X, y = data
    with pytest.raises(ValueError, match="n_features=9 is larger than the 4 features "
                       "of embedder 'e0'"):
        RBFMClassifier(_blocks(4, 8), base_estimator=KerasMLPClassifier(),
                       n_features=9, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="maskings must be"):
        RBFMClassifier(maskings=("none", "positive")).fit(X, y)
    with pytest.raises(ValueError, match="extra member 'svm'"):
        from sklearn.svm import LinearSVC

        RBFMClassifier(base_estimator=GaussianNB(), maskings=("none",),
                       extra_members=[("svm", LinearSVC())]).fit(X, y)
    with pytest.raises(ValueError, match="1 class"):
        RBFMClassifier(base_estimator=GaussianNB(), maskings=("none",)).fit(
            X, np.zeros(len(y)))


def test_inner_folds_in_parallel_give_the_same_fit(data):
    X, y = data
    clf = RBFMClassifier(_blocks(4, 8), base_estimator=GaussianNB(), maskings=("none",),
                         extra_members=[("lr", LogisticRegression())], cv=3,
                         selection="exhaustive", random_state=0)
    one = clone(clf).fit(X, y)
    two = clone(clf).set_params(n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.oof_proba_, two.oof_proba_)
    np.testing.assert_array_equal(one.weights_, two.weights_)


@pytest.mark.slow
def test_default_base_model_is_a_wide_network_the_masks_explain(data):
    from sklearn_rbfm.explain import compute_relevance

    X, y = data
    clf = RBFMClassifier(n_features=4, cv=2, selection="average", n_jobs=2,
                         random_state=0).fit(X, y)
    base = clf.members_["base"]["clf"]
    assert base.wide and not base.early_stopping and base.alpha == pytest.approx(3e-2)
    assert [layer.name for layer in base.model_.layers] == [
        "input", "hidden_1", "wide", "output"]
    mask = clf.members_["minimal"]["mask"]
    assert mask.estimator_ is base or all(
        np.array_equal(a, b) for a, b in zip(mask.estimator_.model_.get_weights(),
                                            base.model_.get_weights()))
    # the mask keeps the features of highest mean absolute relevance
    scaled = clf.members_["base"][:-1].transform(X)
    relevance = np.abs(compute_relevance(base.model_, scaled.astype(np.float32))).mean(axis=0)
    np.testing.assert_array_equal(np.sort(np.argsort(relevance)[-4:]),
                                  np.flatnonzero(mask.support_))
    assert roc_auc_score(y, clf.members_["base"].predict_proba(X)[:, 1]) > 0.9
    # the members fitted in worker processes come back whole
    assert clf.oof_proba_.shape == (3, len(y), 2)
    assert roc_auc_score(y, clf.oof_proba_[0, :, 1]) > 0.65


class _GroupRecorder(TransformerMixin, BaseEstimator):
    """An embedder that learns from labels and records the groups it was given."""

    def fit(self, X, y, groups=None):
        self.groups_ = None if groups is None else np.asarray(groups).copy()
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float32)[:, :6]


def test_groups_reach_embedders_that_learn_from_labels(data):
    X, y = data
    groups = np.arange(len(y)) % 8
    seen = []

    class Recorder(_GroupRecorder):
        def fit(self, X, y, groups=None):
            seen.append(None if groups is None else np.asarray(groups).copy())
            return super().fit(X, y, groups)

    _RecordingGroupKFold.seen = []
    clf = RBFMClassifier(embedders=[("rec", Recorder())], base_estimator=GaussianNB(),
                         maskings=("none",), cv=_RecordingGroupKFold(4),
                         selection="average", random_state=0)
    clf.fit(X, y, groups=groups)
    # one fit per inner fold with that fold's training groups, then all of them
    train_groups = [groups[np.setdiff1d(np.arange(len(y)), test)]
                    for test in clf._splits_test]
    assert len(seen) == 5
    for got in seen[:4]:
        assert any(np.array_equal(got, want) for want in train_groups)
    np.testing.assert_array_equal(clf.embedders_[0][1].groups_, groups)
    # without groups the embedder is fitted without them
    clf.set_params(cv=4).fit(X, y)
    assert clf.embedders_[0][1].groups_ is None
