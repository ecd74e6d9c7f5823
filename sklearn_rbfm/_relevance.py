"""Relevance of a Keras model's decisions per input feature, with iNNvestigate.

This is the reference engine, ``compute_relevance(..., engine="innvestigate")``
of :mod:`sklearn_rbfm.explain`; the default native engine
(:mod:`sklearn_rbfm.explain._native`) computes the same relevances in the
calling process and is tested against this one.

Design
------
iNNvestigate 2.x only works with TensorFlow's eager execution switched off,
and that switch is process-wide: mixing graph-mode and eager Keras models in
one process breaks one or the other in Keras 2.14. So the analysis runs in a
separate worker process (a loky process pool of one worker, started lazily on
the first call and reused afterwards) whose initializer disables eager
execution. The calling process stays eager, and its models -- the user's and
the package's -- are never touched: the worker receives the model's JSON
architecture and per-layer weights, rebuilds it, and caches one analyzer per
(architecture, method, arguments); a refitted model of the same architecture
only loads its new weights into the cached analyzer.

Before analysis the output layer is rebuilt with a linear activation (this
strips softmax/sigmoid) and one unit per class; a one-unit sigmoid output
becomes two units scoring ``-z`` and ``z``, so class 0 is explained through
the negated logit. The analyzer then explains, per sample, the unit of the
class asked for (iNNvestigate's "index" neuron selection); one analyzer
serves every class.

Memory stays bounded: rows travel to the worker in chunks of about 64 MB,
and the worker analyses ``batch_size`` rows at a time.
"""

import hashlib
import json
import threading

import numpy as np

from . import _relevance_worker
from ._relevance_worker import ANALYZERS, REUSABLE


_CHUNK_BYTES = 64 * 2**20
_LOCK = threading.Lock()
_EXECUTOR = None


