"""Shared TensorFlow/Keras plumbing for the package's Keras-based estimators.

Everything here imports TensorFlow lazily, inside the functions, so that
``import sklearn_rbfm`` stays cheap. TensorFlow always runs eagerly in the
user's process; graph-mode work (iNNvestigate) happens in a worker process
(see :mod:`sklearn_rbfm._relevance`).
"""

import contextlib
import os
import random
import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight


def import_tensorflow():
    """Import TensorFlow quietly and return the module.

    The one place the package imports TensorFlow. Its C++ start-up lines
    (e.g. "Unable to register cuDNN factory", logged at error level while
    CUDA plugins register) are silenced with ``TF_CPP_MIN_LOG_LEVEL=3``
    unless the user chose a level already: the user's value wins. Python
    exceptions still surface as usual.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def seed_from(random_state):
    """Draw an integer seed from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy and TensorFlow for the block, then restore all three.

    TensorFlow's eager global seed and the state of the generator that
    derives its per-operation seeds are put back as they were, so that the
    user's later ``tf.random`` draws are those they would have had without
    the block (and no global seed is left set where there was none).

    Keras draws the seeds of unseeded initialisers and dropout from its own
    (per-thread) generator once ``tf.keras.utils.set_random_seed`` has been
    called, not from Python's ``random``; the block then seeds a generator of
    its own in its place, so that ``random_state`` repeats whatever the user
    seeded before.
    """
    import_tensorflow()
    from keras.src import backend as keras_backend
    from tensorflow.python.eager import context as tf_context

    ctx = tf_context.context()
    tf_seed = getattr(ctx, "_seed", None)
    tf_rng = getattr(ctx, "_rng", None)
    tf_rng_state = None if tf_rng is None else tf_rng.getstate()
    py_state = random.getstate()
    np_state = np.random.get_state()
    keras_seeds = keras_backend._SEED_GENERATOR
    keras_generator = getattr(keras_seeds, "generator", None)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    ctx._set_global_seed(seed)
    if keras_generator is not None:
        keras_seeds.generator = random.Random(seed)
    try:
        yield
    finally:
        keras_seeds.generator = keras_generator
        random.setstate(py_state)
        np.random.set_state(np_state)
        if tf_seed is None:
            ctx._seed = None
            ctx._rng = tf_rng
        else:
            ctx._set_global_seed(tf_seed)
            ctx._rng.setstate(tf_rng_state)


def model_state(model):
    """Return a picklable description of a Keras model: architecture and weights."""
    return {
        "config": model.to_json(),
        "weights": [np.asarray(w) for w in model.get_weights()],
    }


def model_from_state(state, custom_objects=None):
    """Rebuild the Keras model described by :func:`model_state`."""
    tf = import_tensorflow()
    model = tf.keras.models.model_from_json(
        state["config"], custom_objects=custom_objects
    )
    model.set_weights(state["weights"])
    return model


class KerasPickleMixin:
    """Pickle fitted Keras models as architecture + weights, never as live objects.

    Subclasses list the attributes holding Keras models in ``_keras_attributes``
    and may give ``_keras_custom_objects`` for layers Keras cannot rebuild alone.
    """

    _keras_attributes = ("model_",)
    _keras_custom_objects = None

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        for attr in self._keras_attributes:
            if state.get(attr) is not None:
                state[attr] = _PickledModel(model_state(state[attr]))
        return state

    def __setstate__(self, state):
        state = dict(state)
        for attr in self._keras_attributes:
            if isinstance(state.get(attr), _PickledModel):
                state[attr] = model_from_state(
                    state[attr].state, custom_objects=self._keras_custom_objects
                )
        super().__setstate__(state)


class _PickledModel:
    """Marks a Keras model stored as architecture + weights inside a pickle."""

    def __init__(self, state):
        self.state = state


def class_weight_dict(class_weight, y_encoded, n_classes):
    """Resolve ``class_weight`` ('balanced', None or a dict over encoded labels)."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        weights = compute_class_weight(
            class_weight, classes=np.arange(n_classes), y=y_encoded
        )
        return {i: float(w) for i, w in enumerate(weights)}
    return {int(k): float(v) for k, v in class_weight.items()}


_ONE_CLASS = (
    "Classifier can't train when only one class is present: y holds only "
    "{label!r}. Pass samples of at least two classes."
)


