"""One Keras network from a pipeline's CNNEmbedder and its Keras classifier.

Relevance of a classifier's decision with respect to the input spectrogram
needs the embedder's network and the classifier's network as one graph. The
embedder's fitted network (``model_``) maps ``(n_freq, n_frames, 1)``
spectrograms to embeddings, one network input per clip (small CNN, the
Inception networks, custom networks); a StandardScaler between the two
becomes a BatchNormalization layer holding its mean and scale, so the joined
network computes what the pipeline computes.
"""

import numpy as np
from sklearn.preprocessing import StandardScaler

# architectures that embed a clip as several network inputs (VGGish patches,
# BirdNET windows) and pool them: not one network from clip to embedding
_MULTI_UNIT = frozenset({"vggish", "birdnet"})


def is_embedder(step):
    """Whether a pipeline step is a fitted spectrogram embedder with a Keras network."""
    return all(
        hasattr(step, name)
        for name in ("model_", "spectrogram_shape_", "embedding_dim_", "architecture")
    )


def embedder_position(pipeline):
    """Index of the last CNNEmbedder before the classifier, or None."""
    positions = [i for i, (_, step) in enumerate(pipeline.steps[:-1]) if is_embedder(step)]
    return positions[-1] if positions else None


def joined_model(pipeline, position, X):
    """(joined Keras model, flat spectrograms, spectrogram shape)."""
    import tensorflow as tf

    embedder = pipeline[position]
    if embedder.architecture in _MULTI_UNIT:
        raise ValueError(
            f"relevance through CNNEmbedder(architecture={embedder.architecture!r}) "
            "is not supported: it embeds each clip as several network inputs "
            "and pools them. Explain the classifier's input (the embedding) "
            "with a pipeline without the embedder, or use RELAX."
        )
    shape = tuple(int(v) for v in embedder.spectrogram_shape_)
    X = np.asarray(X, dtype=np.float32)
    X = X.reshape(len(X), -1)
    if X.shape[1] != shape[0] * shape[1]:
        raise ValueError(
            f"The CNNEmbedder takes spectrograms of shape {shape} "
            f"({shape[0] * shape[1]} values), but got {X.shape[1]} values per clip."
        )
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=(X.shape[1],), name="spectrogram_bins")
    x = layers.Reshape((*shape, 1), name="to_image")(inputs)
    x = embedder.model_(x)
    for name, step in pipeline.steps[position + 1 : -1]:
        x = _as_layer(name, step, x)
    outputs = pipeline[-1].model_(x)
    return tf.keras.Model(inputs, outputs, name="pipeline"), X, shape


def _as_layer(name, step, x):
    import tensorflow as tf

    if step is None or step == "passthrough":
        return x
    if isinstance(step, StandardScaler):
        n = int(x.shape[-1])
        mean = step.mean_ if step.with_mean else np.zeros(n)
        scale = step.scale_ if step.with_std else np.ones(n)
        layer = tf.keras.layers.BatchNormalization(
            epsilon=0.0, center=False, scale=False, name=f"step_{name}"
        )
        out = layer(x)
        layer.set_weights([np.asarray(mean, np.float32), np.asarray(scale, np.float32) ** 2])
        return out
    raise ValueError(
        f"Pipeline step {name!r} ({type(step).__name__}) lies between the "
        "CNNEmbedder and the classifier; relevance through the whole pipeline "
        "takes only a StandardScaler or 'passthrough' there."
    )
