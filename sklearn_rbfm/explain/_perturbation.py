"""Faithfulness of relevance: perturbation (pixel-flipping) curves and AOPC."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.metrics import check_scoring
from sklearn.utils import Bunch, check_random_state


def perturbation_curve(
    estimator,
    X,
    y,
    relevance,
    *,
    steps=10,
    max_fraction=1.0,
    fill="zero",
    scoring=None,
    random_state=None,
    baseline="deprecated",
):
    """Score a model while its most relevant inputs are removed, step by step.

    The perturbation (pixel-flipping) test of Samek et al. (2017): for each
    sample, the input bins (or features) are ordered by decreasing relevance
    and removed -- replaced by ``fill`` -- in ``steps`` equal portions
    up to ``max_fraction`` of them; after each portion the model is scored
    again. A faithful relevance makes the score fall fast. The area over the
    perturbation curve, AOPC ``= mean_k (score_0 - score_k)`` over the
    ``steps + 1`` points, summarises it; the same curve for a random order
    of removal is the reference.

    Parameters
    ----------
    estimator : fitted estimator
        The model (or pipeline) whose input ``X`` the relevance describes.

    X : array-like of shape (n_samples, ...)
        Inputs of ``estimator``, e.g. flat spectrograms or feature vectors.

    y : array-like of shape (n_samples,)
        True labels.

    relevance : array-like with ``X``'s number of values per sample
        Relevance per input value of each sample, e.g. from
        :func:`~sklearn_rbfm.explain.relevance_maps` (spectrogram relevance
        ``(n, n_freq, n_frames)`` may describe flat ``X``), or one relevance
        per input shared by all samples, e.g. the ``feature_relevance_`` of
        a :class:`~sklearn_rbfm.RelevanceMasker`.

    steps : int, default=10
        Number of removal steps.

    max_fraction : float, default=1.0
        Fraction of the inputs removed at the last step.

    fill : {"zero", "min", "mean", "noise"} or float, default="zero"
        What replaces a removed value (named as in
        :class:`~sklearn_rbfm.explain.RELAX`): 0, the sample's smallest
        value (a spectrogram's floor), the mean of that input over ``X``,
        Gaussian noise with that input's mean and standard deviation over
        ``X``, or the given number.

    scoring : str, callable or None, default=None
        None scores the mean predicted probability of the true class (a
        smooth score, needs ``predict_proba``); otherwise any scikit-learn
        scorer name or callable ``scorer(estimator, X, y)``.

    random_state : int, RandomState instance or None, default=None
        Seeds the random order and the noise fill.

    baseline : str
        Deprecated alias of ``fill``; will be removed in the next release.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``fractions``: ndarray (steps + 1,), fraction of inputs removed;
        - ``scores``: ndarray (steps + 1,), score in relevance order;
        - ``random_scores``: ndarray (steps + 1,), score in random order;
        - ``aopc``, ``random_aopc``: float, the areas over both curves.

    See Also
    --------
    sklearn_rbfm.plotting.PerturbationCurveDisplay : Plot of the result.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_rbfm.explain import perturbation_curve
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(300, 20)
    >>> y = (X[:, :3].sum(axis=1) > 0).astype(int)
    >>> clf = LogisticRegression().fit(X, y)
    >>> relevance = X * clf.coef_[0] * np.where(y == 1, 1, -1)[:, None]
    >>> result = perturbation_curve(clf, X, y, relevance, steps=5,
    ...                             random_state=0)
    >>> result.scores.shape
    (6,)
    >>> bool(result.aopc > result.random_aopc)
    True
    """
    if not isinstance(steps, Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    if not 0 < max_fraction <= 1:
        raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction!r}.")
    if not (isinstance(baseline, str) and baseline == "deprecated"):
        warnings.warn(
            "perturbation_curve's baseline parameter was renamed fill; "
            "baseline will be removed in the next release.",
            FutureWarning,
        )
        fill = baseline
    if isinstance(fill, bool) or not (
        isinstance(fill, Real) or fill in ("zero", "min", "mean", "noise")
    ):
        raise ValueError(
            f"fill must be 'zero', 'min', 'mean', 'noise' or a number, got {fill!r}."
        )
    X = np.asarray(X)
    y = np.asarray(y)
    n = len(X)
    flat = X.reshape(n, -1).astype(np.float64)
    R = np.asarray(relevance, dtype=np.float64)
    if R.size == flat.shape[1] and R.size != flat.size:
        # one relevance per input for all samples, e.g. feature_relevance_
        R = np.broadcast_to(R.reshape(1, -1), flat.shape)
    if R.ndim == 0 or R.shape[0] != n or R.size != flat.size:
        raise ValueError(
            f"relevance has shape {R.shape}, but X has shape {X.shape}: pass "
            "one relevance value per input value of each sample."
        )
    if len(y) != n:
        raise ValueError(f"y has {len(y)} labels for {n} samples of X.")
    R = R.reshape(n, -1)
    if not np.isfinite(R).all():
        raise ValueError("relevance contains NaN or infinite values.")
    rng = check_random_state(random_state)
    score = _scorer(estimator, scoring)
    fill = _fill_values(flat, fill, rng)
    n_inputs = flat.shape[1]
    counts = np.round(
        np.linspace(0.0, max_fraction, steps + 1) * n_inputs
    ).astype(int)
    # stable sort on the negated relevance: ties keep input order
    by_relevance = np.argsort(-R, axis=1, kind="stable")
    at_random = np.argsort(rng.rand(n, n_inputs), axis=1)
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    curve = (estimator, X.shape, dtype, flat, y)
    scores = _curve(*curve, by_relevance, counts, fill, score)
    random_scores = _curve(*curve, at_random, counts, fill, score)
    return Bunch(
        fractions=counts / n_inputs,
        scores=scores,
        random_scores=random_scores,
        aopc=float(np.mean(scores[0] - scores)),
        random_aopc=float(np.mean(random_scores[0] - random_scores)),
    )


def _scorer(estimator, scoring):
    if scoring is not None:
        return check_scoring(estimator, scoring=scoring)
    if not hasattr(estimator, "predict_proba"):
        raise ValueError(
            f"{type(estimator).__name__} has no predict_proba; pass scoring "
            "(e.g. scoring='accuracy')."
        )

    def true_class_probability(est, X, y):
        proba = est.predict_proba(X)
        columns = np.searchsorted(est.classes_, y)
        if (columns >= len(est.classes_)).any() or (est.classes_[columns] != y).any():
            raise ValueError("y holds labels that are not classes of the estimator.")
        return float(proba[np.arange(len(y)), columns].mean())

    return true_class_probability


def _fill_values(flat, fill, rng):
    if fill == "zero":
        return np.zeros_like(flat)
    if isinstance(fill, Real):
        return np.full_like(flat, float(fill))
    if fill == "min":
        return np.broadcast_to(flat.min(axis=1, keepdims=True), flat.shape)
    mean = flat.mean(axis=0)
    if fill == "mean":
        return np.broadcast_to(mean, flat.shape)
    return mean + flat.std(axis=0) * rng.randn(*flat.shape)


def _curve(estimator, shape, dtype, flat, y, order, counts, fill, score):
    rows = np.arange(len(flat))[:, None]
    values = []
    previous = 0
    current = flat.copy()
    for count in counts:
        removed = order[:, previous:count]
        current[rows, removed] = fill[rows, removed]
        previous = count
        values.append(score(estimator, current.reshape(shape).astype(dtype), y))
    return np.asarray(values, dtype=np.float64)
