"""The code that runs inside the relevance worker process (graph mode).

iNNvestigate 2.x needs TensorFlow's graph mode, which is process-wide. Its
functions only ever run in the worker process started by
:mod:`sklearn_rbfm._relevance`, whose initializer switches eager execution off
before any Keras model exists there; the calling process only reads
:data:`ANALYZERS` and :data:`REUSABLE`. This module imports nothing from the
package (no import cycle), and TensorFlow and iNNvestigate only inside the
functions, so importing it is cheap.
"""

import os
import warnings
from collections import OrderedDict

import numpy as np

ANALYZERS = (
    "deep_taylor",
    "deep_taylor.bounded",
    "lrp.z",
    "lrp.z_plus",
    "lrp.epsilon",
    "lrp.w_square",
    "lrp.flat",
    "lrp.alpha_beta",
    "lrp.alpha_1_beta_0",
    "lrp.alpha_2_beta_1",
    "gradient",
    "input_t_gradient",
    "integrated_gradients",
    "smoothgrad",
    "guided_backprop",
    "deconvnet",
)

# Analyzers live in one TensorFlow graph, and building a new one gets slower
# as that graph grows; beyond this many the graph is cleared, which bounds
# both the build time and the worker's memory.
_MAX_CACHED = 4
_CACHE = OrderedDict()

# Methods whose analyzer graph reads the model's weight variables, so that
# loading another model's weights into it gives that model's relevances
# (checked against freshly built analyzers). integrated_gradients and
# smoothgrad were not confirmed to, so they get a fresh analyzer per model.
REUSABLE = frozenset(ANALYZERS) - {"integrated_gradients", "smoothgrad"}


def initialize():
    """Worker initializer: quiet TensorFlow and switch to graph mode."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ._keras import import_tensorflow

    tf = import_tensorflow()

    tf.get_logger().setLevel("ERROR")
    # Keras' graph-mode predict path warns about its own internals on every
    # analyzer; the warning is not actionable for users.
    warnings.filterwarnings("ignore", message=".*state_updates.*", category=UserWarning)
    tf.compat.v1.disable_eager_execution()


def worker_pid():
    """Process id of the worker (lets the caller tell a fresh worker apart)."""
    return os.getpid()


def prepare(key, weights_key, payload, method, kwargs):
    """Make the analyzer for ``key`` hold the weights ``weights_key``.

    An analyzer of the same architecture is reused by loading the new weights
    into its model (milliseconds) when the method's graph reads the model's
    variables; otherwise the analyzer is built afresh (about a second).
    """
    entry = _CACHE.get(key)
    if entry is not None and method in REUSABLE:
        for name, weights in payload["weights"].items():
            entry["model"].get_layer(name).set_weights(weights)
        entry["weights_key"] = weights_key
        return
    if len(_CACHE) >= _MAX_CACHED:
        from ._keras import import_tensorflow

        tf = import_tensorflow()

        _CACHE.clear()
        tf.keras.backend.clear_session()
    analyzer, model = _build(payload, method, kwargs)
    _CACHE[key] = {"analyzer": analyzer, "model": model, "weights_key": weights_key}


def ready(key, weights_key):
    """Whether an analyzer for ``key`` holding ``weights_key`` is cached."""
    entry = _CACHE.get(key)
    return entry is not None and entry["weights_key"] == weights_key


def analyze(key, weights_key, method, X, targets, batch_size, payload=None, kwargs=None):
    """Relevance of ``X`` for output unit ``targets[i]`` of each sample.

    With ``payload`` (architecture + weights) the analyzer is prepared first,
    in the same task, so no other caller's model can slip in between.
    Without it, returns ``None`` when no analyzer for ``key`` holding the
    weights ``weights_key`` is cached (a fresh worker, or another model of
    the same architecture analysed since), so that the caller sends the model.
    """
    if payload is not None:
        prepare(key, weights_key, payload, method, kwargs or {})
    elif not ready(key, weights_key):
        return None
    entry = _CACHE[key]
    _CACHE.move_to_end(key)
    parts = [
        _run(entry, method, X[start : start + batch_size], targets[start : start + batch_size])
        for start in range(0, len(X), batch_size)
    ]
    return np.concatenate(parts, axis=0).astype(np.float32, copy=False)


def _build(payload, method, kwargs):
    import innvestigate
    from ._keras import import_tensorflow

    tf = import_tensorflow()

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
    return analyzer, model


def _run(entry, method, X, targets):
    try:
        return entry["analyzer"].analyze(X, neuron_selection=targets)
    except Exception as exc:
        _reraise(exc, entry["model"], method)


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

