"""The code that runs inside the relevance worker process (graph mode).

iNNvestigate 2.x needs TensorFlow's graph mode, which is process-wide. This
module is only ever imported by the worker process started in
:mod:`sklearn_rbfm._relevance`, whose initializer switches eager execution off
before any Keras model exists there. The calling process never imports it.
"""

import os
import warnings
from collections import OrderedDict

import numpy as np

# Analyzers live in one TensorFlow graph, and building a new one gets slower
# as that graph grows; beyond this many the graph is cleared, which bounds
# both the build time and the worker's memory.
_MAX_CACHED = 4
_CACHE = OrderedDict()


def initialize():
    """Worker initializer: quiet TensorFlow and switch to graph mode."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    # Keras' graph-mode predict path warns about its own internals on every
    # analyzer; the warning is not actionable for users.
    warnings.filterwarnings("ignore", message=".*state_updates.*", category=UserWarning)
    tf.compat.v1.disable_eager_execution()


def worker_pid():
    """Process id of the worker (lets the caller tell a fresh worker apart)."""
    return os.getpid()


def has(key):
    """Whether the analyzer for ``key`` is cached in this worker."""
    return key in _CACHE


def prepare(key, payload, method, kwargs):
    """Build and cache the analyzer for ``key`` from architecture + weights."""
    if key in _CACHE:
        return
    if len(_CACHE) >= _MAX_CACHED:
        import tensorflow as tf

        _CACHE.clear()
        tf.keras.backend.clear_session()
    _CACHE[key] = _build(payload, method, kwargs)


def analyze(key, method, X, targets, batch_size):
    """Relevance of ``X`` for output unit ``targets[i]`` of each sample.

    Returns ``None`` when the analyzer for ``key`` is not cached (a fresh
    worker), so that the caller sends the model again.
    """
    analyzer = _CACHE.get(key)
    if analyzer is None:
        return None
    _CACHE.move_to_end(key)
    parts = [
        _run(analyzer, method, X[start : start + batch_size], targets[start : start + batch_size])
        for start in range(0, len(X), batch_size)
    ]
    return np.concatenate(parts, axis=0).astype(np.float32, copy=False)


def _build(payload, method, kwargs):
    import innvestigate
    import tensorflow as tf

    model = tf.keras.models.model_from_json(payload["config"])
    for name, weights in payload["weights"].items():
        model.get_layer(name).set_weights(weights)
    try:
        analyzer = innvestigate.create_analyzer(
            method, model, neuron_selection_mode="index", **kwargs
        )
    except TypeError as exc:
        raise TypeError(
            f"The relevance method {method!r} rejected the arguments "
            f"{sorted(kwargs)!r}: {exc}"
        ) from None
    except Exception as exc:
        _reraise(exc, model, method)
    analyzer._rbfm_model = model
    return analyzer


def _run(analyzer, method, X, targets):
    try:
        return analyzer.analyze(X, neuron_selection=targets)
    except Exception as exc:
        _reraise(exc, analyzer._rbfm_model, method)


def _reraise(exc, model, method):
    """Turn iNNvestigate's errors into plain ones that name the layers at fault.

    The exceptions travel back to the calling process, which must not import
    iNNvestigate to unpickle them.
    """
    from innvestigate import NotAnalyzeableModelException

    layers = ", ".join(f"{layer.name!r} ({type(layer).__name__})" for layer in model.layers)
    if isinstance(exc, NotAnalyzeableModelException):
        # iNNvestigate's message lists the offending layer objects by repr.
        message = str(exc)
        culprits = [
            f"{layer.name!r} ({type(layer).__name__})"
            for layer in model.layers
            if repr(layer) in message
        ]
        where = ", ".join(culprits) if culprits else layers
        raise ValueError(
            f"The relevance method {method!r} cannot analyse layer(s) {where}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    if isinstance(exc, NotImplementedError):
        raise ValueError(
            f"The relevance method {method!r} has no rule for one of the model's "
            f"layers {layers}: {exc!r}. Use a model made of Dense, Conv, pooling "
            "and ReLU layers, or another method such as 'gradient'."
        ) from None
    raise RuntimeError(
        f"The relevance method {method!r} failed: {type(exc).__name__}: {exc}"
    ) from None

