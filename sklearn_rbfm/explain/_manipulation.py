"""Becker et al.'s input-manipulation test: does the model need what relevance points at?"""

from numbers import Integral, Real

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, check_random_state

_AXES = ("auto", "time", "frequency")
_FILLS = ("auto", "zero", "min", "mean")


def manipulation_test(
    estimator,
    X,
    y,
    *,
    axis="auto",
    relevance=None,
    method="lrp.epsilon",
    region_fraction=0.2,
    per_class=True,
    fill="auto",
    n_controls=5,
    random_state=None,
):
    """Test a hypothesis derived from relevance by manipulating the inputs.

    The input-manipulation test of Becker et al. (2018): relevance maps show
    where in the input a class is decided -- a time segment of a waveform or
    spectrogram, a frequency band of a spectrogram. The hypothesis "the
    model relies on this region" is then tested: the region is overwritten
    (``fill``) in every input and the model's accuracy measured again, and
    the same is done to control regions of equal size placed at random
    elsewhere. A true hypothesis makes the relevant-region manipulation hurt
    clearly more than the controls.

    Steps: the relevance of each sample's true class (positive part, each
    sample's profile normalised to sum 1) is summed onto ``axis``; the
    window of ``region_fraction`` of that axis with the largest mean
    profile -- per class with ``per_class=True``, else over all samples --
    is the relevant region; ``n_controls`` windows of equal size that do not
    overlap it are the controls (their drops are averaged). Each sample is
    manipulated in the region(s) of its true class.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        A Keras-based classifier that :func:`relevance_maps` explains
        (e.g. :class:`~sklearn_rbfm.KerasCNNClassifier` on waveforms or on
        flat spectrograms with ``spectrogram_shape``), or a Pipeline ending
        in one whose earlier steps are transformers; then the manipulation
        applies to the final step's input (e.g. the spectrogram).

    X : array-like of shape (n_samples, n_features)
        Inputs of ``estimator``.

    y : array-like of shape (n_samples,)
        True labels.

    axis : {"auto", "time", "frequency"}, default="auto"
        Along which axis regions are taken. For spectrograms
        ``(n_freq, n_frames)`` both apply; 1-D inputs (waveforms, feature
        vectors) have only "time" (their one axis). "auto" means
        "frequency" for spectrograms and "time" for 1-D inputs.

    relevance : array-like or None, default=None
        Precomputed relevance of the true classes, shaped like the final
        step's input: ``(n_samples, n_freq, n_frames)`` for spectrograms,
        ``(n_samples, n_features)`` for 1-D inputs. None computes it with
        :func:`relevance_maps` and ``method``.

    method : str, default="lrp.epsilon"
        Relevance method when ``relevance`` is None.

    region_fraction : float, default=0.2
        Size of the relevant and control regions, as a fraction of the
        axis (at least one bin or sample). At most 0.5, so that a control
        region fits beside the relevant one.

    per_class : bool, default=True
        One relevant region per class (the hypothesis "class c relies on
        region r_c"); False derives one region for all classes.

    fill : {"auto", "zero", "min", "mean"} or float, default="auto"
        What overwrites a region: 0 (silence of a waveform), each sample's
        smallest value (a log spectrogram's floor), the mean of that input
        over ``X``, or the given number. "auto" means "min" for
        spectrograms and "zero" for 1-D inputs.

    n_controls : int, default=5
        Number of random control regions; the control drop is their mean.

    random_state : int, RandomState instance or None, default=None
        Seeds the placement of the control regions.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``axis``: the axis used ("time" or "frequency");
        - ``classes``: ndarray (n_groups,), the classes (``[None]`` with
          ``per_class=False``);
        - ``profile``: ndarray (n_groups, axis length), mean relevance
          profile along the axis;
        - ``regions``: ndarray (n_groups, 2), [start, stop) of each
          relevant region;
        - ``control_regions``: ndarray (n_groups, n_controls, 2);
        - ``accuracy``: accuracy on the unchanged ``X``;
        - ``relevant_accuracy``, ``control_accuracy``: accuracy after the
          manipulation of the relevant regions, and the mean over controls;
        - ``relevant_drop``, ``control_drop``: ``accuracy`` minus those
          (positive when the manipulation hurts).

    Raises
    ------
    ValueError
        If ``axis`` does not exist for the inputs, ``relevance`` does not
        match ``X``, or a parameter is out of range.

    See Also
    --------
    relevance_maps : The relevance the hypothesis comes from.
    perturbation_curve : Faithfulness of the relevance bin by bin.
    sklearn_rbfm.plotting.ManipulationTestDisplay : Plot of the result.

    References
    ----------
    S. Becker, M. Ackermann, S. Lapuschkin, K.-R. Mueller, W. Samek,
    "Interpreting and Explaining Deep Neural Networks for Classification of
    Audio Signals", arXiv:1807.03418, 2018.

    Examples
    --------
    A class that lives in frequency bins 4 to 7 of 16 x 8 spectrograms:

    >>> import numpy as np
    >>> from sklearn_rbfm import KerasCNNClassifier
    >>> from sklearn_rbfm.explain import manipulation_test
    >>> rng = np.random.RandomState(0)
    >>> y = np.arange(200) % 2
    >>> S = rng.rand(200, 16, 8)
    >>> S[:, 4:8, 2:6] += np.where(y == 1, 2.0, 0.0)[:, None, None]
    >>> clf = KerasCNNClassifier("alexnet", spectrogram_shape=(16, 8),
    ...                          width=0.05, epochs=10, learning_rate=0.01,
    ...                          early_stopping=False, random_state=0)
    >>> clf = clf.fit(S.reshape(200, -1), y)
    >>> result = manipulation_test(clf, S.reshape(200, -1), y,
    ...                            region_fraction=0.25, per_class=False,
    ...                            random_state=0)
    >>> result.regions.tolist()
    [[4, 8]]
    >>> bool(result.relevant_drop > result.control_drop + 0.2)
    True
    """
    if axis not in _AXES:
        raise ValueError(f"axis must be one of {_AXES}, got {axis!r}.")
    if isinstance(region_fraction, bool) or not (
        isinstance(region_fraction, Real) and 0 < region_fraction <= 0.5
    ):
        raise ValueError(
            f"region_fraction must be in (0, 0.5], got {region_fraction!r}: "
            "a control region of the same size must fit beside the relevant one."
        )
    if isinstance(n_controls, bool) or not (
        isinstance(n_controls, Integral) and n_controls >= 1
    ):
        raise ValueError(f"n_controls must be a positive integer, got {n_controls!r}.")
    if isinstance(fill, bool) or not (isinstance(fill, Real) or fill in _FILLS):
        raise ValueError(
            f"fill must be one of {_FILLS} or a number, got {fill!r}."
        )
    y = np.asarray(y)
    final, X_in = _final_input(estimator, X)
    if len(y) != len(X_in):
        raise ValueError(f"y has {len(y)} labels for {len(X_in)} samples of X.")
    R = _relevance(estimator, X, y, relevance, method)
    if R.shape[0] != len(X_in) or R[0].size != X_in[0].size:
        raise ValueError(
            f"relevance has shape {R.shape}, but the inputs have shape "
            f"{X_in.shape}: pass the relevance of each sample's true class, "
            "one value per input value ((n, n_freq, n_frames) for spectrograms)."
        )
    shape = R.shape[1:]
    axis = _check_axis(axis, shape)
    along = 0 if axis == "frequency" or len(shape) == 1 else 1
    length = shape[along]
    width = max(1, int(round(region_fraction * length)))

    profiles = np.maximum(R, 0).reshape(len(R), *shape)
    if len(shape) == 2:
        profiles = profiles.sum(axis=2 - along)
    totals = profiles.sum(axis=1, keepdims=True)
    profiles = np.divide(profiles, totals, out=np.zeros_like(profiles), where=totals > 0)

    groups = np.unique(y) if per_class else np.array([None], dtype=object)
    member = (
        [y == c for c in groups] if per_class else [np.ones(len(y), dtype=bool)]
    )
    rng = check_random_state(random_state)
    profile = np.stack([profiles[m].mean(axis=0) for m in member])
    regions = np.array([_best_window(p, width) for p in profile])
    controls = np.array(
        [_control_windows(length, width, r, n_controls, rng) for r in regions]
    )

    flat = X_in.reshape(len(X_in), *shape).astype(np.float64)
    fill_values = _fill_values(flat, fill, len(shape))
    accuracy = _accuracy(final, X_in, y)

    def manipulated_accuracy(region_of):
        X_new = flat.copy()
        for m, (start, stop) in zip(member, region_of):
            index = [m] + [slice(None)] * len(shape)
            index[1 + along] = slice(start, stop)
            X_new[tuple(index)] = fill_values[tuple(index)]
        return _accuracy(final, X_new.reshape(X_in.shape).astype(X_in.dtype), y)

    relevant_accuracy = manipulated_accuracy(regions)
    control_accuracy = float(
        np.mean([manipulated_accuracy(controls[:, j]) for j in range(n_controls)])
    )
    return Bunch(
        axis=axis,
        classes=groups,
        profile=profile,
        regions=regions,
        control_regions=controls,
        accuracy=accuracy,
        relevant_accuracy=relevant_accuracy,
        control_accuracy=control_accuracy,
        relevant_drop=accuracy - relevant_accuracy,
        control_drop=accuracy - control_accuracy,
    )


