"""VGGish (Hershey et al., 2017) in Keras, and its AudioSet TF-slim checkpoint.

The network and the variable names follow the published TF-slim definition
(tensorflow/models, research/audioset/vggish/vggish_slim.py): 3x3 'same'
convolutions with ReLU, 2x2 max-pools, input patches of 96 frames x 64 mel
bands, two 4096-unit fully connected layers and a 128-d linear embedding.
"""

import os

import numpy as np

from ._spectrogram import VGGISH_LOG_OFFSET, VGGISH_N_MELS

PATCH_FRAMES = 96
PATCH_BANDS = VGGISH_N_MELS
# log(0 + offset): what VGGish's front end gives for silence, used to pad
# the last patch of a clip.
SILENCE = float(np.log(VGGISH_LOG_OFFSET))

CHECKPOINT_NAME = "vggish_model.ckpt"
CHECKPOINT_URL = "https://storage.googleapis.com/audioset/vggish_model.ckpt"

# Keras layer name -> TF-slim scope (slim.repeat names its copies conv3/conv3_1, ...)
_CONV_LAYERS = {
    "conv1": ("vggish/conv1", 64),
    "conv2": ("vggish/conv2", 128),
    "conv3_1": ("vggish/conv3/conv3_1", 256),
    "conv3_2": ("vggish/conv3/conv3_2", 256),
    "conv4_1": ("vggish/conv4/conv4_1", 512),
    "conv4_2": ("vggish/conv4/conv4_2", 512),
}
_DENSE_LAYERS = {
    "fc1_1": ("vggish/fc1/fc1_1", 4096, "relu"),
    "fc1_2": ("vggish/fc1/fc1_2", 4096, "relu"),
    "fc2": ("vggish/fc2", 128, None),
}
SCOPES = {
    **{name: scope for name, (scope, _) in _CONV_LAYERS.items()},
    **{name: scope for name, (scope, _, _) in _DENSE_LAYERS.items()},
}
_POOL_AFTER = {"conv1": "pool1", "conv2": "pool2", "conv3_2": "pool3", "conv4_2": "pool4"}
# The layers of the last convolutional block, unfrozen by ``fine_tune='last'``.
LAST_BLOCK = ("conv4_1", "conv4_2")


