"""One Keras network from a pipeline's CNNEmbedder and its Keras classifier.

Relevance of a classifier's decision with respect to the input spectrogram
needs the embedder's network and the classifier's network as one graph. The
embedder's fitted network (``model_``) maps ``(n_freq, n_frames, 1)``
spectrograms to embeddings, one network input per clip (small CNN, the
Inception networks, custom networks). VGGish embeds 0.96 s patches of a clip
and pools them: two layers here cut a clip into its patches (as
:func:`sklearn_rbfm._vggish.to_patches` does) and pool the patch embeddings
(as ``CNNEmbedder.transform`` does); each declares its relevance rule to the
native engine. A StandardScaler between embedder and classifier becomes a
BatchNormalization layer holding its mean and scale, so the joined network
computes what the pipeline computes.
"""

import numpy as np
from sklearn.preprocessing import StandardScaler

# BirdNET runs as a TFLite interpreter, not a Keras network
_NOT_KERAS = frozenset({"birdnet"})


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
    from .._keras import import_tensorflow

    tf = import_tensorflow()

    embedder = pipeline[position]
    if embedder.architecture in _NOT_KERAS:
        raise ValueError(
            f"relevance through CNNEmbedder(architecture={embedder.architecture!r}) "
            "is not supported: its network is a TFLite interpreter, not a Keras "
            "model. Explain the classifier's input (the embedding) with a "
            "pipeline without the embedder, or use RELAX."
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
    if embedder.architecture == "vggish":
        patches = _vggish_patches(shape[1])
        x = patches(layers.Reshape(shape, name="to_bands_frames")(inputs))
        x = _PatchPooling(patches.n_patches, embedder.pooling_)(embedder.model_(x))
    else:
        x = layers.Reshape((*shape, 1), name="to_image")(inputs)
        x = embedder.model_(x)
    for name, step in pipeline.steps[position + 1 : -1]:
        x = _as_layer(name, step, x)
    outputs = pipeline[-1].model_(x)
    return tf.keras.Model(inputs, outputs, name="pipeline"), X, shape


def _as_layer(name, step, x):
    from .._keras import import_tensorflow

    tf = import_tensorflow()

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


def _vggish_patches(n_frames):
    from .._vggish import PATCH_BANDS, PATCH_FRAMES, SILENCE

    return _ClipPatches(n_frames, PATCH_FRAMES, PATCH_BANDS, SILENCE)


class _LayerFactory:
    """Builds the two patch layers on first use, so that TensorFlow loads lazily."""

    classes = {}

    @classmethod
    def get(cls, name):
        if name not in cls.classes:
            cls.classes.update(_define_layers())
        return cls.classes[name]


def _ClipPatches(n_frames, patch_frames, bands, silence):
    return _LayerFactory.get("ClipPatches")(n_frames, patch_frames, bands, silence)


def _PatchPooling(n_patches, pooling):
    return _LayerFactory.get("PatchPooling")(n_patches, pooling)


def _define_layers():
    from .._keras import import_tensorflow

    tf = import_tensorflow()

    class ClipPatches(tf.keras.layers.Layer):
        """(n, bands, frames) -> (n * n_patches, patch_frames, bands, 1), padded with silence."""

        # a rearrangement of the input values: relevance follows the gradient
        relevance_rule = "rearrange"

        def __init__(self, n_frames, patch_frames, bands, silence, **kwargs):
            super().__init__(name="clip_patches", **kwargs)
            self.n_frames, self.patch_frames = n_frames, patch_frames
            self.bands, self.silence = bands, silence
            self.n_patches = -(-n_frames // patch_frames)

        def call(self, x):
            x = tf.transpose(x, (0, 2, 1))
            pad = self.n_patches * self.patch_frames - self.n_frames
            x = tf.pad(x, [[0, 0], [0, pad], [0, 0]], constant_values=self.silence)
            return tf.reshape(x, (-1, self.patch_frames, self.bands, 1))

    class PatchPooling(tf.keras.layers.Layer):
        """(n * n_patches, d) -> (n, d): the mean or max over a clip's patches."""

        def __init__(self, n_patches, pooling, **kwargs):
            super().__init__(name="patch_pooling", **kwargs)
            self.n_patches, self.pooling = n_patches, pooling
            # a mean shares relevance in proportion; a max routes it to the winner
            self.relevance_rule = "proportional" if pooling != "max" else "rearrange"

        def call(self, x):
            x = tf.reshape(x, (-1, self.n_patches, x.shape[-1]))
            if self.pooling == "max":
                return tf.reduce_max(x, axis=1)
            return tf.reduce_mean(x, axis=1)

    return {"ClipPatches": ClipPatches, "PatchPooling": PatchPooling}