def _final_input(estimator, X):
    if isinstance(estimator, Pipeline):
        head = estimator[:-1]
        X = head.transform(X) if len(head) else X
        estimator = estimator[-1]
    return estimator, np.asarray(X, dtype=np.float32).reshape(len(X), -1)


def _relevance(estimator, X, y, relevance, method):
    if relevance is not None:
        R = np.asarray(relevance, dtype=np.float64)
    else:
        from ._relevance_maps import relevance_maps

        R = np.asarray(relevance_maps(estimator, X, method=method, target=y),
                       dtype=np.float64)
    if R.ndim not in (2, 3):
        raise ValueError(
            f"relevance has shape {R.shape}: pass (n_samples, n_features) for "
            "1-D inputs or (n_samples, n_freq, n_frames) for spectrograms."
        )
    if not np.isfinite(R).all():
        raise ValueError("relevance contains NaN or infinite values.")
    return R


def _check_axis(axis, shape):
    if len(shape) == 1:
        if axis == "frequency":
            raise ValueError(
                f"axis='frequency' needs spectrogram inputs, but the inputs are "
                f"1-D ({shape[0]} values each, e.g. waveforms): use axis='time', "
                "or fit the spectrogram network with spectrogram_shape."
            )
        return "time"
    return "frequency" if axis == "auto" else axis


def _best_window(profile, width):
    sums = np.convolve(profile, np.ones(width), mode="valid")
    start = int(np.argmax(sums))
    return start, start + width


def _control_windows(length, width, region, n_controls, rng):
    start, stop = region
    # windows that do not overlap the relevant one
    free = [s for s in range(length - width + 1) if s + width <= start or s >= stop]
    if not free:
        raise ValueError(
            f"No control region of {width} bins fits beside the relevant region "
            f"[{start}, {stop}) of an axis of {length}: lower region_fraction."
        )
    picks = rng.choice(free, size=n_controls, replace=len(free) < n_controls)
    return [(int(s), int(s) + width) for s in picks]


def _fill_values(flat, fill, n_dims):
    if fill == "auto":
        fill = "min" if n_dims == 2 else "zero"
    if fill == "zero":
        return np.zeros_like(flat)
    if fill == "min":
        axes = tuple(range(1, flat.ndim))
        return np.broadcast_to(flat.min(axis=axes, keepdims=True), flat.shape)
    if fill == "mean":
        return np.broadcast_to(flat.mean(axis=0, keepdims=True), flat.shape)
    return np.full_like(flat, float(fill))


def _accuracy(estimator, X, y):
    return float(np.mean(estimator.predict(X) == y))
