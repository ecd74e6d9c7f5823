"""Relevance heatmaps over the input of a fitted Keras-based classifier."""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

# Layers iNNvestigate analyses quickly (engine="innvestigate"). Models with
# other layers (the Inception family's Concatenate/BatchNormalization graphs
# of hundreds of layers) made even its gradient analyzer run for more than
# 15 minutes, so that engine refuses them up front instead of hanging.
_INNVESTIGATE_LAYERS = frozenset(
    {
        "InputLayer",
        "Dense",
        "Conv1D",
        "Conv2D",
        "MaxPooling1D",
        "MaxPooling2D",
        "AveragePooling1D",
        "AveragePooling2D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "Flatten",
        "Reshape",
        "Dropout",
        "Activation",
        "Softmax",
    }
)


def relevance_maps(
    estimator, X, method="deep_taylor", target=None, *, batch_size=64,
    engine="native", method_kwargs=None,
):
    """Relevance of every input bin (or sample) for a classifier's decision.

    Explains a fitted Keras-based classifier -- a
    :class:`~sklearn_rbfm.KerasCNNClassifier` on spectrograms or waveforms,
    a :class:`~sklearn_rbfm.KerasMLPClassifier`, or a
    :class:`~sklearn.pipeline.Pipeline` ending in one -- with layer-wise
    relevance propagation, deep Taylor decomposition or gradients (see
    :func:`~sklearn_rbfm.explain.compute_relevance`).

    For a pipeline, the steps before the classifier transform ``X`` first and
    the relevance is over the classifier's input (e.g. the spectrogram made
    by a :class:`~sklearn_rbfm.SpectrogramTransformer`). When the pipeline
    holds a :class:`~sklearn_rbfm.CNNEmbedder` (small CNN, InceptionV3,
    InceptionResNetV2 or a custom network; followed by the classifier,
    optionally with a :class:`~sklearn.preprocessing.StandardScaler` in
    between), the embedder's network and the classifier's are joined into
    one network and the relevance of the classifier's decision is over the
    embedder's input spectrogram bins.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        The model to explain; its final step must hold its Keras network in
        ``model_`` and its labels in ``classes_``.

    X : array-like of shape (n_samples, n_features) or (n_samples, n_freq, n_frames)
        Inputs of ``estimator``. Spectrograms may be given flat or 3-D.

    method : str, default="deep_taylor"
        Relevance method, e.g. ``'deep_taylor'``, ``'lrp.z'``,
        ``'lrp.epsilon'``, ``'lrp.alpha_1_beta_0'``, ``'gradient'``,
        ``'input_t_gradient'``, ``'integrated_gradients'``, ``'smoothgrad'``
        (all listed in :func:`~sklearn_rbfm.explain.compute_relevance`).

    target : None, label or array-like of labels, default=None
        Class to explain, as a label of ``classes_``: None explains the class
        ``estimator.predict`` gives each sample, one label explains that
        class for every sample, an array gives one label per sample.

    batch_size : int, default=64
        Samples analysed at once.

    engine : {"native", "innvestigate"}, default="native"
        The relevance engine (see
        :func:`~sklearn_rbfm.explain.compute_relevance`).

    method_kwargs : dict or None, default=None
        Arguments of the method (e.g. ``{"epsilon": 0.1}``).

    Returns
    -------
    relevance : ndarray, float32
        ``(n_samples, n_freq, n_frames)`` for a spectrogram network with a
        known ``spectrogram_shape`` or through a CNNEmbedder,
        ``(n_samples, n_audio_samples)`` for a waveform network, otherwise
        the shape of the classifier's input.

    Raises
    ------
    ValueError
        If the method is unknown, ``X`` holds NaN or infinite values (the
        error names the sample and column), or the network holds a layer
        the method cannot explain (the error names it).

    See Also
    --------
    compute_relevance : Relevance of a bare Keras model.
    RELAX : Explanations of embeddings, by masking.
    perturbation_curve : How faithful a relevance map is.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm import KerasMLPClassifier
    >>> from sklearn_rbfm.explain import relevance_maps
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 6).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = KerasMLPClassifier((16,), epochs=20, learning_rate=0.02,
    ...                          random_state=0).fit(X, y)
    >>> R = relevance_maps(clf, X[:50], method="gradient")
    >>> R.shape
    (50, 6)
    >>> int(np.abs(R).mean(axis=0).argmax())
    0
    """
    from ._engine import ENGINES, compute_relevance
    from ._native import METHODS
    from .._relevance_worker import ANALYZERS

    valid = METHODS if engine == "native" else ANALYZERS
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'native' or 'innvestigate', got {engine!r}.")
    if method not in valid:
        raise ValueError(
            f"Unknown relevance method {method!r}. Valid methods are: "
            f"{', '.join(valid)}."
        )
    check_finite(X, "X")
    final, model, X_in, shape = _explained_network(estimator, X)
    if engine == "innvestigate":
        _check_analysable(model)
    check_finite(X_in, f"the input of {type(final).__name__}")
    relevance = compute_relevance(
        model,
        X_in,
        method=method,
        target=_target_indices(estimator, final, X, target, len(X_in)),
        batch_size=batch_size,
        engine=engine,
        **(method_kwargs or {}),
    )
    if shape is not None:
        return relevance.reshape((len(X_in),) + tuple(shape))
    return relevance


