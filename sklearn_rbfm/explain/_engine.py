"""Relevance of a Keras model's decisions per input value: the public entry point."""

import numpy as np

from .._relevance_worker import ANALYZERS
from ._native import METHODS

ENGINES = ("native", "innvestigate")


def compute_relevance(
    model, X, method="deep_taylor", target=None, batch_size=256, engine="native",
    **method_kwargs,
):
    """Relevance of each input value of each sample for one output class.

    Layer-wise relevance propagation (LRP), deep Taylor decomposition and
    gradient methods for a fitted Keras network. The default native engine
    computes in the calling process, eagerly, with
    :class:`tf.GradientTape`; it handles branching networks (Concatenate,
    Add) such as the Inception family, folds BatchNormalization into the
    preceding kernel layer, and gives iNNvestigate's results on the networks
    iNNvestigate can analyse. ``engine="innvestigate"`` runs iNNvestigate
    2.1.2 in a graph-mode worker process instead (the reference).

    Parameters
    ----------
    model : tf.keras.Model
        A functional or Sequential Keras model with one input and one output
        whose last kernel layer is ``Dense``; a softmax or sigmoid output
        (as the layer's activation or a following ``Activation`` layer) is
        stripped, so that logits are explained. A one-unit sigmoid output
        scores class 1 by its logit ``z`` and class 0 by ``-z``.

    X : array-like of shape (n_samples, ...)
        Inputs, shaped as the model expects.

    method : str, default="deep_taylor"
        ``"deep_taylor"`` (z+ rule at every ReLU kernel layer, explaining
        ``max(logit, 0)``), ``"deep_taylor.bounded"`` (z^B rule at the input
        layer, needs ``low`` and ``high``), ``"lrp.z"``, ``"lrp.epsilon"``
        (``epsilon``), ``"lrp.alpha_beta"`` (``alpha``, ``beta``),
        ``"lrp.alpha_1_beta_0"``, ``"lrp.alpha_2_beta_1"``, ``"lrp.z_plus"``,
        ``"lrp.w_square"``, ``"lrp.flat"``, ``"gradient"``,
        ``"input_t_gradient"``, ``"integrated_gradients"`` (``steps``,
        ``reference_inputs``) or ``"smoothgrad"`` (``augment_by_n``,
        ``noise_scale``, ``random_state``). The LRP methods and deep Taylor
        take ``input_layer_rule``: ``"w_square"``, ``"flat"``, ``"z_plus"``
        or a ``(low, high)`` tuple for the bounded rule at the input layer.
        The iNNvestigate engine also has ``"guided_backprop"`` and
        ``"deconvnet"``.

    target : None, int or array-like of int, default=None
        Output index (class) to explain: None explains the highest-scoring
        class of each sample, an int that class for every sample, an array
        one class per sample.

    batch_size : int, default=256
        Samples analysed at once; bounds the memory used.

    engine : {"native", "innvestigate"}, default="native"
        Where the relevance is computed (see above).

    **method_kwargs
        Arguments of the method, listed under ``method``.

    Returns
    -------
    relevance : ndarray of shape X.shape, dtype float32
        Relevance per input value.

    Raises
    ------
    ValueError
        If the method or engine is unknown, the shapes or targets do not fit
        the model, or a layer has no relevance rule (the error names it).

    See Also
    --------
    relevance_maps : Relevance of a fitted classifier, through a pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> from sklearn_rbfm.explain import compute_relevance
    >>> inputs = tf.keras.Input(shape=(3,))
    >>> hidden = tf.keras.layers.Dense(4, activation="relu", use_bias=False)(inputs)
    >>> logits = tf.keras.layers.Dense(2, use_bias=False)(hidden)
    >>> model = tf.keras.Model(inputs, logits)
    >>> X = np.random.RandomState(0).rand(5, 3).astype("float32")
    >>> R = compute_relevance(model, X, method="lrp.z", target=1)
    >>> R.shape
    (5, 3)
    >>> bool(np.allclose(R.sum(axis=1), model(X).numpy()[:, 1], atol=1e-5))
    True
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'native' or 'innvestigate', got {engine!r}.")
    if engine == "innvestigate":
        from .._relevance import compute_relevance as innvestigate_relevance

        return innvestigate_relevance(
            model, X, method=method, target=target, batch_size=batch_size,
            **method_kwargs,
        )
    if method not in METHODS:
        extra = (
            " It is available with engine='innvestigate'." if method in ANALYZERS else ""
        )
        raise ValueError(
            f"Unknown relevance method {method!r}. Valid methods are: "
            f"{', '.join(METHODS)}.{extra}"
        )
    if not hasattr(model, "get_layer") or not hasattr(model, "inputs"):
        raise TypeError(
            f"model must be a fitted tf.keras Model, got {type(model).__name__}."
        )
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    from . import _native

    X = np.ascontiguousarray(X, dtype=np.float32)
    check_input_shape(model, X)
    targets = None
    if target is not None:
        targets = check_targets(target, len(X), _native.n_classes(model))
    if len(X) == 0:
        return np.zeros(X.shape, dtype=np.float32)
    return _native.relevance(model, X, method, targets, int(batch_size), method_kwargs)


def check_input_shape(model, X):
    """Raise if ``X`` is not a batch of the model's (single) input."""
    if isinstance(model.input_shape, list):
        raise ValueError("Models with several inputs are not supported.")
    expected = tuple(model.input_shape[1:])
    if X.ndim != len(expected) + 1 or any(
        e is not None and e != got for e, got in zip(expected, X.shape[1:])
    ):
        raise ValueError(
            f"X has shape {X.shape}, but the model expects inputs of shape "
            f"(n_samples, {', '.join(str(e) for e in expected)})."
        )


def check_targets(target, n_samples, n_classes):
    """Class indices, one per sample, from an int or an array of ints."""
    targets = np.asarray(target)
    if targets.ndim == 0:
        targets = np.full(n_samples, targets)
    if targets.shape != (n_samples,) or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(
            "target must be None, an int or a 1-D integer array with one class "
            f"index per sample ({n_samples}), got {target!r}."
        )
    bad = (targets < 0) | (targets >= n_classes)
    if bad.any():
        raise ValueError(
            f"target holds class index {int(targets[bad][0])} (sample "
            f"{int(np.flatnonzero(bad)[0])}), but the model has {n_classes} "
            f"classes (valid indices 0..{n_classes - 1})."
        )
    return targets.astype(np.int64)