def build_vggish(include_top=False):
    """Build VGGish as a Keras model with the published layer structure.

    Parameters
    ----------
    include_top : bool, default=False
        Keep the fully connected layers and return the 128-d embedding
        (``fc2``, linear, as published). Otherwise the model stops at the
        last convolutional block and returns its ``(6, 4, 512)`` feature map
        (``pool4``).

    Returns
    -------
    model : tf.keras.Model
        Input ``(96, 64, 1)``: 96 frames x 64 log-mel bands.
    """
    from ._keras import import_tensorflow

    tf = import_tensorflow()
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=(PATCH_FRAMES, PATCH_BANDS, 1), name="patch")
    x = inputs
    for name, (_, filters) in _CONV_LAYERS.items():
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
        if name in _POOL_AFTER:
            x = layers.MaxPooling2D(2, strides=2, padding="same", name=_POOL_AFTER[name])(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        for name, (_, units, activation) in _DENSE_LAYERS.items():
            x = layers.Dense(units, activation=activation, name=name)(x)
    return tf.keras.Model(inputs, x, name="vggish")


def is_checkpoint(path):
    """Whether ``path`` names a TF checkpoint (V1 single file or V2 prefix)."""
    path = os.fspath(path)
    return os.path.exists(path + ".index") or (
        os.path.isfile(path) and not path.endswith((".h5", ".keras"))
    )


def load_vggish_checkpoint(model, path):
    """Copy the variables of a VGGish TF-slim checkpoint into ``model``.

    Every VGGish layer present in ``model`` (``conv1`` ... ``conv4_2``, and
    ``fc1_1``, ``fc1_2``, ``fc2`` when built with ``include_top=True``) takes
    its ``weights`` and ``biases`` from the checkpoint's matching scope.

    Parameters
    ----------
    model : tf.keras.Model
        A model from :func:`build_vggish` (or one holding its layers by name).
    path : str or os.PathLike
        The checkpoint: the published ``vggish_model.ckpt`` or a V2 prefix.

    Returns
    -------
    used : list of str
        The checkpoint variables copied into the model, in layer order.

    Raises
    ------
    ValueError
        If a variable the model needs is missing or has another shape.
    """
    from ._keras import import_tensorflow

    tf = import_tensorflow()
    path = os.fspath(path)
    try:
        reader = tf.train.load_checkpoint(path)
    except Exception as exc:  # TF raises several types for unreadable files
        raise ValueError(
            f"Could not read {path!r} as a TensorFlow checkpoint ({exc}). Pass "
            f"the published {CHECKPOINT_NAME} or a Keras weights file (.h5)."
        ) from exc
    shapes = reader.get_variable_to_shape_map()
    used = []
    for layer in model.layers:
        scope = SCOPES.get(layer.name)
        if scope is None:
            continue
        values = []
        for var, weight in zip(("weights", "biases"), layer.weights):
            name = f"{scope}/{var}"
            expected = tuple(weight.shape)
            if name not in shapes:
                raise ValueError(
                    f"The checkpoint {path!r} has no variable {name!r} (shape "
                    f"{expected}) for VGGish layer {layer.name!r}; it is not a "
                    f"VGGish checkpoint (the published one is {CHECKPOINT_URL})."
                )
            if tuple(shapes[name]) != expected:
                raise ValueError(
                    f"Variable {name!r} of {path!r} has shape "
                    f"{tuple(shapes[name])}, but VGGish layer {layer.name!r} "
                    f"needs {expected}."
                )
            values.append(reader.get_tensor(name))
            used.append(name)
        layer.set_weights(values)
    return used


def default_checkpoint():
    """Path of the AudioSet checkpoint in the Keras cache, fetched if missing.

    ``tf.keras.utils.get_file`` returns the cached
    ``~/.keras/models/vggish_model.ckpt`` without network access; only a
    missing file is downloaded.
    """
    from ._keras import import_tensorflow

    tf = import_tensorflow()
    try:
        return tf.keras.utils.get_file(
            CHECKPOINT_NAME, CHECKPOINT_URL, cache_subdir="models"
        )
    except Exception as exc:  # get_file raises a bare Exception offline
        target = os.path.join(os.path.expanduser("~"), ".keras", "models", CHECKPOINT_NAME)
        raise FileNotFoundError(
            f"VGGish's AudioSet weights ({CHECKPOINT_NAME}, published at "
            f"{CHECKPOINT_URL}) are not in the Keras cache and could not be "
            f"downloaded ({exc}). Download the file elsewhere and put it at "
            f"{target}, or pass weights='/path/to/{CHECKPOINT_NAME}'; "
            "weights=None gives a randomly initialised VGGish."
        ) from exc


def to_patches(spectrograms):
    """Cut VGGish log-mel spectrograms into 0.96 s patches.

    Parameters
    ----------
    spectrograms : ndarray of shape (n_clips, 64, n_frames)
        Log-mel spectrograms in (band, frame) order, as
        ``SpectrogramTransformer(kind='vggish')`` gives them.

    Returns
    -------
    patches : ndarray of shape (n_clips * n_patches, 96, 64, 1)
        Non-overlapping patches of 96 frames (VGGish's hop), in (frame,
        band) order; the last patch is padded with silence.
    n_patches : int
        Patches per clip: ``ceil(n_frames / 96)``.
    """
    n_clips, _, n_frames = spectrograms.shape
    n_patches = -(-n_frames // PATCH_FRAMES)
    padded = np.full(
        (n_clips, n_patches * PATCH_FRAMES, PATCH_BANDS), SILENCE, dtype=np.float32
    )
    padded[:, :n_frames] = spectrograms.transpose(0, 2, 1)
    return padded.reshape(n_clips * n_patches, PATCH_FRAMES, PATCH_BANDS, 1), n_patches
