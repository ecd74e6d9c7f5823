"""VotingFusionSearch: exact scores, result format, protocols, composition."""

import math
import pickle
from functools import reduce
from pathlib import Path

import joblib
import numpy as np
import pytest
import soundfile
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    StratifiedKFold,
    cross_val_predict,
    cross_validate,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from sklearn_rbfm import VotingFusionSearch
from sklearn_rbfm._fast_auc import average_probas

# the data set sits beside the repository: ../shared/data/fsdd
FSDD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd"
SR = 8000
N_SAMPLES = 6000  # 0.75 s at 8 kHz


def _members():
    return [
        ("lr", LogisticRegression(C=0.05)),
        ("nb", GaussianNB()),
        ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
        ("knn", KNeighborsClassifier(n_neighbors=4)),
        ("deep_tree", DecisionTreeClassifier(max_depth=5, random_state=0)),
        ("lr_strong", LogisticRegression(C=10.0)),
    ]


@pytest.fixture(scope="module")
def hard_binary():
    return make_classification(
        n_samples=300, n_features=8, n_informative=3, flip_y=0.15, random_state=0
    )


def _reference_scores(y, probas, subsets):
    """roc_auc_score on each subset's average vote, averaged left to right.

    Members may predict float32 (features in float32); the search averages in
    float64 like ``predict_proba``, and so must the reference, since float32
    rounding would create ties of its own.
    """
    probas = [np.asarray(p, dtype=np.float64) for p in probas]
    return np.array(
        [
            roc_auc_score(
                y, reduce(np.add, [probas[i] for i in subset])[:, 1] / len(subset)
            )
            for subset in subsets
        ]
    )


def _assert_same_scores_and_ranking(got, expected):
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # identical ordering: strictly better here is strictly better there, and
    # equal scores here differ there by rounding of the trapezoid sum at most
    order = np.argsort(-got, kind="stable")
    diffs = np.diff(expected[order])
    assert np.all(diffs <= 1e-12)
    strictly = np.diff(got[order]) < 0
    assert np.all(diffs[strictly] < 0)


def test_scores_equal_roc_auc_score_on_every_subset(hard_binary):
    X, y = hard_binary
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    search = VotingFusionSearch(_members(), cv=folds).fit(X, y)

    names = [name for name, _ in _members()]
    splits = list(folds.split(X, y))
    probas = [cross_val_predict(m, X, y, cv=splits, method="predict_proba") for _, m in _members()]
    index = {name: i for i, name in enumerate(names)}
    subsets = [[index[n] for n in members] for members in search.cv_results_["members"]]
    expected = _reference_scores(y, probas, subsets)

    results = search.cv_results_
    assert len(results["score"]) == 2**6 - 1
    _assert_same_scores_and_ranking(results["score"], expected)
    np.testing.assert_array_equal(
        results["rank"], rankdata(-results["score"], method="min")
    )
    # trees and k-NN tie many samples: the tie handling is exercised
    fused = average_probas([probas[index["tree"]], probas[index["knn"]]])[:, 1]
    assert len(np.unique(fused)) < len(fused) / 5
    assert search.best_score_ == results["score"].max()
    assert results["rank"][search.best_index_] == 1
    assert search.best_members_ == results["members"][search.best_index_]