def encode_targets(y, class_weight, one_class_error=_ONE_CLASS):
    """Encode class labels and map a label-keyed ``class_weight`` onto the codes.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class labels, already validated.

    class_weight : 'balanced', dict or None
        A dict is keyed by class label, as in scikit-learn.

    one_class_error : str, default=a scikit-learn style message
        Message of the ValueError raised when ``y`` holds one class; it is
        formatted with ``label``.

    Returns
    -------
    classes : ndarray
        The sorted class labels (``classes_``).

    y_encoded : ndarray of int
        Index of each label in ``classes``.

    class_weight : 'balanced', dict or None
        ``class_weight`` with dict keys turned into class indices.
    """
    classes, y_encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(one_class_error.format(label=classes[0]))
    if isinstance(class_weight, dict):
        unknown = set(class_weight) - set(classes.tolist())
        if unknown:
            raise ValueError(
                f"class_weight names classes {sorted(unknown)!r} that are not "
                f"in y; the classes are {classes.tolist()!r}."
            )
        class_weight = {
            int(np.searchsorted(classes, label)): weight
            for label, weight in class_weight.items()
        }
    return classes, y_encoded, class_weight


def validation_split(y, groups, fraction, seed):
    """Indices (train, validation) of clips, stratified by class, grouped by ``groups``.

    The one early-stopping split of the package's Keras estimators. With two
    or more groups, whole groups (e.g. speakers) are held out, so that the
    stopping point is chosen on voices the network did not train on;
    otherwise a stratified fraction of the clips. Returns
    ``(all clips, None)`` when the data cannot spare a validation part that
    leaves every class in training.
    """
    n = len(y)
    everything = np.arange(n)
    n_val = int(np.ceil(fraction * n))
    if fraction == 0 or n_val >= n:
        return everything, None
    counts = np.bincount(y)
    if groups is not None and len(np.unique(groups)) >= 2:
        n_splits = int(min(max(2, round(1 / fraction)), len(np.unique(groups))))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            # Too few members of a class for n_splits is expected on small data.
            warnings.simplefilter("ignore", UserWarning)
            train, val = next(splitter.split(everything, y, groups))
        if len(np.unique(y[train])) == len(counts):
            return train, val
    stratify = y if counts.min() >= 2 and n_val >= len(counts) else None
    train, val = train_test_split(everything, test_size=n_val, stratify=stratify,
                                  random_state=seed)
    if len(np.unique(y[train])) < len(counts):
        return everything, None
    return train, val


def train_classifier(
    model,
    X,
    y_encoded,
    *,
    n_classes,
    epochs,
    batch_size,
    learning_rate,
    class_weight,
    validation_fraction,
    early_stopping,
    seed,
    verbose=0,
    patience=5,
    run_eagerly=False,
):
    """Compile and fit ``model`` (softmax output) with the package's training recipe.

    Adam, sparse categorical cross-entropy, class weights, and, when
    ``early_stopping`` is set and ``validation_fraction`` > 0, a stratified
    validation split with early stopping that restores the best weights.

    ``run_eagerly`` skips tracing the training step into a graph, which
    costs seconds per model and only pays off over many steps.

    Returns the per-epoch metrics (``loss``, ``val_loss``) as lists of floats.
    """
    tf = import_tensorflow()
    weights = class_weight_dict(class_weight, y_encoded, n_classes)
    X_val = y_val = None
    if early_stopping and validation_fraction and len(np.unique(y_encoded)) > 1:
        train, val = validation_split(y_encoded, None, validation_fraction, seed)
        if val is not None:
            X, X_val, y_encoded, y_val = X[train], X[val], y_encoded[train], y_encoded[val]
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        run_eagerly=run_eagerly,
    )
    callbacks = []
    if X_val is not None:
        callbacks.append(
            tf.keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        )
    history = model.fit(
        X,
        y_encoded,
        epochs=epochs,
        batch_size=batch_size,
        class_weight=weights,
        validation_data=None if X_val is None else (X_val, y_val),
        callbacks=callbacks,
        shuffle=True,
        verbose=verbose,
    )
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def predict_batched(model, X, batch_size):
    """``model(x, training=False)`` over batches; avoids ``predict``'s per-call overhead."""
    outputs = [
        np.asarray(model(X[start : start + batch_size], training=False))
        for start in range(0, len(X), batch_size)
    ]
    return np.concatenate(outputs, axis=0)
