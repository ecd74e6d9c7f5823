"""The RBFM system as one classifier: embeddings, relevance masks and fusion."""

import inspect
import math
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.compose import ColumnTransformer
from sklearn.metrics import get_scorer, get_scorer_names, roc_auc_score
from sklearn.model_selection import check_cv
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, LabelEncoder, StandardScaler
from sklearn.utils import Bunch, check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from joblib import effective_n_jobs
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    check_memory,
    column_or_1d,
    validate_data,
)

from ._fast_auc import roc_auc_rows
from ._fusion import VotingFusionSearch, _FusedProbabilities
from .utils._validation import check_numeric
from .utils._validation import n_samples as _n_rows

MASKINGS = ("none", "minimal", "negative")
SELECTIONS = ("holdout", "exhaustive", "one_se", "greedy", "average")
_SUFFIX = {"none": "", "minimal": "_min", "negative": "_neg"}
# Bagged ensemble selection (Caruana et al. 2004, section 2.3): bags, and the
# share of the members each bag may choose from. The bags are a Monte Carlo
# estimate of the selection: with 20 of them the draw of the bags alone moved
# the fused test AUC by more than 0.01 on some FSDD tasks; 100 settle it
# (benchmarks/RESULTS.md) for a fraction of a second per fit.
_N_BAGS = 100
_BAG_FRACTION = 0.5


def default_base_estimator(random_state=None):
    """The base model RBFMClassifier uses when ``base_estimator=None``.

    A :class:`~sklearn_rbfm.KerasMLPClassifier` that holds its own against
    a tuned logistic regression on small data sets and stays cheap enough
    for the many fits of cross-fitting: one hidden layer of 64 ReLU units
    plus a linear path from the input to the output (``wide=True``), a
    strong L2 penalty (``alpha=3e-2``, about what a logistic regression
    with C=0.01 on 1500 samples puts on its weights), full-batch Adam
    (batches of up to 4096 samples) at a learning rate of 1e-2 for a fixed
    150 epochs, without early stopping: every sample is used for training
    and the penalty, not a validation split, stops the overfitting. On the
    FSDD embeddings (benchmarks/RESULTS.md) it matches a logistic
    regression whose C was chosen by speaker-grouped inner folds, where
    the former default (64 units, ``alpha=1e-3``, mini-batches, early
    stopping on a 20% split) was 0.014-0.022 AUC below it.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seed of the network.

    Returns
    -------
    estimator : KerasMLPClassifier
        The unfitted base model.

    Examples
    --------
    >>> from sklearn_rbfm._rbfm import default_base_estimator
    >>> base = default_base_estimator()
    >>> base.hidden_layer_sizes, base.wide, base.early_stopping
    ((64,), True, False)
    """
    from ._mlp import KerasMLPClassifier

    return KerasMLPClassifier(
        hidden_layer_sizes=(64,),
        alpha=3e-2,
        wide=True,
        epochs=150,
        batch_size=4096,
        learning_rate=1e-2,
        early_stopping=False,
        random_state=random_state,
    )


