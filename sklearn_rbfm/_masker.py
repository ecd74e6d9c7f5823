"""Relevance-based Feature Masking (RBFM) as a scikit-learn transformer."""

import copy
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.model_selection import check_cv
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._relevance_worker import ANALYZERS
from .utils._validation import check_numeric


class RelevanceMasker(SelectorMixin, BaseEstimator):
    """Mask features by the relevance of a base model's decisions.

    Fits a base model (by default :class:`KerasMLPClassifier`), explains every
    training sample with a relevance method (deep Taylor decomposition by
    default: the relevance of the class the base model predicts, propagated
    back to each input feature) and masks features accordingly:

    - ``strategy="minimal"`` keeps the ``n_features`` features with the
      highest mean relevance over the training set. It is a feature selector
      like :class:`~sklearn.feature_selection.SelectFromModel`: the output is
      narrower, the same columns are kept for every sample, and
      ``get_support``, ``get_feature_names_out`` and ``inverse_transform``
      work as usual.
    - ``strategy="negative"`` zeroes, per sample, every feature whose
      relevance is above that sample's mean relevance, so that a model
      trained on the output must rely on what the base model ignored. It is
      not a selector: the output keeps the input's width, and *which*
      features are zeroed differs from sample to sample. New samples are
      explained at ``transform`` time by ``estimator_``, so ``transform``
      runs the relevance analysis each time it is called.

    The analysis runs in the calling process with the package's native,
    eager relevance engine; ``engine="innvestigate"`` uses iNNvestigate in a
    worker process instead (see Notes).

    Parameters
    ----------
    estimator : estimator object, default=None
        Classifier exposing its fitted tf.keras model as ``model_`` and taking
        ``X`` as the model's input, such as :class:`KerasMLPClassifier` (the
        default, with its default parameters). It is cloned unless
        ``prefit=True``.

    method : str, default="deep_taylor"
        Relevance method: one of ``"deep_taylor"``, ``"lrp.z"``,
        ``"lrp.epsilon"``, ``"lrp.alpha_1_beta_0"``, ``"gradient"``,
        ``"input_t_gradient"``, ``"integrated_gradients"``, ``"smoothgrad"``,
        ... (all listed in :func:`~sklearn_rbfm.explain.compute_relevance`).

    strategy : {"minimal", "negative"}, default="minimal"
        How relevance becomes a mask (see above).

    n_features : int or float, default=512
        Number of features kept by ``strategy="minimal"``; a float in
        (0, 1] is a fraction of the input width (at least one feature).
        Asking for more features than the input has is an error. Ignored by
        ``strategy="negative"``.

    prefit : bool, default=False
        Whether ``estimator`` is already fitted. It is then deep-copied, not
        refitted, and ``cv`` must be None.

    cv : int, cross-validation generator, iterable or None, default=None
        If set, the training relevances (hence ``feature_relevance_``, and the
        masks ``fit_transform`` returns for 'negative') come out-of-fold:
        each training sample is explained by a clone of ``estimator`` fitted
        on the other folds. A network that has memorised its training
        samples explains them differently from unseen ones; this matters when
        the base model overfits (small or noisy training sets, many epochs)
        and when the masked training data train a second model, as in the
        'negative' recipe. Pass ``groups`` to :meth:`fit` with a group-aware
        splitter. ``estimator_`` is still fitted on all the data.

    method_kwargs : dict or None, default=None
        Extra arguments of the analyzer (e.g. ``{"epsilon": 0.1}`` for
        ``"lrp.epsilon"``, ``{"steps": 32}`` for ``"integrated_gradients"``).

    batch_size : int, default=256
        Samples analysed at once; bounds the memory used.

    engine : {"native", "innvestigate"}, default="native"
        Relevance engine: the package's own, in the calling process, or
        iNNvestigate in a graph-mode worker process (the reference).

    verbose : int, default=0
        Show a progress bar over the batches being explained.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted base model whose relevances define the masks.

    feature_relevance_ : ndarray of shape (n_features_in_,)
        Mean relevance of each feature over the training samples.

    support_ : ndarray of shape (n_features_in_,), dtype=bool
        Features kept by ``strategy="minimal"``; all True for "negative".

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    sklearn.feature_selection.SelectFromModel : Selection by a model's own
        feature importances.
    KerasMLPClassifier : The default base model.

    Notes
    -----
    The native engine computes relevance eagerly in the calling process and
    gives iNNvestigate's results on the networks both can analyse.
    iNNvestigate needs TensorFlow's graph mode, which is process-wide, so
    ``engine="innvestigate"`` sends each model's architecture and weights to
    one long-lived worker process (started on the first analysis) that runs
    in graph mode. Neither changes TensorFlow's mode in the calling process.

    Unlike a selector, ``fit(X).transform(X)`` and ``fit_transform(X)`` differ
    for ``strategy="negative"`` when ``cv`` is set: ``fit_transform`` masks the
    training samples with their out-of-fold relevances (as
    :class:`~sklearn.preprocessing.TargetEncoder` does with its encodings).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_rbfm import KerasMLPClassifier, RelevanceMasker
    >>> X, y = make_classification(n_samples=200, n_features=10, n_informative=3,
    ...                            shuffle=False, random_state=0)
    >>> base = KerasMLPClassifier(hidden_layer_sizes=(16,), epochs=20,
    ...                           learning_rate=0.02, random_state=0)
    >>> masker = RelevanceMasker(base, n_features=4).fit(X, y)
    >>> masker.transform(X).shape
    (200, 4)
    >>> negative = RelevanceMasker(base, strategy="negative").fit(X, y)
    >>> Xn = negative.transform(X)
    >>> Xn.shape, bool((Xn == 0).any())
    ((200, 10), True)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "method": [StrOptions(set(ANALYZERS))],
        "strategy": [StrOptions({"minimal", "negative"})],
        "n_features": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
        ],
        "prefit": ["boolean"],
        "cv": ["cv_object"],
        "method_kwargs": [dict, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "engine": [StrOptions({"native", "innvestigate"})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="deep_taylor",
        strategy="minimal",
        n_features=512,
        prefit=False,
        cv=None,
        method_kwargs=None,
        batch_size=256,
        engine="native",
        verbose=0,
    ):
        self.estimator = estimator
        self.method = method
        self.strategy = strategy
        self.n_features = n_features
        self.prefit = prefit
        self.cv = cv
        self.method_kwargs = method_kwargs
        self.batch_size = batch_size
        self.engine = engine
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.non_deterministic = get_tags(self._base_estimator()).non_deterministic
        return tags

    def _base_estimator(self):
        if self.estimator is not None:
            return self.estimator
        from ._mlp import KerasMLPClassifier

        return KerasMLPClassifier()

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Fit the base model and compute the training relevances.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.

        y : array-like of shape (n_samples,)
            Class labels.

        groups : array-like of shape (n_samples,), default=None
            Group labels for a group-aware ``cv`` splitter.

        Returns
        -------
        self : RelevanceMasker
            The fitted masker.
        """
        self._fit(X, y, groups)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None, groups=None):
        """Fit, then mask the training samples with their training relevances.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.

        y : array-like of shape (n_samples,)
            Class labels.

        groups : array-like of shape (n_samples,), default=None
            Group labels for a group-aware ``cv`` splitter.

        Returns
        -------
        X_masked : ndarray of shape (n_samples, n_kept)
            ``n_kept`` is the number of selected features for 'minimal' and
            the input width for 'negative'.
        """
        X_checked, relevance = self._fit(X, y, groups)
        if self.strategy == "negative":
            return _zero_above_mean(X_checked, relevance)
        return X_checked[:, self.support_]

    def _fit(self, X, y, groups):
        check_numeric(X)
        X_checked, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_min_features=1
        )
        n_in = X_checked.shape[1]
        n_keep = None
        if self.strategy == "minimal":
            n_keep = self._resolve_n_features(n_in)
        if self.prefit:
            if self.cv is not None:
                raise ValueError(
                    "cv cannot be used with prefit=True: out-of-fold relevances "
                    "need to refit the estimator. Set cv=None or prefit=False."
                )
            if self.estimator is None:
                raise ValueError("prefit=True needs a fitted estimator; got estimator=None.")
            check_is_fitted(self.estimator)
            self.estimator_ = copy.deepcopy(self.estimator)
        else:
            self.estimator_ = clone(self._base_estimator()).fit(X, y)
        if self.cv is None:
            relevance = self._relevance(self.estimator_, X_checked, X)
        else:
            relevance = self._out_of_fold_relevance(X, X_checked, y, groups)
        self.feature_relevance_ = relevance.mean(axis=0, dtype=np.float64)
        if n_keep is None:
            self.support_ = np.ones(n_in, dtype=bool)
        else:
            # A stable sort keeps ties in column order, so masks are repeatable.
            order = np.argsort(-self.feature_relevance_, kind="stable")
            self.support_ = np.zeros(n_in, dtype=bool)
            self.support_[order[:n_keep]] = True
        return X_checked, relevance

    def _resolve_n_features(self, n_in):
        if isinstance(self.n_features, Integral):
            if self.n_features > n_in:
                raise ValueError(
                    f"n_features={self.n_features} is larger than the number of "
                    f"input features ({n_in}). Pass n_features <= {n_in}, or a "
                    "fraction in (0, 1]."
                )
            return int(self.n_features)
        return max(1, int(self.n_features * n_in))

    def _relevance(self, estimator, X, X_given):
        """Relevance of the validated ``X``.

        ``X_given`` is ``X`` as passed, with any feature names, for ``predict``.
        """
        from .explain import compute_relevance

        model = _keras_model(estimator)
        # the class each sample is explained for is the estimator's own
        # decision, as a column of its classes_
        predicted = np.asarray(estimator.predict(X_given))
        target = np.searchsorted(estimator.classes_, predicted).astype(np.int64)
        starts = range(0, len(X), self.batch_size)
        if self.verbose:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="relevance", unit="batch")
        parts = [
            compute_relevance(
                model,
                X[start : start + self.batch_size],
                method=self.method,
                target=target[start : start + self.batch_size],
                batch_size=self.batch_size,
                engine=self.engine,
                **(self.method_kwargs or {}),
            )
            for start in starts
        ]
        if not parts:
            return np.zeros(X.shape, dtype=np.float32)
        return np.concatenate(parts, axis=0)

    def _out_of_fold_relevance(self, X, X_checked, y, groups):
        cv = check_cv(self.cv, y, classifier=True)
        relevance = np.zeros(X_checked.shape, dtype=np.float32)
        seen = np.zeros(len(X_checked), dtype=bool)
        for train, test in cv.split(X_checked, y, groups):
            fold = clone(self._base_estimator()).fit(_take(X, train), y[train])
            relevance[test] = self._relevance(fold, X_checked[test], _take(X, test))
            seen[test] = True
        if not seen.all():
            raise ValueError(
                f"cv={self.cv!r} left {int((~seen).sum())} samples out of every "
                "test fold; out-of-fold relevances need a partition such as KFold."
            )
        return relevance

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_

    def transform(self, X):
        """Mask ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features to mask.

        Returns
        -------
        X_masked : ndarray of shape (n_samples, n_kept)
            'minimal': the selected columns. 'negative': ``X`` with each
            sample's above-average-relevance features set to zero, where the
            relevance is that of ``estimator_`` on this sample.
        """
        check_is_fitted(self)
        # the selector's transform would pass strings through silently
        check_numeric(X)
        if self.strategy == "minimal":
            return super().transform(X)
        X_checked = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _zero_above_mean(X_checked, self._relevance(self.estimator_, X_checked, X))


def _zero_above_mean(X, relevance):
    masked = np.array(X, copy=True)
    masked[relevance > relevance.mean(axis=1, keepdims=True)] = 0
    return masked


def _take(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def _keras_model(estimator):
    model = getattr(estimator, "model_", None)
    if model is None or not hasattr(model, "to_json"):
        raise TypeError(
            "RelevanceMasker needs an estimator that exposes its fitted tf.keras "
            f"model as `model_` (such as KerasMLPClassifier); got "
            f"{type(estimator).__name__}."
        )
    return model
