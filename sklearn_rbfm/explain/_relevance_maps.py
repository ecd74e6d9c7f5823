"""Relevance heatmaps over the input of a fitted Keras-based classifier."""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

# Layers iNNvestigate analyses quickly. Models with other layers (the
# Inception family's Concatenate/BatchNormalization graphs of hundreds of
# layers) made even the gradient analyzer run for more than 15 minutes, so
# they are refused up front instead of hanging.
_SUPPORTED_LAYERS = frozenset(
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


def relevance_maps(estimator, X, method="deep_taylor", target=None, *, batch_size=64):
    """Relevance of every input bin (or sample) for a classifier's decision.

    Explains a fitted Keras-based classifier -- a
    :class:`~sklearn_rbfm.KerasCNNClassifier` on spectrograms or waveforms,
    a :class:`~sklearn_rbfm.KerasMLPClassifier`, or a
    :class:`~sklearn.pipeline.Pipeline` ending in one -- with layer-wise
    relevance propagation, deep Taylor decomposition or gradients
    (iNNvestigate, run in a separate worker process so that TensorFlow stays
    eager here and every model keeps working).

    For a pipeline, the steps before the classifier transform ``X`` first and
    the relevance is over the classifier's input (e.g. the spectrogram made
    by a :class:`~sklearn_rbfm.SpectrogramTransformer`).

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        The model to explain; its final step must hold its Keras network in
        ``model_`` and its labels in ``classes_``.

    X : array-like of shape (n_samples, n_features) or (n_samples, n_freq, n_frames)
        Inputs of ``estimator``. Spectrograms may be given flat or 3-D.

    method : str, default="deep_taylor"
        Analyzer: ``'deep_taylor'``, ``'lrp.z'``, ``'lrp.epsilon'``,
        ``'lrp.alpha_1_beta_0'``, ``'gradient'``, ``'input_t_gradient'``,
        ``'integrated_gradients'``, ``'smoothgrad'`` and the other names of
        :data:`sklearn_rbfm._relevance.ANALYZERS`.

    target : None, label or array-like of labels, default=None
        Class to explain, as a label of ``classes_``: None explains the
        predicted class of each sample, one label explains that class for
        every sample, an array gives one label per sample.

    batch_size : int, default=64
        Samples analysed at once.

    Returns
    -------
    relevance : ndarray, float32
        ``(n_samples, n_freq, n_frames)`` for a spectrogram network with a
        known ``spectrogram_shape``, ``(n_samples, n_audio_samples)`` for a
        waveform network, otherwise the shape of the classifier's input.

    Raises
    ------
    ValueError
        If the method is unknown, or the network holds a layer the analyzers
        cannot explain in reasonable time (the error names it).

    See Also
    --------
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
    from .._relevance import ANALYZERS, compute_relevance

    if method not in ANALYZERS:
        raise ValueError(
            f"Unknown relevance method {method!r}. Valid methods are: "
            f"{', '.join(ANALYZERS)}."
        )
    final, X = _final_step_input(estimator, X)
    check_is_fitted(final)
    model = getattr(final, "model_", None)
    if model is None or not hasattr(model, "to_json"):
        raise TypeError(
            f"{type(final).__name__} holds no Keras network in model_; "
            "relevance_maps explains KerasCNNClassifier, KerasMLPClassifier "
            "or a Pipeline ending in one."
        )
    _check_analysable(model)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 3:
        X = X.reshape(len(X), -1)
    if X.ndim != 2 or X.shape[1] != final.n_features_in_:
        raise ValueError(
            f"X has shape {X.shape}, but {type(final).__name__} was fitted on "
            f"{final.n_features_in_} features per sample."
        )
    relevance = compute_relevance(
        model,
        X,
        method=method,
        target=_target_indices(final, target, len(X)),
        batch_size=batch_size,
    )
    shape = getattr(final, "input_shape_", None)
    if shape is not None and getattr(final, "spectrogram_shape", None) is not None:
        return relevance.reshape((len(X),) + tuple(shape))
    return relevance


def _final_step_input(estimator, X):
    if isinstance(estimator, Pipeline):
        head = estimator[:-1]
        if len(head):
            X = head.transform(X)
        return estimator[-1], X
    return estimator, X


def _check_analysable(model):
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in _SUPPORTED_LAYERS:
            raise ValueError(
                f"Layer {layer.name!r} ({kind}) of {model.name!r} is not "
                "supported by relevance_maps: the relevance analyzers handle "
                "plain convolutional and dense networks (Conv, Dense, pooling, "
                "Flatten, Reshape, Dropout). Networks of the Inception family "
                "(Concatenate, BatchNormalization, hundreds of layers) take "
                "too long to analyse; explain them with RELAX instead."
            )


def _target_indices(final, target, n_samples):
    if target is None:
        return None
    classes = final.classes_
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