class RBFMClassifier(ClassifierMixin, BaseEstimator):
    """Relevance-based Feature Masking with decision-level fusion, end to end.

    The whole system of the RBFM paper as one estimator. For each embedding
    (the output of one embedder) it trains a base model, and, from that
    model's relevances, a model on the *minimal* features (the most relevant
    ones) and one on the *negatively* masked features (each sample without
    the features its base model relied on). With two or more embedders the
    embeddings are also concatenated (feature fusion, ``FF``, ``FF_min``,
    ``FF_neg``). These members, together with any ``extra_members``, are
    then fused by averaging the probabilities of a subset chosen on
    cross-fitted out-of-fold probabilities (``cv``), so that every sample's
    probability used for the choice comes from members that never saw its
    label.

    Parameters
    ----------
    embedders : list of (str, transformer) tuples or None, default=None
        None: ``X`` is already one embedding (a feature matrix); the members
        are ``base``, ``minimal`` and ``negative``. A list: each transformer
        maps ``X`` (waveforms, spectrograms, ...) to an embedding; the
        members are ``<name>``, ``<name>_min``, ``<name>_neg`` per embedder,
        plus ``FF``, ``FF_min``, ``FF_neg`` with two or more embedders (12
        members with three embedders, as in the paper). An embedder that
        may learn from labels is refitted on each inner training fold, so
        its embedding of the held-out fold never saw that fold's labels.
        Embedders known to be label-free are fitted once per :meth:`fit`:
        ``fine_tune`` unset (BirdNET, frozen CNNs), column selections,
        ``FunctionTransformer``, and the unsupervised transformers of
        ``sklearn.preprocessing``/``decomposition``/``impute`` and of this
        package, alone or in pipelines and unions.

    base_estimator : classifier or None, default=None
        Classifier trained on each standardised embedding. It must expose its
        fitted tf.keras model as ``model_`` when a masking is asked for
        (see :class:`RelevanceMasker`); None uses
        :func:`default_base_estimator`. The masked members are clones of it
        trained on the masked features.

    maskings : tuple of {"none", "minimal", "negative"}, default=("none", "minimal", "negative")
        Which members to build per embedding. The base model is always
        trained (the masks need its relevances) but is only a member with
        ``"none"``.

    feature_fusion : bool, default=True
        Add the ``FF`` members (concatenated embeddings) when there are two
        or more embedders.

    n_features : int or float, default=512
        Features kept by the minimal masking, per embedding; a float in
        (0, 1] is a fraction of the embedding's width. More than an
        embedding's width is an error naming the embedding.

    relevance_method : str, default="deep_taylor"
        Relevance method of the masks (see :class:`RelevanceMasker`).

    selection : {"greedy", "exhaustive", "one_se", "holdout", "average"}, \
default="greedy"
        How the fused subset is chosen from the out-of-fold probabilities:

        - ``"greedy"``: ensemble selection with replacement (Caruana et al.,
          2004), bagged: 100 greedy forward selections, each among a random
          half of the members, each stopped at its best step; a member's
          weight is the number of times it was picked over all bags.
        - ``"exhaustive"``: the best of all subsets on the pooled
          out-of-fold probabilities.
        - ``"one_se"``: the smallest subset whose mean fold score is within
          one standard error of the best mean fold score.
        - ``"holdout"``: the best subset on the first inner fold's held-out
          part only (the protocol of a fixed development set).
        - ``"average"``: all members, equal weights.

        All rules use the same members; the member models used for
        prediction are refitted on all the data given to :meth:`fit`.

    cv : int, cross-validation generator or iterable, default=5
        Inner cross-fitting; an int is a stratified split. Pass ``groups``
        to :meth:`fit` for a group splitter. The folds must partition the
        samples.

    scoring : str or callable, default="roc_auc"
        Score the selection maximises (see :class:`VotingFusionSearch`).

    extra_members : list of (str, classifier) tuples or None, default=None
        Plain scikit-learn classifiers added to the candidates, each trained
        on every embedding (unstandardised; put a scaler in a pipeline if
        needed), named ``<embedder>_<name>`` (``<name>`` when
        ``embedders=None``).

    memory : str, joblib.Memory or None, default=None
        Caches the embedders' ``fit_transform`` (as
        :class:`~sklearn.pipeline.Pipeline` does), which pays off when the
        same data are fitted again (e.g. in a grid search over the
        selection).

    n_jobs : int or None, default=None
        The inner folds and the refit on all the data (each: the embedders
        that learn from labels, then every member) run in parallel with
        joblib, at most ``len(cv folds) + 1`` at a time (``None``: one at a
        time; ``-1``: all cores).

    random_state : int, RandomState instance or None, default=None
        Seeds the members (through their ``random_state``) and the bagged
        selection.

    verbose : int, default=0
        Print progress when above 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    embedders_ : list of (str, transformer) tuples
        The embedders fitted on all the data (empty with ``embedders=None``).

    members_ : :class:`~sklearn.utils.Bunch`
        Every candidate member, refitted on all the data: a fitted pipeline
        from the concatenated embeddings to class probabilities. The masked
        members hold the fitted base model of their embedding inside their
        :class:`RelevanceMasker` (``prefit=True``): it is not trained twice.

    weights_ : ndarray of shape (n_members,)
        Weight of each member (in ``members_`` order) in the fused
        probability; zero for members left out.

    best_members_ : tuple of str
        Chosen members, a member repeated as often as its weight.

    best_score_ : float
        ``scoring`` of the chosen fusion on the pooled out-of-fold
        probabilities. It is optimistic (the choice was made on them); an
        honest estimate comes from an outer cross-validation of this
        estimator.

    cv_results_ : dict of numpy arrays
        All non-empty subsets of the members (greedy trajectory above 20
        members): ``params``, ``members``, ``n_members``, ``member_<name>``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score`` (per inner fold, as in
        :class:`~sklearn.model_selection.GridSearchCV`), and ``score`` /
        ``rank`` on the pooled out-of-fold probabilities.

    oof_proba_ : ndarray of shape (n_members, n_samples, n_classes)
        The out-of-fold probabilities of every member.

    n_features_in_ : int
        Number of features seen during fit (only with ``embedders=None``).

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (only with ``embedders=None``
        and string column names).

    See Also
    --------
    VotingFusionSearch : The subset search on its own.
    RelevanceMasker : The masks.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_rbfm import KerasMLPClassifier, RBFMClassifier
    >>> X, y = make_classification(n_samples=120, n_features=8, random_state=0)
    >>> base = KerasMLPClassifier((16,), epochs=20, learning_rate=0.02,
    ...                           early_stopping=False)
    >>> clf = RBFMClassifier(base_estimator=base, n_features=4, cv=3,
    ...                      extra_members=[("lr", LogisticRegression())],
    ...                      random_state=0).fit(X, y)
    >>> list(clf.members_)
    ['base', 'minimal', 'negative', 'lr']
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.best_score_ > 0.8)
    True
    """

    _parameter_constraints = {
        "embedders": [list, None],
        "base_estimator": [HasMethods(["fit", "predict_proba"]), None],
        "maskings": [tuple, list],
        "feature_fusion": ["boolean"],
        "n_features": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
        ],
        "relevance_method": [str],
        "selection": [StrOptions(set(SELECTIONS))],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "extra_members": [list, None],
        "memory": [None, str, HasMethods(["cache"])],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        embedders=None,
        *,
        base_estimator=None,
        maskings=MASKINGS,
        feature_fusion=True,
        n_features=512,
        relevance_method="deep_taylor",
        selection="greedy",
        cv=5,
        scoring="roc_auc",
        extra_members=None,
        memory=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.embedders = embedders
        self.base_estimator = base_estimator
        self.maskings = maskings
        self.feature_fusion = feature_fusion
        self.n_features = n_features
        self.relevance_method = relevance_method
        self.selection = selection
        self.cv = cv
        self.scoring = scoring
        self.extra_members = extra_members
        self.memory = memory
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        base = self.base_estimator
        tags.non_deterministic = self.random_state is None or (
            base is not None and get_tags(base).non_deterministic
        )
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Fit the members out of fold, choose the fusion, refit on all data.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            One embedding per row with ``embedders=None``; otherwise what
            the embedders take (waveforms, file paths, ...).

        y : array-like of shape (n_samples,)
            Class labels.

        groups : array-like of shape (n_samples,), default=None
            Group labels (speakers, recordings) for a group splitter in
            ``cv``. Embedders that learn from labels and whose ``fit`` takes
            ``groups`` (e.g. a fine-tuned :class:`CNNEmbedder`, which then
            stops early on held-out groups) get the groups of the rows they
            are fitted on.

        Returns
        -------
        self : RBFMClassifier
            The fitted classifier.
        """
        self._check_params()
        if self.embedders is None:
            X, y = validate_data(self, check_numeric(X), y, dtype=[np.float64, np.float32])
        else:
            if _n_rows(X) == 0:
                raise ValueError("Found array with 0 sample(s) in X; RBFMClassifier needs data.")
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
        check_classification_targets(y)
        self._le = LabelEncoder().fit(y)
        self.classes_ = self._le.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "RBFMClassifier needs at least 2 classes in y, got 1 class "
                f"({self.classes_[0]!r})."
            )
        y_enc = self._le.transform(y)
        n_samples = len(y_enc)
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(y, groups)
        splits = list(check_cv(self.cv, y, classifier=True).split(
            np.zeros((n_samples, 1)), y, groups))
        held_out = np.concatenate([test for _, test in splits])
        if len(held_out) != n_samples or len(np.unique(held_out)) != n_samples:
            raise ValueError(
                f"cv={self.cv!r} does not put every sample in exactly one test "
                "fold; the out-of-fold probabilities need a partition such as "
                "(Stratified/Group)KFold."
            )
        rng = check_random_state(self.random_state)
        self._seeds = rng.randint(np.iinfo(np.int32).max, size=1024)
        memory = check_memory(self.memory)
        embed_fit = memory.cache(_fit_embed)

        names = [] if self.embedders is None else [n for n, _ in self.embedders]
        learns = [_learns_from_labels(e) for _, e in (self.embedders or [])]
        fixed, fitted_fixed = {}, {}
        if self.embedders is None:
            fixed[None] = np.asarray(X, dtype=np.float32)
        else:
            for name, embedder, supervised in zip(names, [e for _, e in self.embedders], learns):
                if not supervised:
                    self._say(f"embedding with {name}")
                    fitted_fixed[name], fixed[name] = embed_fit(clone(embedder), X, None, None)

        # The inner folds and the refit on all the data are independent jobs:
        # each embeds its part (refitting the embedders that learn from
        # labels) and fits its members, so with n_jobs they run side by side.
        jobs = [(train, test) for train, test in splits] + [(None, None)]
        outcomes = Parallel(n_jobs=min(effective_n_jobs(self.n_jobs), len(jobs)))(
            delayed(self._fit_part)(X, y, y_enc, groups, train, test, fixed,
                                    fitted_fixed, learns)
            for train, test in jobs)
        self._slices = outcomes[-1]["slices"]
        member_names = list(outcomes[-1]["members"])
        oof = np.zeros((len(member_names), n_samples, len(self.classes_)))
        for (_, test), outcome in zip(splits, outcomes):
            oof[:, test] = outcome["proba"]
        self.oof_proba_ = oof
        self.embedders_ = outcomes[-1]["embedders"]
        self.members_ = Bunch(**outcomes[-1]["members"])
        self._splits_test = [test for _, test in splits]
        weights, self.cv_results_ = self._select(self.selection, y_enc)
        self.weights_ = weights // np.gcd.reduce(weights[weights > 0])
        self.best_members_ = tuple(
            name for name, w in zip(self.members_, self.weights_) for _ in range(int(w)))
        self.best_score_ = float(self._score_fused(
            _weighted_average(self.oof_proba_, self.weights_), y_enc))
        self._say(f"fusion of {self.best_members_}: out-of-fold {self.scoring} "
                  f"{self.best_score_:.4f}")
        return self

    def _fit_part(self, X, y, y_enc, groups, train, test, fixed, fitted_fixed, learns):
        """Embed and fit the members on ``train`` (all rows when None).

        An inner fold returns the members' probabilities on its ``test``
        rows; the refit on all the data returns the fitted embedders and
        members.
        """
        names = [] if self.embedders is None else [n for n, _ in self.embedders]
        embed_fit = check_memory(self.memory).cache(_fit_embed)
        rows = slice(None) if train is None else train
        if self.embedders is None:
            z_train = fixed[None][rows]
            z_test = None if test is None else fixed[None][test]
            widths, embedders = [z_train.shape[1]], []
        else:
            blocks_train, blocks_test, embedders = [], [], []
            for name, (_, embedder), supervised in zip(names, self.embedders, learns):
                if supervised:
                    what = "all the data" if train is None else "an inner training fold"
                    self._say(f"fitting {name} on {what}")
                    fitted, z, z_other = embed_fit(
                        clone(embedder), X if train is None else _take(X, train),
                        y if train is None else y[train],
                        None if test is None else _take(X, test),
                        None if groups is None else groups[rows])
                else:
                    # fitted once on all the data: it never sees the labels
                    fitted, z = fitted_fixed[name], fixed[name][rows]
                    z_other = None if test is None else fixed[name][test]
                embedders.append((name, fitted))
                blocks_train.append(z)
                blocks_test.append(z_other)
            widths = [block.shape[1] for block in blocks_train]
            z_train = np.hstack(blocks_train).astype(np.float32)
            z_test = None if test is None else np.hstack(blocks_test).astype(np.float32)
        slices = _slices(names, widths)
        self._check_widths(slices)
        members = self._fit_members(z_train, y_enc[rows], slices)
        if test is None:
            return {"slices": slices, "embedders": embedders, "members": members}
        n_classes = len(self.classes_)
        return {"proba": np.stack([_full_proba(m, z_test, n_classes)
                                   for m in members.values()])}

    def _check_params(self):
        unknown = [m for m in self.maskings if m not in MASKINGS]
        if unknown or not self.maskings:
            raise ValueError(
                f"maskings must be a non-empty tuple of {MASKINGS}, got {self.maskings!r}.")
        if self.embedders is not None:
            names = [n for n, _ in self.embedders]
            if not names or len(set(names)) != len(names):
                raise ValueError(
                    f"embedders need distinct names and at least one embedder; got {names}.")
            if "FF" in names:
                raise ValueError("'FF' is reserved for the feature-fusion members; rename "
                                 "that embedder.")
        for name, est in self.extra_members or []:
            if not hasattr(est, "predict_proba"):
                raise ValueError(
                    f"extra member {name!r} ({type(est).__name__}) has no predict_proba; "
                    "fusion averages probabilities.")

    def _check_widths(self, slices):
        if "minimal" not in self.maskings or not isinstance(self.n_features, Integral):
            return
        for name, sl in slices.items():
            width = sl.stop - sl.start
            if self.n_features > width:
                what = "X" if name is None else f"embedder {name!r}"
                raise ValueError(
                    f"n_features={self.n_features} is larger than the {width} "
                    f"features of {what}. Pass n_features <= {width}, or a "
                    "fraction in (0, 1].")

    def _say(self, text):
        if self.verbose:
            print(f"[RBFMClassifier] {text}")

    # -------------------------------------------------------------- members
    def _base(self, index):
        base = self.base_estimator
        if base is None:
            base = default_base_estimator()
        base = clone(base)
        if "random_state" in base.get_params():
            base.set_params(random_state=int(self._seeds[index % len(self._seeds)]))
        return base

    def _fit_members(self, Z, y, slices):
        """Every member fitted on the concatenated embeddings ``Z``."""
        from ._masker import RelevanceMasker

        Z = np.asarray(Z, dtype=np.float32)
        members, parts, seed = {}, {}, 0
        for name, sl in slices.items():
            label = "base" if name is None else name
            columns = FunctionTransformer(
                _columns, kw_args={"start": sl.start, "stop": sl.stop}).fit(Z)
            scaler = StandardScaler().fit(columns.transform(Z))
            S = scaler.transform(columns.transform(Z)).astype(np.float32)
            base = self._base(seed).fit(S, y)
            seed += 1
            prep = [("columns", columns), ("scale", scaler)]
            parts[name] = {"none": (prep, S)}
            if "none" in self.maskings:
                members[label] = Pipeline(prep + [("clf", base)])
            for masking in ("minimal", "negative"):
                if masking not in self.maskings:
                    continue
                masker = RelevanceMasker(
                    base, method=self.relevance_method, strategy=masking,
                    n_features=self.n_features, prefit=True)
                M = masker.fit_transform(S, y)
                steps = prep + [("mask", masker)]
                parts[name][masking] = (steps, M)
                clf = self._base(seed).fit(M, y)
                seed += 1
                members[masking if name is None else name + _SUFFIX[masking]] = (
                    Pipeline(steps + [("clf", clf)]))
        if self.embedders is not None and len(slices) > 1 and self.feature_fusion:
            for masking in self.maskings:
                union = FeatureUnion([
                    (name, Pipeline(parts[name][masking][0])) for name in slices])
                F = np.hstack([parts[name][masking][1] for name in slices])
                clf = self._base(seed).fit(F, y)
                seed += 1
                members["FF" + _SUFFIX[masking]] = Pipeline(
                    [("features", union), ("clf", clf)])
        for extra_name, estimator in self.extra_members or []:
            for name, sl in slices.items():
                columns = FunctionTransformer(
                    _columns, kw_args={"start": sl.start, "stop": sl.stop}).fit(Z)
                clf = clone(estimator)
                if "random_state" in clf.get_params():
                    clf.set_params(random_state=int(self._seeds[-1 - seed]))
                seed += 1
                clf.fit(columns.transform(Z), y)
                label = extra_name if name is None else f"{name}_{extra_name}"
                members[label] = Pipeline([("columns", columns), ("clf", clf)])
        return members

    # ------------------------------------------------------------ selection
    def _score_fused(self, proba, y_enc):
        if self.scoring in ("roc_auc", "roc_auc_ovr"):
            present = np.unique(y_enc)
            if len(present) < 2:
                return np.nan
            if proba.shape[1] == 2:
                return roc_auc_score(y_enc, proba[:, 1])
            return roc_auc_score(y_enc, proba, multi_class="ovr",
                                 labels=np.arange(proba.shape[1]))
        scorer = get_scorer(self.scoring) if isinstance(self.scoring, str) else self.scoring
        return scorer(_FusedProbabilities(np.arange(proba.shape[1]), proba), None, y_enc)

    def _search(self, index, y_enc, search="exhaustive", max_size=None, members=None):
        """A VotingFusionSearch over the stored out-of-fold probabilities."""
        names = list(self.members_)
        members = range(len(names)) if members is None else members
        stored = [(names[m], _StoredProba(self.oof_proba_[m], len(self.classes_)))
                  for m in members]
        return VotingFusionSearch(
            stored, scoring=self.scoring, cv="prefit", search=search,
            max_size=max_size).fit(index, y_enc[index])

    def _select(self, selection, y_enc):
        names = list(self.members_)
        n_members = len(names)
        every = np.arange(len(y_enc))
        search = "exhaustive" if n_members <= 20 else "greedy"
        pooled = self._search(every, y_enc, search=search)
        results = {k: v for k, v in pooled.cv_results_.items()}
        splits = []
        for test in self._splits_test:
            if len(np.unique(y_enc[test])) < 2 and self.scoring in ("roc_auc", "roc_auc_ovr"):
                splits.append(np.full(len(results["score"]), np.nan))
                continue
            if search == "exhaustive":
                splits.append(self._search(test, y_enc).cv_results_["score"])
            else:
                splits.append(np.array([
                    self._score_fused(_weighted_average(
                        self.oof_proba_[:, test], _counts(members, names)), y_enc[test])
                    for members in results["members"]]))
        splits = np.array(splits)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(splits, axis=0) if np.isfinite(splits).any() else results["score"]
            std = np.nanstd(splits, axis=0) if np.isfinite(splits).any() else np.zeros_like(mean)
        for k, s in enumerate(splits):
            results[f"split{k}_test_score"] = s
        results["mean_test_score"] = mean
        results["std_test_score"] = std
        from scipy.stats import rankdata

        results["rank_test_score"] = rankdata(-mean, method="min").astype(np.int32)
        params = np.empty(len(mean), dtype=object)
        params[:] = [{"members": m} for m in results["members"]]
        results["params"] = params

        if selection == "average":
            weights = np.ones(n_members, dtype=int)
        elif selection == "exhaustive":
            weights = _counts(results["members"][int(np.argmin(results["rank"]))], names)
        elif selection == "holdout":
            first = splits[0] if np.isfinite(splits[0]).any() else results["score"]
            weights = _counts(results["members"][int(np.nanargmax(first))], names)
        elif selection == "one_se":
            best = int(np.nanargmax(mean))
            n_folds = np.sum(np.isfinite(splits[:, best]))
            threshold = mean[best] - std[best] / math.sqrt(max(1, n_folds))
            ok = np.flatnonzero(mean >= threshold)
            sizes = results["n_members"][ok]
            smallest = ok[sizes == sizes.min()]
            weights = _counts(results["members"][smallest[np.argmax(mean[smallest])]], names)
        else:
            weights = self._bagged_greedy(y_enc, names)
        return weights, results

    def _bagged_greedy(self, y_enc, names):
        n_members = len(names)
        rng = np.random.RandomState(int(self._seeds[0]))
        weights = np.zeros(n_members, dtype=int)
        per_bag = max(1, int(round(_BAG_FRACTION * n_members)))
        for _ in range(_N_BAGS if n_members > 1 else 1):
            allowed = np.sort(rng.choice(n_members, per_bag, replace=False))
            weights += self._greedy(y_enc, allowed, n_steps=2 * per_bag)
        return weights

    def _greedy(self, y_enc, allowed, n_steps):
        """Forward selection with replacement; the counts of its best step."""
        n_classes = self.oof_proba_.shape[2]
        # ROC AUC (one-vs-rest, macro, when there are more than two classes)
        # of all candidates at once: what _score_fused returns, vectorised
        fast_auc = (self.scoring in ("roc_auc", "roc_auc_ovr")
                    and len(np.unique(y_enc)) == n_classes)
        total = np.zeros(self.oof_proba_.shape[1:])
        counts = np.zeros(len(self.oof_proba_), dtype=int)
        best_score, best_counts = -np.inf, counts
        for step in range(1, n_steps + 1):
            candidates = (total[None] + self.oof_proba_[allowed]) / step
            if fast_auc and n_classes == 2:
                scores = roc_auc_rows(y_enc == 1, candidates[:, :, 1])
            elif fast_auc:
                scores = np.mean([roc_auc_rows(y_enc == k, candidates[:, :, k])
                                  for k in range(n_classes)], axis=0)
            else:
                scores = np.array([self._score_fused(c, y_enc) for c in candidates])
            pick = allowed[int(np.argmax(scores))]
            total += self.oof_proba_[pick]
            counts = counts.copy()
            counts[pick] += 1
            # a later step must do strictly better: smaller bags win ties
            if scores.max() > best_score:
                best_score, best_counts = scores.max(), counts
        return best_counts

    # ------------------------------------------------------------- predict
    def _embed(self, X):
        check_is_fitted(self)
        if self.embedders is None:
            X = validate_data(self, check_numeric(X), dtype=[np.float64, np.float32],
                              reset=False)
            return np.asarray(X, dtype=np.float32)
        return np.hstack([e.transform(X) for _, e in self.embedders_]).astype(np.float32)

    def predict_member_proba(self, X):
        """Probabilities of every member, chosen or not.

        The embeddings are computed once for all members.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            As in :meth:`fit`.

        Returns
        -------
        probas : ndarray of shape (n_members, n_samples, n_classes)
            One block per member, in ``members_`` order.
        """
        check_is_fitted(self)
        Z = self._embed(X)
        return np.stack([_full_proba(m, Z, len(self.classes_))
                         for m in self.members_.values()])

    def predict_proba(self, X):
        """Weighted average of the chosen members' probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            As in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._fused_proba(self._embed(X))

    def _fused_proba(self, Z):
        # Z: the embeddings side by side, as _embed returns them; detection
        # computes them block-wise in its producer thread and calls this
        probas = np.zeros((len(self.members_), _n_rows(Z), len(self.classes_)))
        for m, member in enumerate(self.members_.values()):
            if self.weights_[m]:
                probas[m] = _full_proba(member, Z, len(self.classes_))
        return _weighted_average(probas, self.weights_)

    def decision_function(self, X):
        """Fused probabilities as decision values.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            As in :meth:`fit`.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the probability of ``classes_[1]`` minus that of
            ``classes_[0]`` (positive means ``classes_[1]``); otherwise the
            probability of each class.
        """
        proba = self.predict_proba(X)
        return proba[:, 1] - proba[:, 0] if proba.shape[1] == 2 else proba

    def predict(self, X):
        """Class with the highest fused probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            As in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _StoredProba(ClassifierMixin, BaseEstimator):
    """A member whose predictions are rows of stored probabilities."""

    def __init__(self, proba, n_classes):
        self.proba = proba
        self.n_classes = n_classes

    @property
    def classes_(self):
        return np.arange(self.n_classes)

    def fit(self, X=None, y=None):
        return self

    def predict_proba(self, X):
        return self.proba[np.asarray(X, dtype=np.intp).ravel()]

    def __sklearn_is_fitted__(self):
        return True


def _columns(Z, start, stop):
    return np.asarray(Z)[:, start:stop]


def _take(X, rows):
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if isinstance(X, list):
        return [X[i] for i in rows]
    return np.asarray(X)[rows]


def _fit_embed(embedder, X, y, X_other, groups=None):
    """Fit ``embedder``; its embedding of ``X`` (and of ``X_other``).

    ``groups`` reach the embedder's ``fit`` when it takes them.
    """
    takes_groups = groups is not None and "groups" in inspect.signature(embedder.fit).parameters
    params = {"groups": groups} if takes_groups else {}
    Z = np.asarray(embedder.fit_transform(X) if y is None
                   else embedder.fit_transform(X, y, **params), dtype=np.float32)
    if X_other is None:
        return (embedder, Z) if y is None else (embedder, Z, None)
    return embedder, Z, np.asarray(embedder.transform(X_other), dtype=np.float32)


# Modules whose transformers never look at y unless their tags require it.
_LABEL_FREE_MODULES = ("sklearn.preprocessing", "sklearn.decomposition",
                       "sklearn.impute", "sklearn.kernel_approximation",
                       "sklearn_rbfm")


def _learns_from_labels(estimator):
    """Whether fitting ``estimator`` may use the labels (so it is cross-fitted).

    Known label-free: "passthrough", column selections and unions of
    label-free parts, FunctionTransformer, an embedder with ``fine_tune``
    unset, and the unsupervised transformers of scikit-learn's
    preprocessing, decomposition and imputation modules and of this
    package. Anything else is assumed to learn from the labels.
    """
    if estimator is None or isinstance(estimator, str):
        return False
    if isinstance(estimator, Pipeline):
        return any(_learns_from_labels(step) for _, step in estimator.steps)
    if isinstance(estimator, FeatureUnion):
        return any(_learns_from_labels(t) for _, t in estimator.transformer_list)
    if isinstance(estimator, ColumnTransformer):
        return any(_learns_from_labels(t) for _, t, _ in estimator.transformers)
    if isinstance(estimator, FunctionTransformer):
        return False
    params = estimator.get_params(deep=False)
    if "fine_tune" in params:
        return bool(params["fine_tune"])
    if get_tags(estimator).target_tags.required:
        return True
    return not type(estimator).__module__.startswith(_LABEL_FREE_MODULES)


def _slices(names, widths):
    slices, start = {}, 0
    for name, width in zip(names or [None], widths):
        slices[name] = slice(start, start + width)
        start += width
    return slices


def _full_proba(member, Z, n_classes):
    proba = np.asarray(member.predict_proba(Z), dtype=np.float64)
    classes = np.asarray(member.classes_, dtype=np.intp)
    if len(classes) == n_classes:
        return proba
    # a fold without some class: those columns get probability zero
    full = np.zeros((len(proba), n_classes))
    full[:, classes] = proba
    return full


def _counts(members, names):
    members = list(members)
    return np.array([members.count(name) for name in names], dtype=int)


def _weighted_average(probas, weights):
    weights = np.asarray(weights, dtype=np.float64)
    kept = np.flatnonzero(weights)
    fused = np.zeros(probas.shape[1:])
    for m in kept:
        fused += weights[m] * probas[m]
    return fused / weights[kept].sum()