def compute_relevance(
    model, X, method="deep_taylor", target=None, batch_size=256, **analyzer_kwargs
):
    """Relevance of each input feature of each sample for one output class.

    Parameters
    ----------
    model : tf.keras.Model
        A fitted, eager Keras model with one output whose last layer is
        ``Dense`` (optionally followed by an ``Activation``/``Softmax``
        layer). A softmax or sigmoid output is stripped before analysis.

    X : array-like of shape (n_samples, ...)
        Inputs, shaped as the model expects.

    method : str, default="deep_taylor"
        iNNvestigate analyzer, one of :data:`ANALYZERS`.

    target : None, int or array-like of int, default=None
        Class to explain: ``None`` explains the predicted class of each
        sample, an int explains that class index for every sample, an array
        gives one class index per sample.

    batch_size : int, default=256
        Rows analysed at once in the worker.

    **analyzer_kwargs
        Passed to the iNNvestigate analyzer (e.g. ``steps`` for
        ``integrated_gradients``, ``epsilon`` for ``lrp.epsilon``).

    Returns
    -------
    relevance : ndarray of shape X.shape, dtype float32
        Relevance per input value.
    """
    if method not in ANALYZERS:
        raise ValueError(
            f"Unknown relevance method {method!r}. Valid methods are: "
            f"{', '.join(ANALYZERS)}."
        )
    if not hasattr(model, "to_json") or not hasattr(model, "get_layer"):
        raise TypeError(
            f"model must be a fitted tf.keras Model, got {type(model).__name__}."
        )
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    X = np.ascontiguousarray(X, dtype=np.float32)
    _check_input_shape(model, X)
    plan = _OutputPlan(model)
    batch_size = int(batch_size)
    targets = _resolve_targets(model, plan, X, target, batch_size)
    relevance = np.zeros(X.shape, dtype=np.float32)
    if len(X) == 0:
        return relevance
    key, weights_key = _model_keys(model, method, analyzer_kwargs)
    row_bytes = max(X[0].nbytes, 1)
    chunk = max(batch_size, (_CHUNK_BYTES // row_bytes) // batch_size * batch_size)
    for start in range(0, len(X), chunk):
        stop = start + chunk
        relevance[start:stop] = _analyze_chunk(
            key, weights_key, plan, model, method, analyzer_kwargs, X[start:stop],
            targets[start:stop], int(batch_size),
        )
    return relevance


def _check_input_shape(model, X):
    expected = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if expected is None:
        raise ValueError("Models with several inputs are not supported.")
    if X.ndim != len(expected) + 1 or any(
        e is not None and e != got for e, got in zip(expected, X.shape[1:])
    ):
        raise ValueError(
            f"X has shape {X.shape}, but the model expects inputs of shape "
            f"(n_samples, {', '.join(str(e) for e in expected)})."
        )


class _OutputPlan:
    """Where the model's output layer is and how to rebuild it for one class."""

    def __init__(self, model):
        self.config = json.loads(model.to_json())
        layers = self.config["config"]["layers"]
        by_name = {entry["config"]["name"]: entry for entry in layers}
        if self.config["class_name"] == "Sequential":
            out = layers[-1]
            previous = layers[-2] if len(layers) > 1 else None
        else:
            outputs = self.config["config"]["output_layers"]
            if len(outputs) != 1 or isinstance(outputs[0][0], list):
                raise ValueError(
                    f"Models with {len(outputs)} outputs are not supported; "
                    "explain a model with a single output layer."
                )
            out = by_name[outputs[0][0]]
            inbound = out.get("inbound_nodes") or []
            previous = by_name[inbound[0][0][0]] if inbound else None
        self.activation_entry = None
        kernel = out
        if out["class_name"] in ("Activation", "Softmax") and previous is not None:
            self.activation_entry, kernel = out, previous
        if kernel["class_name"] != "Dense":
            raise ValueError(
                f"The output layer {kernel['config']['name']!r} is a "
                f"{kernel['class_name']}; relevance analysis needs a Dense output "
                "layer (optionally followed by a softmax or sigmoid activation)."
            )
        self.kernel_name = kernel["config"]["name"]
        self.n_outputs = int(kernel["config"]["units"])
        source = self.activation_entry or kernel
        self.activation = (
            "softmax"
            if source["class_name"] == "Softmax"
            else source["config"].get("activation", "linear")
        )

    @property
    def n_classes(self):
        return 2 if self.n_outputs == 1 else self.n_outputs

    def analysis_config(self):
        """JSON of the model with a linear output of one unit per class."""
        config = json.loads(json.dumps(self.config))
        for entry in config["config"]["layers"]:
            name = entry["config"]["name"]
            if name == self.kernel_name:
                entry["config"]["units"] = self.n_classes
                entry["config"]["activation"] = "linear"
            elif self.activation_entry and name == self.activation_entry["config"]["name"]:
                entry["class_name"] = "Activation"
                entry["config"] = {
                    "name": name,
                    "trainable": entry["config"].get("trainable", True),
                    "dtype": entry["config"].get("dtype", "float32"),
                    "activation": "linear",
                }
        return json.dumps(config)

    def analysis_weights(self, model):
        """Per-layer weights; a one-unit output becomes the pair (-z, z)."""
        weights = {}
        for layer in _weighted_layers(model):
            values = [np.asarray(w) for w in layer.get_weights()]
            if layer.name == self.kernel_name and self.n_outputs == 1:
                values = [np.concatenate([-w, w], axis=-1) for w in values]
            weights[layer.name] = values
        return weights


def _weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


def _resolve_targets(model, plan, X, target, batch_size):
    n_samples = len(X)
    if target is None:
        if n_samples == 0:
            return np.zeros(0, dtype=np.int64)
        from ._keras import predict_batched

        scores = predict_batched(model, X, max(batch_size, 1024))
        if plan.n_outputs == 1:
            threshold = 0.5 if plan.activation == "sigmoid" else 0.0
            return (scores.reshape(-1) > threshold).astype(np.int64)
        return np.argmax(scores.reshape(n_samples, -1), axis=1)
    targets = np.asarray(target)
    if targets.ndim == 0:
        targets = np.full(n_samples, targets)
    if targets.shape != (n_samples,) or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(
            "target must be None, an int or a 1-D integer array with one class "
            f"index per sample ({n_samples}), got {target!r}."
        )
    bad = (targets < 0) | (targets >= plan.n_classes)
    if bad.any():
        raise ValueError(
            f"target holds class index {int(targets[bad][0])} (sample "
            f"{int(np.flatnonzero(bad)[0])}), but the model has {plan.n_classes} "
            f"classes (valid indices 0..{plan.n_classes - 1})."
        )
    return targets.astype(np.int64)


def _model_keys(model, method, kwargs):
    """Cache keys: (architecture, method, arguments) and the weights."""
    weights = hashlib.sha1()
    for w in model.get_weights():
        weights.update(np.ascontiguousarray(w).tobytes())
    arch = hashlib.sha1(model.to_json().encode())
    arch.update(method.encode())
    arch.update(repr(sorted(kwargs.items())).encode())
    if method not in REUSABLE:
        arch.update(weights.digest())
    return arch.hexdigest(), weights.hexdigest()


def _analyze_chunk(key, weights_key, plan, model, method, kwargs, X, targets, batch_size):
    def payload():
        return {"config": plan.analysis_config(), "weights": plan.analysis_weights(model)}

    args = (key, weights_key, method, X, targets, batch_size)
    # Asking first keeps the weights off the wire when the worker has them;
    # sending them with the data makes preparing and analysing one task.
    cached = _submit(_relevance_worker.ready, key, weights_key)
    result = _submit(
        _relevance_worker.analyze, *args, None if cached else payload(), kwargs
    )
    if result is None:
        result = _submit(_relevance_worker.analyze, *args, payload(), kwargs)
    return result


def _get_executor():
    global _EXECUTOR
    with _LOCK:
        if _EXECUTOR is None:
            from joblib.externals.loky import ProcessPoolExecutor

            # A private pool, not loky's shared reusable one: joblib.Parallel
            # would otherwise reconfigure it (and its graph-mode initializer).
            _EXECUTOR = ProcessPoolExecutor(
                max_workers=1,
                initializer=_relevance_worker.initialize,
                env={"TF_CPP_MIN_LOG_LEVEL": "2"},
            )
        return _EXECUTOR


def shutdown_worker():
    """Stop the relevance worker process; the next call starts a fresh one."""
    global _EXECUTOR
    with _LOCK:
        executor, _EXECUTOR = _EXECUTOR, None
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def _submit(func, *args):
    from joblib.externals.loky.process_executor import BrokenProcessPool

    for attempt in range(2):
        executor = _get_executor()
        try:
            return executor.submit(func, *args).result()
        except BrokenProcessPool as exc:
            # A dead worker (killed, or out of memory) is replaced once; its
            # analyzer cache is gone, so analyze() answers None and the
            # caller sends the model again.
            shutdown_worker()
            if attempt == 1:
                raise RuntimeError(
                    "The relevance worker process died twice in a row "
                    f"({exc}). It may have run out of memory: lower batch_size "
                    "or pass fewer samples at once."
                ) from exc
