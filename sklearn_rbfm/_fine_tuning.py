"""The fine-tuning recipe of :class:`~sklearn_rbfm.CNNEmbedder`.

Small, imbalanced training sets made the plain recipe (class-weighted
cross-entropy, Adam at a constant rate, early stopping on a random split of
patches) depend on the seed: some seeds never left chance level before early
stopping ended them. The recipe here:

- class-balanced batches: every batch draws each class equally often
  (``class_weight='balanced'``), so every step sees the rare class;
- a learning-rate warm-up over the first epoch, then cosine decay to zero,
  so that the last epochs settle instead of jumping between seeds' minima;
- a validation split made by clip (by group when groups are given),
  stratified, so that no clip or speaker sits on both sides;
- early stopping that only starts counting once the training loss has left
  chance level and half the epochs have run;
- a restart from a new initialisation when training never left chance level,
  and a :class:`~sklearn_rbfm.exceptions.FineTuningWarning` when no attempt did;
- the weights averaged over the epochs of the second half (once training has
  left chance level) instead of the weights of one epoch: the average does
  not depend on where training stopped or on one noisy validation loss;
- several networks from different initialisations on request (``n_init``),
  their embeddings side by side. With balanced batches and the schedule,
  seeds differed mostly by their initialisation: on the demo's first fold,
  five initialisations with one split and batch order gave test AUCs
  0.80-0.94, five splits and batch orders with one initialisation
  0.88-0.91. Three networks of 32-64-128 filters side by side narrowed
  that spread less than one network of 64-128-384 filters, the small
  CNN's width since, which at this width depends less on its
  initialisation; narrower networks, in larger numbers, spread more
  (benchmarks/RESULTS.md).

Chance level is the loss of predicting the class frequencies the loss sees:
``log(n_classes)`` for balanced batches.
"""

import math
import warnings

import numpy as np

from ._keras import class_weight_dict, import_tensorflow, validation_split
from .exceptions import FineTuningWarning

# Training has left chance level once its loss is this fraction below it.
CHANCE_MARGIN = 0.05
MAX_RESTARTS = 2
PATIENCE = 5


def chance_loss(y, weights, n_classes):
    """Cross-entropy of predicting the (weighted) class frequencies of ``y``."""
    mass = np.bincount(y, minlength=n_classes).astype(float)
    if weights is not None:
        mass *= np.array([weights.get(k, 1.0) for k in range(n_classes)])
    p = mass[mass > 0] / mass.sum()
    return float(-(p * np.log(p)).sum())


