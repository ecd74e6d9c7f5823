"""Decision-level fusion: the subsets of models whose average vote scores best."""

import copy
import itertools
import math
from numbers import Integral

import numpy as np
from scipy.stats import rankdata
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.exceptions import NotFittedError
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch, get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ._fast_auc import average_probas, average_scores, subset_roc_auc
from .utils._validation import n_samples as _n_rows

# 20 members without a size limit; scoring more subsets takes hours.
MAX_EXHAUSTIVE_SUBSETS = 2**20 - 1

# Scorers computed by the vectorised rank statistic instead of one call each.
_FAST_SCORERS = ("roc_auc", "roc_auc_ovr")

# Largest block of fused scores one task holds (float64 values).
_CHUNK_VALUES = 2**22


class VotingFusionSearch(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Search the subsets of classifiers whose average vote scores best.

    Every member predicts once: out-of-fold probabilities with ``cv``, or the
    predictions of already fitted members on the data given to ``fit``
    (``cv='prefit'``, the protocol of a fixed development set). Each subset is
    then scored as the plain average of its members' probabilities, without
    refitting anything, and all subsets are ranked (``cv_results_``).

    Read more about the method in the RBFM paper's decision-level fusion
    (its Table 1 is :class:`~sklearn_rbfm.plotting.FusionRankingDisplay`).

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The candidate members, typically whole pipelines (embedder, masker,
        classifier). Each must implement ``predict_proba``. A member can be
        left out with ``set_params(name='drop')``.

    scoring : str or callable, default='roc_auc'
        How a subset is scored. ``'roc_auc'`` is the ROC AUC of the positive
        class for binary problems and the macro average of the one-vs-rest
        AUCs for multi-class problems (``roc_auc_score(multi_class='ovr')``);
        it is computed for all subsets at once from ranks, with the same value
        as :func:`sklearn.metrics.roc_auc_score` (ties count one half). Any
        other scikit-learn scorer name that works on probabilities or on
        predictions (``'neg_log_loss'``, ``'average_precision'``,
        ``'accuracy'``...), or a scorer callable ``scorer(estimator, X, y)``,
        is evaluated subset by subset on the averaged probabilities.

    cv : int, cross-validation generator, iterable or 'prefit', default=5
        How member predictions are obtained. An int or a splitter gives
        out-of-fold probabilities (stratified for an int; pass ``groups`` to
        :meth:`fit` for group splitters); the same folds serve every member.
        ``'prefit'``: members are already fitted and are only asked to
        predict the data given to :meth:`fit`.

    search : {'exhaustive', 'greedy'}, default='exhaustive'
        ``'exhaustive'`` scores every non-empty subset of at most
        ``max_size`` members; it is refused above 1,048,575 subsets
        (20 members). ``'greedy'`` is forward selection with replacement
        (ensemble selection, Caruana et al. 2004): starting from an empty
        bag, each step adds the member that most improves the score, and may
        add a member again, which weights it. Its ``cv_results_`` lists the
        bag after each step.

    max_size : int, default=None
        Exhaustive search: largest subset scored (None: all members).
        Greedy search: number of steps (None: the number of members).

    n_jobs : int, default=None
        Number of jobs scoring chunks of subsets in parallel with joblib
        (``None`` means 1 unless in a :func:`joblib.parallel_config`
        context, ``-1`` all processors). Threads are preferred, as numpy's
        sorts release the GIL; any backend set with
        :func:`joblib.parallel_config` works, and only numpy arrays travel
        to its workers. The members are fitted and predict in this process,
        one after the other, as models that use all cores themselves should.

    refit : bool, default=True
        Refit the members of the best subset on all the data given to
        :meth:`fit`, so that :meth:`predict_proba` and :meth:`predict` are
        available. With ``cv='prefit'`` the fitted members are used as they
        are (copied) and ``refit`` is ignored.

    verbose : int, default=0
        Print progress (members, search) when above 0.

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        One entry per scored subset, ready for ``pandas.DataFrame``:
        ``members`` (tuple of member names), ``n_members``, ``score``,
        ``rank`` (1 is best; equal scores share the lowest rank) and one
        boolean column ``member_<name>`` per member. Exhaustive search lists
        subsets by size, then in lexicographic member order.

    best_index_ : int
        Index in ``cv_results_`` of the best subset (the smallest one among
        equal scores, as subsets are listed by size).

    best_members_ : tuple of str
        Names of the best subset's members (repeated when greedy search
        weighted a member).

    best_score_ : float
        Score of the best subset. It is optimistic: it is the maximum over
        many subsets scored on the same predictions, so part of it is chance.
        For an honest estimate evaluate the whole search on held-out data,
        e.g. ``cross_validate(VotingFusionSearch(...), X, y)`` (nested CV).

    estimators_ : list of estimators
        The fitted members of the best subset, in member order. Only with
        ``refit=True`` or ``cv='prefit'``.

    named_estimators_ : :class:`~sklearn.utils.Bunch`
        ``estimators_`` by name.

    weights_ : ndarray of shape (n_best_members,)
        How many times each of ``estimators_`` is in the best subset
        (all ones for exhaustive search).

    le_ : :class:`~sklearn.preprocessing.LabelEncoder`
        Encodes the labels.

    classes_ : ndarray of shape (n_classes,)
        The class labels.

    n_features_in_ : int
        Number of features seen during :term:`fit` (from the fitted members).

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when the members record
        them.

    See Also
    --------
    sklearn.ensemble.VotingClassifier : Soft voting with given members.
    sklearn.model_selection.GridSearchCV : The search whose result
        conventions this estimator follows.
    sklearn_rbfm.plotting.FusionRankingDisplay : Plot the ranking.

    Notes
    -----
    The average vote of a subset is computed as ``(p_i1 + p_i2 + ... +
    p_ik) / k`` in float64 (members predicting float32 are cast first), with
    the members in member order, added left to right; this is also what
    :meth:`predict_proba` does, so the scores are those of ``roc_auc_score``
    on exactly these probabilities (same ties).

    ``best_score_`` is optimistic: it is the best of many scores measured on
    the same predictions. An honest estimate of the whole procedure (members,
    search, refit) comes from nested cross-validation,
    ``cross_validate(search, X, y)``. With grouped data (speakers,
    recordings) both levels should split by group; with
    ``sklearn.set_config(enable_metadata_routing=True)`` use
    ``search.set_fit_request(groups=True)`` and
    ``cross_validate(search, X, y, cv=GroupKFold(), params={"groups": g})``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from sklearn_rbfm import VotingFusionSearch
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> search = VotingFusionSearch(
    ...     [("lr", LogisticRegression()), ("nb", GaussianNB()),
    ...      ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
    ...     cv=5).fit(X, y)
    >>> len(search.cv_results_["score"])
    7
    >>> search.best_members_
    ('lr', 'nb', 'tree')
    >>> round(search.best_score_, 3)
    0.968
    >>> search.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "cv": ["cv_object", StrOptions({"prefit"})],
        "search": [StrOptions({"exhaustive", "greedy"})],
        "max_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "refit": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        *,
        scoring="roc_auc",
        cv=5,
        search="exhaustive",
        max_size=None,
        n_jobs=None,
        refit=True,
        verbose=0,
    ):
        self.estimators = estimators
        self.scoring = scoring
        self.cv = cv
        self.search = search
        self.max_size = max_size
        self.n_jobs = n_jobs
        self.refit = refit
        self.verbose = verbose

    @property
    def named_estimators(self):
        """The candidate members by name (:class:`~sklearn.utils.Bunch`)."""
        return Bunch(**dict(self.estimators))

    def get_params(self, deep=True):
        """Parameters of the search and, with ``deep``, of every member.

        Parameters
        ----------
        deep : bool, default=True
            Also return each member (``<name>``) and its parameters
            (``<name>__<param>``).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        out = super().get_params(deep=deep)
        if not deep or not _is_member_list(self.estimators):
            return out
        out.update(self.estimators)
        for name, member in self.estimators:
            if hasattr(member, "get_params"):
                for key, value in member.get_params(deep=True).items():
                    out[f"{name}__{key}"] = value
        return out

    def set_params(self, **params):
        """Set parameters of the search, replace a member, or set its parameters.

        Parameters
        ----------
        **params : dict
            ``estimators``, a member name (a new estimator, or ``'drop'``),
            ``<name>__<param>``, or any parameter of the search.

        Returns
        -------
        self : VotingFusionSearch
            This search.
        """
        if "estimators" in params:
            self.estimators = params.pop("estimators")
        if _is_member_list(self.estimators):
            names = [name for name, _ in self.estimators]
            replaced = {k: params.pop(k) for k in list(params) if k in names}
            if replaced:
                self.estimators = [(name, replaced.get(name, member))
                                   for name, member in self.estimators]
        return super().set_params(**params)

    def _validate_estimators(self):
        if not _is_member_list(self.estimators) or not self.estimators:
            raise ValueError(
                "Invalid 'estimators' attribute, 'estimators' should be a "
                "non-empty list of (string, estimator) tuples."
            )
        names, members = zip(*self.estimators)
        if len(set(names)) != len(names):
            raise ValueError(f"Names provided are not unique: {list(names)!r}")
        clash = sorted(set(names) & set(super().get_params(deep=False)))
        if clash:
            raise ValueError(
                f"Estimator names conflict with constructor arguments: {clash!r}")
        bad = [name for name in names if "__" in name]
        if bad:
            raise ValueError(f"Estimator names must not contain __: got {bad!r}")
        if all(member == "drop" for member in members):
            raise ValueError(
                "All estimators are dropped. At least one is required to be an "
                "estimator.")
        for member in members:
            if member != "drop" and not is_classifier(member):
                raise ValueError(
                    f"The estimator {type(member).__name__} should be a classifier.")
        return names, members

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if _is_member_list(self.estimators):
            kept = [m for _, m in self.estimators if m != "drop"]
            tags.input_tags.allow_nan = all(get_tags(m).input_tags.allow_nan for m in kept)
            tags.input_tags.sparse = all(get_tags(m).input_tags.sparse for m in kept)
        return tags

    @_fit_context(
        # the members are validated by their own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, groups=None):
        """Predict with every member once, then score the subsets.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Whatever the members accept (feature matrix, file paths...).
            With ``cv='prefit'`` the development set.

        y : array-like of shape (n_samples,)
            Class labels.

        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter in ``cv`` (e.g. speakers with
            :class:`~sklearn.model_selection.GroupKFold`).

        Returns
        -------
        self : object
            The fitted search.
        """
        names, members = self._active_members()
        if _n_rows(X) == 0:
            raise ValueError(
                "Found array with 0 sample(s) in X; VotingFusionSearch needs "
                "at least one sample per class."
            )
        y_type = type_of_target(y, input_name="y")
        if y_type not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {y_type!r}. VotingFusionSearch needs "
                "binary or multi-class labels."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        self.le_ = LabelEncoder().fit(y)
        self.classes_ = self.le_.classes_
        y_encoded = self.le_.transform(y)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "VotingFusionSearch needs at least 2 classes in y, got 1 class "
                f"({self.classes_[0]!r})."
            )

        if self.search == "exhaustive":
            # refuse an oversize search before fitting any member
            subsets = self._exhaustive_subsets(len(names))
        probas = self._member_probas(names, members, X, y, groups)
        if self.search == "exhaustive":
            scores = self._score_subsets(probas, y, y_encoded, subsets)
        else:
            subsets, scores = self._greedy_search(probas, y, y_encoded)
        self.cv_results_ = self._results(names, subsets, scores)
        self.best_index_ = int(np.argmin(self.cv_results_["rank"]))
        self.best_score_ = float(self.cv_results_["score"][self.best_index_])
        self.best_members_ = self.cv_results_["members"][self.best_index_]
        if self.verbose:
            print(
                f"[VotingFusionSearch] best of {len(scores)} subsets: "
                f"{self.best_members_} score={self.best_score_:.6f}"
            )
        if self.cv == "prefit" or self.refit:
            self._fit_best(names, members, X, y)
        return self

    def _active_members(self):
        names, members = self._validate_estimators()
        kept = [(n, m) for n, m in zip(names, members) if m != "drop"]
        for name, member in kept:
            if not hasattr(member, "predict_proba"):
                raise ValueError(
                    f"Member {name!r} ({type(member).__name__}) has no "
                    "predict_proba; fusion averages probabilities. Use a "
                    "probabilistic classifier (e.g. SVC(probability=True))."
                )
        return [n for n, _ in kept], [m for _, m in kept]

    def _member_probas(self, names, members, X, y, groups):
        """(n_members, n_samples, n_classes) probabilities, each member once."""
        if self.cv == "prefit":
            probas = [
                self._prefit_proba(name, member, X)
                for name, member in zip(names, members)
            ]
        else:
            splits = list(
                check_cv(self.cv, y, classifier=True).split(X, y, groups)
            )
            probas = []
            for i, (name, member) in enumerate(zip(names, members)):
                if self.verbose:
                    print(
                        f"[VotingFusionSearch] ({i + 1} of {len(names)}) "
                        f"out-of-fold predictions of {name}"
                    )
                probas.append(
                    cross_val_predict(
                        clone(member), X, y, cv=splits, method="predict_proba"
                    )
                )
        probas = np.stack([np.asarray(p, dtype=np.float64) for p in probas])
        for name, proba in zip(names, probas):
            # the rank keys need values in [0, 2); allow rounding above 1
            finite = np.all(np.isfinite(proba))
            if not (finite and proba.min() >= 0 and proba.max() <= 1 + 1e-6):
                raise ValueError(
                    f"Member {name!r} predicted probabilities outside [0, 1] "
                    "(or not finite); check its input and its predict_proba."
                )
        return probas

    def _prefit_proba(self, name, member, X):
        try:
            check_is_fitted(member)
        except NotFittedError as exc:
            raise NotFittedError(
                f"Member {name!r} is not fitted, but cv='prefit' needs fitted "
                "members. Fit it first, or pass cv=5 to get out-of-fold "
                "predictions."
            ) from exc
        member_classes = getattr(member, "classes_", None)
        if member_classes is None or not np.array_equal(
            np.asarray(member_classes), self.classes_
        ):
            raise ValueError(
                f"Member {name!r} was fitted on classes {member_classes!r}, "
                f"but y has classes {self.classes_!r}; with cv='prefit' every "
                "member must know exactly the classes of y."
            )
        return member.predict_proba(X)

    def _exhaustive_subsets(self, n_members):
        max_size = n_members if self.max_size is None else min(self.max_size, n_members)
        n_subsets = sum(math.comb(n_members, k) for k in range(1, max_size + 1))
        if n_subsets > MAX_EXHAUSTIVE_SUBSETS:
            raise ValueError(
                f"Exhaustive search over {n_members} members (max_size="
                f"{self.max_size}) would score {n_subsets} subsets, more than "
                f"{MAX_EXHAUSTIVE_SUBSETS}. Use search='greedy', or limit "
                "max_size."
            )
        subsets = np.full((n_subsets, max_size), n_members, dtype=np.intp)
        row = 0
        for size in range(1, max_size + 1):
            block = np.array(
                list(itertools.combinations(range(n_members), size)), dtype=np.intp
            )
            subsets[row : row + len(block), :size] = block
            row += len(block)
        return subsets

    def _greedy_search(self, probas, y, y_encoded):
        n_members = probas.shape[0]
        n_steps = n_members if self.max_size is None else self.max_size
        bag = []
        subsets = np.full((n_steps, n_steps), n_members, dtype=np.intp)
        scores = np.empty(n_steps)
        candidates = np.full((n_members, n_steps), n_members, dtype=np.intp)
        for step in range(n_steps):
            for j in range(n_members):
                candidates[j, : step + 1] = sorted(bag + [j])
            candidate_scores = self._score_subsets(probas, y, y_encoded, candidates)
            best = int(np.argmax(candidate_scores))
            bag.append(best)
            subsets[step] = candidates[best]
            scores[step] = candidate_scores[best]
            if self.verbose:
                print(
                    f"[VotingFusionSearch] greedy step {step + 1}: add member "
                    f"{best}, score={scores[step]:.6f}"
                )
        return subsets, scores

    def _score_subsets(self, probas, y, y_encoded, subsets):
        """Score the average vote of each subset (rows of member indices)."""
        n_members, n_samples, n_classes = probas.shape
        fast = isinstance(self.scoring, str) and self.scoring in _FAST_SCORERS
        if fast and n_classes == 2:
            columns = probas[:, :, 1:]
        else:
            columns = probas
        # per class, one row per member and a zero row for the padding
        scores = np.zeros((columns.shape[2], n_members + 1, n_samples))
        scores[:, :n_members] = columns.transpose(2, 0, 1)
        sizes = np.count_nonzero(subsets < n_members, axis=1)

        if fast:
            scorer, labels = None, y_encoded
        else:
            scorer = (
                get_scorer(self.scoring)
                if isinstance(self.scoring, str)
                else self.scoring
            )
            labels = np.asarray(y)
        chunk = max(1, min(1024, _CHUNK_VALUES // (n_samples * scores.shape[0])))
        n_chunks = math.ceil(len(subsets) / chunk)
        # numpy sorts release the GIL: threads need no copies nor start-up
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_score_chunk)(
                scores,
                labels,
                subsets[i * chunk : (i + 1) * chunk],
                sizes[i * chunk : (i + 1) * chunk],
                scorer,
                self.classes_,
            )
            for i in range(n_chunks)
        )
        return np.concatenate(results)

    def _results(self, names, subsets, scores):
        n_members = len(names)
        n_subsets = len(subsets)
        member_tuples = np.empty(n_subsets, dtype=object)
        member_tuples[:] = [
            tuple(names[i] for i in row if i < n_members) for row in subsets
        ]
        results = {
            "members": member_tuples,
            "n_members": np.count_nonzero(subsets < n_members, axis=1),
            "score": np.asarray(scores, dtype=np.float64),
            "rank": rankdata(-np.asarray(scores), method="min").astype(np.int32),
        }
        for i, name in enumerate(names):
            results[f"member_{name}"] = np.any(subsets == i, axis=1)
        return results

    def _fit_best(self, names, members, X, y):
        bag = list(self.best_members_)
        best_names = [name for name in names if name in bag]
        by_name = dict(zip(names, members))
        fitted = []
        for name in best_names:
            if self.cv == "prefit":
                fitted.append(copy.deepcopy(by_name[name]))
            else:
                if self.verbose:
                    print(f"[VotingFusionSearch] refitting {name} on all data")
                fitted.append(clone(by_name[name]).fit(X, y))
        self.estimators_ = fitted
        self.named_estimators_ = Bunch(**dict(zip(best_names, fitted)))
        self.weights_ = np.array([bag.count(name) for name in best_names])
        if hasattr(fitted[0], "feature_names_in_"):
            self.feature_names_in_ = fitted[0].feature_names_in_

    @property
    def n_features_in_(self):
        """Number of features seen during :term:`fit`."""
        # hasattr() must be False when unfitted or without fitted members
        if not hasattr(self, "estimators_"):
            raise AttributeError(
                f"{type(self).__name__} object has no n_features_in_ attribute."
            )
        return self.estimators_[0].n_features_in_

    def _has_fitted_members(self):
        check_is_fitted(self)
        if not hasattr(self, "estimators_"):
            raise AttributeError(
                "predict and predict_proba need the best members fitted: use "
                "refit=True (or cv='prefit')."
            )
        return True

    @available_if(_has_fitted_members)
    def predict_proba(self, X):
        """Average of the best subset's predicted probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the members accept.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        probas = []
        for member, weight in zip(self.estimators_, self.weights_):
            proba = np.asarray(member.predict_proba(X), dtype=np.float64)
            probas.extend([proba] * int(weight))
        return average_probas(probas)

    @available_if(_has_fitted_members)
    def predict(self, X):
        """Class with the highest average probability of the best subset.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the members accept.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _is_member_list(estimators):
    return isinstance(estimators, list) and all(
        isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
        for item in estimators)


class _FusedProbabilities(ClassifierMixin, BaseEstimator):
    """Stands in for a subset, so that any scorer can read its average vote."""

    def __init__(self, classes, proba):
        self.classes = classes
        self.proba = proba

    @property
    def classes_(self):
        return self.classes

    def fit(self, X=None, y=None):
        return self

    def predict_proba(self, X):
        return self.proba

    def predict(self, X):
        return self.classes[np.argmax(self.proba, axis=1)]

    def __sklearn_is_fitted__(self):
        return True


def _score_chunk(scores, labels, subsets, sizes, scorer, classes):
    """Scores of a block of subsets; runs in the joblib workers."""
    if scorer is None:
        return subset_roc_auc(scores, labels, subsets, sizes)
    fused = np.stack(
        [average_scores(scores[k], subsets, sizes) for k in range(scores.shape[0])],
        axis=2,
    )
    return np.array(
        [scorer(_FusedProbabilities(classes, proba), None, labels) for proba in fused]
    )