def test_results_format(hard_binary):
    X, y = hard_binary
    search = VotingFusionSearch(_members()[:3], cv=3, max_size=2).fit(X, y)
    results = search.cv_results_
    assert list(results) == [
        "members", "n_members", "score", "rank",
        "member_lr", "member_nb", "member_tree",
    ]
    assert list(results["members"]) == [
        ("lr",), ("nb",), ("tree",), ("lr", "nb"), ("lr", "tree"), ("nb", "tree"),
    ]
    np.testing.assert_array_equal(results["n_members"], [1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(results["member_nb"], [0, 1, 0, 1, 0, 1])
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame(results)
    assert table.shape == (6, 7)
    assert table.sort_values("rank").iloc[0]["score"] == search.best_score_


def test_predict_proba_is_the_average_of_the_refitted_best_members(hard_binary):
    X, y = hard_binary
    search = VotingFusionSearch(_members()[:4], cv=3).fit(X, y)
    by_name = dict(_members())
    refitted = [clone(by_name[name]).fit(X, y) for name in search.best_members_]
    expected = average_probas([m.predict_proba(X) for m in refitted])
    np.testing.assert_array_equal(search.predict_proba(X), expected)
    np.testing.assert_array_equal(
        search.predict(X), search.classes_[expected.argmax(axis=1)]
    )
    assert list(search.named_estimators_) == list(search.best_members_)
    assert search.n_features_in_ == X.shape[1]


def test_string_labels_multiclass_is_macro_one_vs_rest():
    X, y = make_classification(
        n_samples=240, n_classes=3, n_informative=4, flip_y=0.1, random_state=1
    )
    y = np.array(["cat", "dog", "owl"])[y]
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    members = _members()[:4]
    search = VotingFusionSearch(members, cv=folds).fit(X, y)
    splits = list(folds.split(X, y))
    probas = [cross_val_predict(m, X, y, cv=splits, method="predict_proba") for _, m in members]
    index = {name: i for i, (name, _) in enumerate(members)}
    expected = [
        roc_auc_score(
            y,
            reduce(np.add, [probas[index[n]] for n in subset]) / len(subset),
            multi_class="ovr",
        )
        for subset in search.cv_results_["members"]
    ]
    np.testing.assert_allclose(search.cv_results_["score"], expected, rtol=0, atol=1e-12)
    assert set(search.predict(X[:20])) <= {"cat", "dog", "owl"}


def test_other_scorer_by_name(hard_binary):
    X, y = hard_binary
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    members = _members()[:3]
    search = VotingFusionSearch(members, cv=folds, scoring="neg_log_loss").fit(X, y)
    probas = [cross_val_predict(m, X, y, cv=folds, method="predict_proba") for _, m in members]
    # subsets in order: (0,), (1,), (2,), (0,1), (0,2), (1,2), (0,1,2)
    expected_01 = -log_loss(y, average_probas([probas[0], probas[1]]))
    assert search.cv_results_["score"][3] == pytest.approx(expected_01, rel=1e-12)
    assert search.cv_results_["members"][3] == ("lr", "nb")


def test_greedy_search_with_replacement(hard_binary):
    X, y = hard_binary
    exhaustive = VotingFusionSearch(_members(), cv=3).fit(X, y)
    greedy = VotingFusionSearch(_members(), cv=3, search="greedy", max_size=8).fit(X, y)
    results = greedy.cv_results_
    np.testing.assert_array_equal(results["n_members"], np.arange(1, 9))
    # step one is the best single member of the exhaustive search
    singles = exhaustive.cv_results_["n_members"] == 1
    assert results["score"][0] == exhaustive.cv_results_["score"][singles].max()
    # each bag extends the previous one by one member
    for before, after in zip(results["members"][:-1], results["members"][1:]):
        remaining = list(after)
        for name in before:
            remaining.remove(name)
        assert len(remaining) == 1
    best = list(greedy.best_members_)
    assert greedy.weights_.sum() == len(best)
    probas = {
        name: clone(dict(_members())[name]).fit(X, y).predict_proba(X)
        for name in greedy.named_estimators_
    }
    member_order = [name for name, _ in _members()]
    best.sort(key=member_order.index)
    expected = average_probas([probas[name] for name in best])
    np.testing.assert_allclose(greedy.predict_proba(X), expected, rtol=0, atol=1e-15)


def test_exhaustive_refused_beyond_twenty_members():
    members = [(f"m{i}", DummyClassifier()) for i in range(21)]
    X, y = make_classification(n_samples=30, random_state=0)
    with pytest.raises(ValueError, match="search='greedy'"):
        VotingFusionSearch(members).fit(X, y)
    # a size limit brings the count down
    search = VotingFusionSearch(members, cv=2, max_size=1).fit(X, y)
    assert len(search.cv_results_["score"]) == 21


def test_max_size_counts(hard_binary):
    X, y = hard_binary
    search = VotingFusionSearch(_members(), cv=3, max_size=3).fit(X, y)
    assert len(search.cv_results_["score"]) == sum(math.comb(6, k) for k in (1, 2, 3))
    assert search.cv_results_["n_members"].max() == 3


def test_member_errors(hard_binary):
    X, y = hard_binary
    with pytest.raises(ValueError, match="'svm'.*predict_proba"):
        VotingFusionSearch([("lr", LogisticRegression()), ("svm", LinearSVC())]).fit(X, y)
    with pytest.raises(NotFittedError, match="Member 'nb' is not fitted"):
        VotingFusionSearch(
            [("lr", LogisticRegression().fit(X, y)), ("nb", GaussianNB())], cv="prefit"
        ).fit(X, y)
    with pytest.raises(ValueError, match="Member 'lr' was fitted on classes"):
        VotingFusionSearch(
            [("lr", LogisticRegression().fit(X, y + 1))], cv="prefit"
        ).fit(X, y)


def test_drop_member_and_refit_false(hard_binary):
    X, y = hard_binary
    search = VotingFusionSearch(_members()[:3], cv=3, refit=False)
    search.set_params(tree="drop").fit(X, y)
    assert len(search.cv_results_["score"]) == 3
    assert "member_tree" not in search.cv_results_
    assert not hasattr(search, "predict_proba")
    assert not hasattr(search, "n_features_in_")


def test_parallel_backends_give_identical_results(hard_binary):
    X, y = hard_binary
    serial = VotingFusionSearch(_members(), cv=3).fit(X, y)
    parallel = VotingFusionSearch(_members(), cv=3, n_jobs=2).fit(X, y)
    with joblib.parallel_config(backend="threading"):
        threads = VotingFusionSearch(_members(), cv=3, n_jobs=2).fit(X, y)
    for other in (parallel, threads):
        np.testing.assert_array_equal(other.cv_results_["score"], serial.cv_results_["score"])


def test_nested_in_grid_search_and_cross_validate(hard_binary):
    X, y = hard_binary
    search = VotingFusionSearch(_members()[:3], cv=3)
    grid = GridSearchCV(search, {"max_size": [1, 3]}, cv=3, scoring="roc_auc").fit(X, y)
    assert grid.best_params_["max_size"] in (1, 3)
    nested = cross_validate(search, X, y, cv=3, scoring="roc_auc")
    assert nested["test_score"].shape == (3,)
    # the search's own best score is a maximum over subsets: optimistic
    inner = clone(search).fit(X, y).best_score_
    assert inner >= nested["test_score"].mean() - 0.05


def test_pickle_round_trip(hard_binary):
    X, y = hard_binary
    search = VotingFusionSearch(_members()[:3], cv=3).fit(X, y)
    loaded = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(loaded.predict_proba(X), search.predict_proba(X))


# --- real members: pipelines on features of real spoken-digit recordings ---


def _log_mel(waves):
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(waves, dtype=np.float32), sr=SR, n_fft=256, hop_length=128, n_mels=24
    )
    return np.log(mel + 1e-6)


def log_mel_stats(waves):
    spec = _log_mel(waves)
    return np.hstack([spec.mean(axis=2), spec.std(axis=2)])


def mfcc_stats(waves):
    import librosa

    mfcc = librosa.feature.mfcc(S=_log_mel(waves), n_mfcc=13)
    return np.hstack([mfcc.mean(axis=2), mfcc.std(axis=2)])


def envelope(waves):
    frames = np.abs(np.asarray(waves)).reshape(len(waves), 20, -1)
    return np.log(frames.mean(axis=2) + 1e-4)


@pytest.fixture(scope="module")
def digits():
    """Real FSDD clips of 'six' and 'eight', padded to 0.75 s, with speakers."""
    if not (FSDD / "labels.csv").exists():
        pytest.skip("FSDD recordings not available")
    import pandas

    labels = pandas.read_csv(FSDD / "labels.csv")
    chosen = labels[labels["label"].isin([6, 8])].groupby(["speaker", "label"]).head(12)
    waves = np.zeros((len(chosen), N_SAMPLES), dtype=np.float32)
    for i, path in enumerate(chosen["path"]):
        audio, sr = soundfile.read(FSDD / path, dtype="float32")
        assert sr == SR, path
        waves[i, : min(len(audio), N_SAMPLES)] = audio[:N_SAMPLES]
    return waves, chosen["label"].to_numpy(), chosen["speaker"].to_numpy()


def _audio_members():
    extractors = {
        "mel": FunctionTransformer(log_mel_stats),
        "mfcc": FunctionTransformer(mfcc_stats),
        "env": FunctionTransformer(envelope),
    }
    members = []
    for name, extractor in extractors.items():
        for suffix, classifier in (("lr", LogisticRegression(C=0.1)), ("nb", GaussianNB())):
            pipeline = make_pipeline(clone(extractor), StandardScaler(), classifier)
            members.append((f"{name}_{suffix}", pipeline))
    return members


def test_real_members_prefit_development_set(digits):
    waves, y, speakers = digits
    train = ~np.isin(speakers, ["theo", "yweweler"])
    members = [(name, m.fit(waves[train], y[train])) for name, m in _audio_members()]
    dev_X, dev_y = waves[~train], y[~train]

    search = VotingFusionSearch(members, cv="prefit").fit(dev_X, dev_y)

    names = [name for name, _ in members]
    probas = [m.predict_proba(dev_X) for _, m in members]
    subsets = [[names.index(n) for n in s] for s in search.cv_results_["members"]]
    expected = _reference_scores(dev_y, probas, subsets)
    _assert_same_scores_and_ranking(search.cv_results_["score"], expected)
    assert search.best_score_ > 0.8
    # prefit members are copied, not refitted and not touched
    best = search.best_members_
    for name in best:
        assert search.named_estimators_[name] is not dict(members)[name]
    expected_proba = average_probas([probas[names.index(n)] for n in best])
    np.testing.assert_array_equal(search.predict_proba(dev_X), expected_proba)


def test_real_members_grouped_out_of_fold(digits):
    waves, y, speakers = digits
    members = _audio_members()
    search = VotingFusionSearch(members, cv=GroupKFold(3)).fit(waves, y, groups=speakers)

    splits = list(GroupKFold(3).split(waves, y, speakers))
    probas = [
        cross_val_predict(m, waves, y, cv=splits, method="predict_proba")
        for _, m in members
    ]
    names = [name for name, _ in members]
    subsets = [[names.index(n) for n in s] for s in search.cv_results_["members"]]
    _assert_same_scores_and_ranking(
        search.cv_results_["score"], _reference_scores(y, probas, subsets)
    )
    assert search.predict(waves[:5]).shape == (5,)


def test_feature_level_fusion_with_feature_union(digits):
    """The paper's FF model: one classifier on the concatenated feature sets."""
    waves, y, speakers = digits
    train = ~np.isin(speakers, ["theo", "yweweler"])
    union = FeatureUnion(
        [
            ("mel", make_pipeline(FunctionTransformer(log_mel_stats), StandardScaler())),
            ("mfcc", make_pipeline(FunctionTransformer(mfcc_stats), StandardScaler())),
            ("env", make_pipeline(FunctionTransformer(envelope), StandardScaler())),
        ]
    )
    fused_features = union.fit_transform(waves[train])
    assert fused_features.shape[1] == 48 + 26 + 20
    ff = make_pipeline(union, LogisticRegression(C=0.1)).fit(waves[train], y[train])
    members = [(name, m.fit(waves[train], y[train])) for name, m in _audio_members()]
    members.append(("FF", ff))
    search = VotingFusionSearch(members, cv="prefit").fit(waves[~train], y[~train])
    ff_alone = search.cv_results_["members"].tolist().index(("FF",))
    assert search.cv_results_["score"][ff_alone] == pytest.approx(
        roc_auc_score(y[~train], ff.predict_proba(waves[~train])[:, 1]), abs=1e-12
    )
    assert "member_FF" in search.cv_results_


def test_feature_level_fusion_of_relevance_masked_branches(digits):
    """The paper's FF_min: minimal-masked features of each extractor, united."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("innvestigate")
    from sklearn_rbfm import KerasMLPClassifier, RelevanceMasker

    waves, y, speakers = digits
    train = ~np.isin(speakers, ["theo", "yweweler"])

    def small_mlp():
        return KerasMLPClassifier((16,), epochs=5, random_state=0)

    def branch(extractor):
        return make_pipeline(
            FunctionTransformer(extractor),
            StandardScaler(),
            RelevanceMasker(small_mlp(), strategy="minimal", n_features=8),
        )

    union = FeatureUnion([("mel", branch(log_mel_stats)), ("mfcc", branch(mfcc_stats))])
    ff_min = make_pipeline(union, small_mlp()).fit(waves[train], y[train])
    assert ff_min[0].transform(waves[:3]).shape == (3, 16)
    mel_lr = _audio_members()[0][1].fit(waves[train], y[train])
    members = [("mel_lr", mel_lr), ("FF_min", ff_min)]
    search = VotingFusionSearch(members, cv="prefit").fit(waves[~train], y[~train])
    ff_alone = search.cv_results_["members"].tolist().index(("FF_min",))
    assert search.cv_results_["score"][ff_alone] == pytest.approx(
        roc_auc_score(y[~train], ff_min.predict_proba(waves[~train])[:, 1]), abs=1e-12
    )


def test_nested_cross_validation_with_groups_at_both_levels(hard_binary):
    import sklearn

    X, y = hard_binary
    groups = np.arange(len(y)) % 6
    # the inner GroupKFold raises unless the groups are routed to fit
    search = VotingFusionSearch(_members()[:2], cv=GroupKFold(3))
    with sklearn.config_context(enable_metadata_routing=True):
        search.set_fit_request(groups=True)
        nested = cross_validate(
            search, X, y, cv=GroupKFold(3), params={"groups": groups}, scoring="roc_auc"
        )
    assert nested["test_score"].shape == (3,)
    assert np.all(nested["test_score"] > 0.5)


def test_callable_scorer_sees_the_average_vote(hard_binary):
    from sklearn.metrics import brier_score_loss, make_scorer

    X, y = hard_binary
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    members = _members()[:2]
    scorer = make_scorer(
        brier_score_loss, greater_is_better=False, response_method="predict_proba"
    )
    search = VotingFusionSearch(members, cv=folds, scoring=scorer).fit(X, y)
    probas = [
        cross_val_predict(m, X, y, cv=folds, method="predict_proba") for _, m in members
    ]
    both = average_probas(probas)[:, 1]
    assert search.cv_results_["members"][2] == ("lr", "nb")
    assert search.cv_results_["score"][2] == pytest.approx(
        -brier_score_loss(y, both), rel=1e-12
    )