def balanced_batches(y, batch_size, rng):
    """One epoch of batches drawing every class equally often.

    As many batches as a plain pass over ``y``; each class contributes its
    share of every batch, cycling through its clips in a fresh random order
    so that every clip is used before any is repeated.
    """
    n_classes = int(y.max()) + 1
    n_batches = int(math.ceil(len(y) / batch_size))
    members = [np.flatnonzero(y == k) for k in range(n_classes)]
    members = [m for m in members if len(m)]
    per_batch = np.full(len(members), batch_size // len(members))
    per_batch[: batch_size % len(members)] += 1
    streams = []
    for m, k in zip(members, per_batch):
        need = n_batches * k
        order = np.concatenate([rng.permutation(m) for _ in range(-(-need // len(m)))])
        streams.append(order[:need].reshape(n_batches, k))
    batches = np.concatenate(streams, axis=1)
    for b in batches:
        rng.shuffle(b)
    return batches


def shuffled_batches(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


class _Schedule:
    """Linear warm-up over ``warmup`` steps, then cosine decay to zero."""

    def __init__(self, peak, warmup, total):
        self.peak, self.warmup, self.total = peak, max(1, warmup), max(1, total)

    def __call__(self, step):
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.total - self.warmup)
        return 0.5 * self.peak * (1 + math.cos(math.pi * min(1.0, progress)))


def fit_attempt(classifier, units, y_units, clip_of_unit, train, val, *, n_classes,
                epochs, batch_size, learning_rate, class_weight, seed, verbose=0):
    """Train ``classifier`` once; return its history and whether it left chance level.

    ``units`` are the network inputs, ``clip_of_unit`` the clip each belongs
    to; ``train`` and ``val`` index clips. ``class_weight`` is 'balanced'
    (balanced batches), None or a dict over class indices (loss weights).
    """
    tf = import_tensorflow()
    rng = np.random.RandomState(seed % (2**32))
    y_units = y_units.astype(np.int64)
    in_train = np.isin(clip_of_unit, train)
    train_units = np.flatnonzero(in_train)
    y_train = y_units[train_units]
    balanced = class_weight == "balanced"
    weights = None if balanced else class_weight_dict(class_weight, y_train, n_classes)
    loss_weights = tf.constant(
        [1.0 if weights is None else weights.get(k, 1.0) for k in range(n_classes)],
        tf.float32,
    )
    chance = math.log(n_classes) if balanced else chance_loss(y_train, weights, n_classes)
    threshold = (1 - CHANCE_MARGIN) * chance
    val_units = None if val is None else np.flatnonzero(np.isin(clip_of_unit, val))
    # With balanced batches, the validation loss is balanced too: the mean
    # over classes of each class's mean loss, on the training loss's scale.
    val_weights = loss_weights
    if val_units is not None and balanced:
        counts = np.bincount(y_units[val_units], minlength=n_classes)
        val_weights = tf.constant(
            np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0), tf.float32
        )

    steps = int(math.ceil(len(train_units) / batch_size))
    schedule = _Schedule(learning_rate, steps, steps * epochs)
    rate = tf.Variable(schedule(0), dtype=tf.float32, trainable=False)
    optimizer = tf.keras.optimizers.Adam(learning_rate=rate)
    variables = classifier.trainable_variables

    def weighted_loss(x, y, class_weights, training):
        probs = classifier(x, training=training)
        losses = tf.keras.losses.sparse_categorical_crossentropy(y, probs)
        w = tf.gather(class_weights, y)
        return tf.reduce_sum(w * losses), tf.reduce_sum(w)

    # One trace per fit: the batch dimension is left open, so a last,
    # smaller batch reuses the graph.
    signature = [
        tf.TensorSpec((None, *units.shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.int64),
    ]

    @tf.function(input_signature=signature)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            total, mass = weighted_loss(x, y, loss_weights, True)
            loss = total / mass
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return total, mass

    @tf.function(input_signature=signature)
    def eval_step(x, y):
        return weighted_loss(x, y, val_weights, False)

    history = {"loss": [], "learning_rate": []}
    if val_units is not None:
        history["val_loss"] = []
    best, waited, step = np.inf, 0, 0
    summed, n_summed = None, 0
    for epoch in range(epochs):
        history["learning_rate"].append(float(schedule(step)))
        if balanced:
            batches = balanced_batches(y_train, batch_size, rng)
        else:
            batches = shuffled_batches(len(train_units), batch_size, rng)
        total = mass = 0.0
        for batch in batches:
            rate.assign(schedule(step))
            idx = train_units[batch]
            t, m = train_step(units[idx], y_units[idx])
            total, mass, step = total + float(t), mass + float(m), step + 1
        loss = total / mass
        history["loss"].append(loss)
        # On a small validation split the loss is noisy: judged from the
        # first epochs it ends runs that had barely started. The second half
        # is also where the averaged weights come from.
        settled = loss < threshold and 2 * (epoch + 1) >= epochs
        if settled:
            now = classifier.get_weights()
            summed = now if summed is None else [a + b for a, b in zip(summed, now)]
            n_summed += 1
        if val_units is None:
            continue
        total = mass = 0.0
        for start in range(0, len(val_units), batch_size):
            idx = val_units[start : start + batch_size]
            t, m = eval_step(units[idx], y_units[idx])
            total, mass = total + float(t), mass + float(m)
        val_loss = total / mass
        history["val_loss"].append(val_loss)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss {loss:.4f}, val_loss {val_loss:.4f}")
        if not settled:
            continue
        if val_loss < best:
            best, waited = val_loss, 0
        else:
            waited += 1
            if waited >= PATIENCE:
                break
    if summed is not None:
        classifier.set_weights([w / n_summed for w in summed])
    final = min(history["loss"])
    return history, bool(final < threshold), chance


def fine_tune(make_classifier, units, y_units, clip_of_unit, y_clips, *, groups,
              n_classes, epochs, batch_size, learning_rate, class_weight,
              validation_fraction, seed, name, n_init=1, verbose=0):
    """Train ``n_init`` networks with restarts; return the embedding network and the history.

    ``make_classifier(index)`` returns a freshly initialised ``(network,
    classifier)`` for index 0, 1, ..., the classifier being the network
    with a softmax head; index ``member * (MAX_RESTARTS + 1) + attempt``.
    With ``n_init > 1`` the embedding network concatenates the members'
    embeddings (see :func:`concatenate_members`). The history holds every
    epoch of every attempt of every member, with the member and attempt
    numbers in ``history['member']`` and ``history['attempt']``.
    """
    train, val = validation_split(y_clips, groups, validation_fraction, seed)
    history, networks, failed = {}, [], []
    for member in range(n_init):
        for attempt in range(MAX_RESTARTS + 1):
            network, classifier = make_classifier(member * (MAX_RESTARTS + 1) + attempt)
            run, learned, chance = fit_attempt(
                classifier, units, y_units, clip_of_unit, train, val,
                n_classes=n_classes, epochs=epochs, batch_size=batch_size,
                learning_rate=learning_rate, class_weight=class_weight,
                seed=seed + 7919 * attempt + 104729 * member, verbose=verbose,
            )
            run["member"] = [member] * len(run["loss"])
            run["attempt"] = [attempt] * len(run["loss"])
            for key, values in run.items():
                history.setdefault(key, []).extend(values)
            if learned:
                break
        networks.append(network)
        if not learned:
            failed.append(member)
    if failed:
        which = "" if n_init == 1 else (
            f" for {len(failed)} of its {n_init} networks (members "
            f"{', '.join(map(str, failed))})"
        )
        warnings.warn(
            f"{name} fine-tuning ended at chance level{which}: the training loss "
            f"never went below {(1 - CHANCE_MARGIN) * chance:.3f} (chance level "
            f"{chance:.3f}) in {MAX_RESTARTS + 1} attempts of {epochs} epochs, so the "
            "embedding is close to an untrained network's. Check that the labels "
            "match the clips, or give more clips, more epochs or another "
            "learning_rate.",
            FineTuningWarning,
            stacklevel=5,
        )
    return concatenate_members(networks), history


def concatenate_members(networks):
    """One network whose embedding is the members' embeddings side by side.

    Channel ``i`` of one independently trained network has nothing to do
    with channel ``i`` of another, so averaging their embeddings would mix
    unrelated features; side by side, each member's features keep their
    meaning and the model trained on the embedding weighs them.
    """
    if len(networks) == 1:
        return networks[0]
    tf = import_tensorflow()
    inputs = tf.keras.Input(networks[0].input_shape[1:], name="spectrogram")
    outputs = [
        tf.keras.Model(net.input, net.output, name=f"{net.name}_{i}")(inputs)
        for i, net in enumerate(networks)
    ]
    return tf.keras.Model(
        inputs, tf.keras.layers.Concatenate(name="members")(outputs),
        name=f"{networks[0].name}_x{len(networks)}",
    )