def check_finite(X, what):
    """Raise naming the first sample and column of ``X`` that is NaN or infinite."""
    values = np.asarray(X)
    if not np.issubdtype(values.dtype, np.number):
        return
    flat = values.reshape(len(values), -1)
    bad = ~np.isfinite(flat)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(flat[row, column]) else "an infinite value"
        raise ValueError(
            f"{what} holds {kind} at sample {row}, column {column} "
            f"({int(bad.sum())} non-finite values in all); relevance of a "
            "non-finite input is undefined. Impute or drop those samples first."
        )


def _explained_network(estimator, X):
    """(final step, Keras model to explain, its input, relevance map shape)."""
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    check_is_fitted(final)
    model = getattr(final, "model_", None)
    if model is None or not hasattr(model, "to_json"):
        raise TypeError(
            f"{type(final).__name__} holds no Keras network in model_; "
            "relevance_maps explains KerasCNNClassifier, KerasMLPClassifier "
            "or a Pipeline ending in one."
        )
    if isinstance(estimator, Pipeline):
        from ._pipeline_model import embedder_position, joined_model

        position = embedder_position(estimator)
        if position is not None:
            head = estimator[:position]
            X = head.transform(X) if len(head) else X
            return (final, *joined_model(estimator, position, X))
        head = estimator[:-1]
        if len(head):
            X = head.transform(X)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 3:
        X = X.reshape(len(X), -1)
    if X.ndim != 2 or X.shape[1] != final.n_features_in_:
        raise ValueError(
            f"X has shape {X.shape}, but {type(final).__name__} was fitted on "
            f"{final.n_features_in_} features per sample."
        )
    shape = getattr(final, "input_shape_", None)
    if shape is None or getattr(final, "spectrogram_shape", None) is None:
        shape = None
    return final, model, X, shape


def _check_analysable(model):
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in _INNVESTIGATE_LAYERS:
            raise ValueError(
                f"Layer {layer.name!r} ({kind}) of {model.name!r} is not "
                "supported by engine='innvestigate': its analyzers handle "
                "plain convolutional and dense networks (Conv, Dense, pooling, "
                "Flatten, Reshape, Dropout) and take too long on the Inception "
                "family. Use the default engine='native'."
            )


def _target_indices(estimator, final, X, target, n_samples):
    classes = final.classes_
    if target is None:
        # the estimator's own decision, not a float32 forward pass
        target = estimator.predict(X)
    labels = np.asarray(target)
    single = labels.ndim == 0
    labels = np.atleast_1d(labels)
    if not single and labels.shape != (n_samples,):
        raise ValueError(
            f"target must be None, one class label or one label per sample "
            f"({n_samples}), got an array of shape {labels.shape}."
        )
    indices = np.searchsorted(classes, labels)
    indices = np.clip(indices, 0, len(classes) - 1)
    unknown = classes[indices] != labels
    if unknown.any():
        raise ValueError(
            f"target label {labels[np.flatnonzero(unknown)[0]]!r} is not a class "
            f"of the estimator; its classes are {classes.tolist()!r}."
        )
    return int(indices[0]) if single else indices.astype(np.int64)
