"""Networks of the package: the embedders' spectrogram CNNs and Becker et al.'s classifiers.

Each embedder builder returns a Keras model from spectrograms
``(n_freq, n_frames, 1)`` (or VGGish patches) to a pooled feature vector, the
names of the layers of its last convolutional block, and the weights file it
loaded. :func:`build_audionet` and :func:`build_alexnet` return the softmax
classifiers of :class:`~sklearn_rbfm.KerasCNNClassifier`.
"""

import os

import numpy as np

from ._keras import import_tensorflow
from . import _vggish

# name -> (keras.applications class, notop weights file, md5 Keras checks, layer
# ending the second-to-last block, smallest input side Keras accepts)
_KERAS_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
INCEPTION = {
    "inception_v3": (
        "InceptionV3",
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _KERAS_BASE + "inception_v3/",
        "bcbd6486424b2319ff4ef7d526e38f63",
        "mixed9",
    ),
    "inception_resnet_v2": (
        "InceptionResNetV2",
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _KERAS_BASE + "inception_resnet_v2/",
        "d19885ff4a710c122648d3b5c3b684e4",
        "block8_9_ac",
    ),
}
INCEPTION_DEFAULT_SIZE = (299, 299)
INCEPTION_MIN_SIZE = 75
# The small CNN's filters per block. Fine-tuned from random weights on a few
# hundred clips, one network this wide varied less between seeds than three
# of 32-64-128 filters side by side (benchmarks/RESULTS.md).
SMALL_CNN_FILTERS = (64, 128, 384)
# Becker et al.'s AudioNet filters, and the AlexNet-like net's convolutions as
# (filters, kernel, stride, followed by batch normalisation and pooling).
AUDIONET_FILTERS = (100, 64, 128, 128, 128, 128)
ALEXNET_CONVS = (
    (96, 11, 4, True),
    (256, 5, 1, True),
    (384, 3, 1, False),
    (384, 3, 1, False),
    (256, 3, 1, False),
)


def imagenet_weights(architecture):
    """Path of the ImageNet weights of an Inception network, from Keras' cache.

    Uses Keras' own cache (``~/.keras/models``) and hash check; only a missing
    file is downloaded.
    """
    tf = import_tensorflow()
    _, fname, base_url, md5, _ = INCEPTION[architecture]
    try:
        return tf.keras.utils.get_file(
            fname, base_url + fname, cache_subdir="models", file_hash=md5
        )
    except Exception as exc:  # get_file raises a bare Exception offline
        target = os.path.join(os.path.expanduser("~"), ".keras", "models", fname)
        raise FileNotFoundError(
            f"The ImageNet weights of {architecture} ({fname}, published at "
            f"{base_url + fname}) are not in the Keras cache and could not be "
            f"downloaded ({exc}). Download the file elsewhere and put it at "
            f"{target}, or pass weights='/path/to/{fname}'; weights=None "
            "gives a randomly initialised network."
        ) from exc


def _existing(path, architecture):
    path = os.fspath(path)
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise FileNotFoundError(
            f"weights={path!r} for architecture={architecture!r} does not exist; "
            "pass the path of a weights file, 'default' for the published "
            "weights, or None for random initialisation."
        )
    return path


def _pool(tf, pooling):
    if pooling == "max":
        return tf.keras.layers.GlobalMaxPooling2D(name="pool")
    return tf.keras.layers.GlobalAveragePooling2D(name="pool")


def build_vggish(weights, pooling):
    """VGGish's convolutional stack on (96, 64, 1) patches, pooled to 512."""
    tf = import_tensorflow()
    backbone = _vggish.build_vggish(include_top=False)
    path = None
    if weights == "default":
        path = _vggish.default_checkpoint()
    elif weights is not None:
        path = _existing(weights, "vggish")
    if path is not None:
        if _vggish.is_checkpoint(path):
            _vggish.load_vggish_checkpoint(backbone, path)
        else:
            backbone.load_weights(path)
    features = _pool(tf, pooling)(backbone.output)
    model = tf.keras.Model(backbone.input, features, name="vggish_embedder")
    return model, set(_vggish.LAST_BLOCK), path


def _spectrogram_input(tf, shape, input_size, standardise):
    inputs = tf.keras.Input(shape=(*shape, 1), name="spectrogram")
    x = inputs
    if standardise:
        # Per clip, as an image is scaled before an image network: dB levels
        # of recordings differ, the networks expect inputs of unit scale.
        x = tf.keras.layers.LayerNormalization(
            axis=(1, 2, 3), center=False, scale=False, name="standardise"
        )(x)
    if input_size is not None and tuple(input_size) != tuple(shape):
        x = tf.keras.layers.Resizing(*input_size, name="resize")(x)
    return inputs, x


def build_inception(architecture, weights, shape, input_size, pooling):
    """A Keras Inception network on spectrograms resized and repeated to RGB."""
    tf = import_tensorflow()
    cls_name, _, _, _, boundary = INCEPTION[architecture]
    size = tuple(INCEPTION_DEFAULT_SIZE if input_size is None else input_size)
    if min(size) < INCEPTION_MIN_SIZE:
        raise ValueError(
            f"input_size={size} is too small for {architecture}: Keras needs at "
            f"least {INCEPTION_MIN_SIZE} x {INCEPTION_MIN_SIZE}."
        )
    path = None
    if weights in ("default", "imagenet"):
        path = imagenet_weights(architecture)
    elif weights is not None:
        path = _existing(weights, architecture)
    backbone = getattr(tf.keras.applications, cls_name)(
        include_top=False, weights=path, input_shape=(*size, 3)
    )
    inputs, x = _spectrogram_input(tf, shape, size, standardise=True)
    x = tf.keras.layers.Concatenate(name="to_rgb")([x, x, x])
    x = backbone(x)
    features = _pool(tf, pooling)(x)
    model = tf.keras.Model(inputs, features, name=f"{architecture}_embedder")
    names = [layer.name for layer in backbone.layers]
    return model, set(names[names.index(boundary) + 1 :]), path


def build_small_cnn(shape, input_size, pooling):
    """Three blocks of 3x3 convolution (64, 128, 384 filters, ReLU) + 2x2 max-pool.

    No batch normalisation, so that relevance methods such as deep Taylor
    decomposition apply; 'same' padding, so that any spectrogram size fits.
    """
    tf = import_tensorflow()
    layers = tf.keras.layers
    inputs, x = _spectrogram_input(tf, shape, input_size, standardise=True)
    for i, filters in enumerate(SMALL_CNN_FILTERS, start=1):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"block{i}_conv"
        )(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"block{i}_pool")(x)
    features = _pool(tf, pooling)(x)
    model = tf.keras.Model(inputs, features, name="small_cnn")
    last = len(SMALL_CNN_FILTERS)
    return model, {f"block{last}_conv", f"block{last}_pool"}, None


def build_custom(builder, shape, input_size, pooling):
    """A user's network: ``builder((height, width, 1))`` returns a Keras model.

    A 4-D output (a feature map) is pooled; a 2-D output is the embedding.
    """
    tf = import_tensorflow()
    size = tuple(shape if input_size is None else input_size)
    network = builder((*size, 1))
    if not isinstance(network, tf.keras.Model):
        raise TypeError(
            f"architecture={builder!r} returned {type(network).__name__}, not a "
            "tf.keras.Model; the callable must build the network for the input "
            "shape (height, width, 1) it is given."
        )
    inputs, x = _spectrogram_input(tf, shape, size, standardise=False)
    x = network(x)
    if len(x.shape) == 4:
        x = _pool(tf, pooling)(x)
    elif len(x.shape) != 2:
        raise ValueError(
            f"The network built by {builder!r} outputs shape {tuple(x.shape)}; "
            "it must output a feature map (batch, h, w, c) or vectors (batch, d)."
        )
    model = tf.keras.Model(inputs, x, name="custom_embedder")
    kernels = [layer.name for layer in network.layers if hasattr(layer, "kernel")]
    return model, set(kernels[-1:]), None


def set_trainable(model, fine_tune, last_block):
    """Freeze the layers ``fine_tune`` leaves alone; batch normalisation stays frozen.

    Frozen batch normalisation keeps its statistics and runs in inference
    mode (Keras' advice for fine-tuning pretrained networks).
    """
    tf = import_tensorflow()
    for layer in _flat_layers(model):
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.trainable = False
        elif fine_tune == "last":
            layer.trainable = layer.name in last_block
        else:
            layer.trainable = True


def _flat_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _flat_layers(layer)
        else:
            yield layer


def _scaled(units, width):
    return max(1, int(round(units * width)))


# The epsilon added to a waveform's variance when it is standardised.
# Keras' default, 1e-3, exceeds the variance of quiet recordings (the
# median one-second frame of FSDD's quietest speaker: 1.4e-5), which then
# kept a standard deviation of 0.1-0.3 instead of 1. Spectrograms in dB
# (variances of 10-1000) keep the default, under which a constant band
# stays constant instead of turning float rounding into values of 0.1.
WAVEFORM_EPSILON = 1e-8


_CONTENT_LAYER = []


def content_standardization():
    """The Keras layer class of ``standardize='content'``, defined on first use.

    ``ContentStandardization`` standardises each row over its non-zero
    values (zero mean, unit variance) and leaves its zeros at zero: a
    waveform's padding and digital silence neither count towards its
    statistics nor change. Keras' ``LayerNormalization`` standardises over
    the whole frame, so that a clip padded to twice its length came out
    with its speech at sqrt(2) times the scale. Registered with Keras
    (``sklearn_rbfm>ContentStandardization``); it rescales each clip as a
    whole, so relevance passes through it unchanged (``relevance_rule``).
    """
    if not _CONTENT_LAYER:
        tf = import_tensorflow()

        @tf.keras.utils.register_keras_serializable(package="sklearn_rbfm")
        class ContentStandardization(tf.keras.layers.Layer):
            relevance_rule = "identity"

            def __init__(self, epsilon=WAVEFORM_EPSILON, **kwargs):
                super().__init__(**kwargs)
                self.epsilon = float(epsilon)

            def call(self, x):
                content = tf.cast(tf.not_equal(x, 0), x.dtype)
                count = tf.maximum(tf.reduce_sum(content, axis=-1, keepdims=True), 1.0)
                mean = tf.reduce_sum(x, axis=-1, keepdims=True) / count
                centred = (x - mean) * content
                variance = tf.reduce_sum(centred**2, axis=-1, keepdims=True) / count
                return centred * tf.math.rsqrt(variance + self.epsilon)

            def get_config(self):
                return {**super().get_config(), "epsilon": self.epsilon}

        _CONTENT_LAYER.append(ContentStandardization)
    return _CONTENT_LAYER[0]


def _standardised(layers, inputs, standardize, epsilon=1e-3):
    # Per clip, so that recording levels do not matter; the relevance
    # engine passes relevance through it unchanged.
    if not standardize:
        return inputs
    if standardize == "content":
        return content_standardization()(epsilon=epsilon, name="standardise")(inputs)
    return layers.LayerNormalization(
        axis=-1, center=False, scale=False, epsilon=epsilon, name="standardise"
    )(inputs)


def _conv_block(layers, conv, x, name, batch_norm):
    # A linear convolution, then batch normalisation, then the ReLU: the
    # order in which a relevance engine can fold the normalisation into the
    # kernel.
    x = conv(x)
    if not batch_norm:
        return layers.Activation("relu", name=f"{name}_relu")(x)
    # momentum 0.9: the moving statistics, which the validation loss of
    # early stopping sees, follow the weights within an epoch of CPU-sized data
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def averaged_network(members, name):
    """One network whose logits are the mean of the logits of ``members``.

    ``members`` are fitted networks of one architecture, each ending in
    ``dropout2`` and a Dense softmax layer ``output``. Each member up to
    ``dropout2`` becomes a nested model ``net1``, ``net2``, ... reading the
    one input; a Dense softmax layer ``output`` reads their features side
    by side, with the members' output kernels stacked and divided by their
    number and the mean of their biases, so that its logits are the mean
    of theirs and a relevance method explains the ensemble as one network.
    """
    tf = import_tensorflow()
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=members[0].input_shape[1:], name="input")
    features = [
        tf.keras.Model(m.input, m.get_layer("dropout2").output, name=f"net{i}")(inputs)
        for i, m in enumerate(members, start=1)
    ]
    x = layers.Concatenate(name="networks")(features)
    heads = [m.get_layer("output") for m in members]
    head = layers.Dense(heads[0].units, activation="softmax", name="output")
    outputs = head(x)
    kernels, biases = zip(*(h.get_weights() for h in heads))
    head.set_weights([
        np.concatenate(kernels, axis=0) / len(members),
        np.mean(biases, axis=0),
    ])
    return tf.keras.Model(inputs, outputs, name=name)


def build_audionet(n_features, n_classes, width, dropout, standardize=True):
    """Becker et al.'s AudioNet on waveforms of ``n_features`` samples.

    Per-clip standardisation (a LayerNormalization without scale or offset,
    epsilon ``WAVEFORM_EPSILON``; over the non-zero samples only with
    ``standardize='content'``; none when False), six blocks of Conv1D(3) +
    BatchNormalization + ReLU + max pooling (the
    first pooling 3 wide, the others 2, stride 2), two dense layers
    *without* activation (as in the authors' code), dropout after each, and
    the softmax output.
    """
    tf = import_tensorflow()
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=(n_features,), name="input")
    x = _standardised(layers, inputs, standardize, WAVEFORM_EPSILON)
    x = layers.Reshape((n_features, 1), name="to_channels")(x)
    for i, filters in enumerate(AUDIONET_FILTERS, start=1):
        conv = layers.Conv1D(
            _scaled(filters, width), 3, padding="same", name=f"conv{i}"
        )
        x = _conv_block(layers, conv, x, f"conv{i}", batch_norm=True)
        x = layers.MaxPooling1D(
            3 if i == 1 else 2, strides=2, padding="same", name=f"pool{i}"
        )(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(_scaled(1024, width), name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(_scaled(512, width), name="dense2")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return tf.keras.Model(inputs, outputs, name="audionet")


def build_alexnet(shape, n_classes, width, dropout, standardize=True):
    """The AlexNet-like spectrogram network of Becker et al.

    Per-clip standardisation (per frequency band when ``standardize`` is
    ``'frequency'``, none when False), convolutions 11x11/4 and 5x5 each followed by
    BatchNormalization, ReLU and 3x3/2 max pooling (the authors' batch
    normalisation), three 3x3 convolutions with ReLU, two dense layers of
    1024 units without activation, dropout and the softmax output.
    """
    tf = import_tensorflow()
    layers = tf.keras.layers
    n_freq, n_frames = shape
    inputs = tf.keras.Input(shape=(n_freq * n_frames,), name="input")
    if standardize == "frequency":
        # Each band over time, as cepstral mean and variance normalisation
        # does: removes a microphone's or a voice's spectral tilt.
        x = layers.Reshape((n_freq, n_frames), name="to_bands")(inputs)
        x = _standardised(layers, x, True)
    else:
        x = _standardised(layers, inputs, standardize)
    x = layers.Reshape((n_freq, n_frames, 1), name="to_image")(x)
    for i, (filters, kernel, stride, pool) in enumerate(ALEXNET_CONVS, start=1):
        conv = layers.Conv2D(
            _scaled(filters, width), kernel, strides=stride, padding="same",
            name=f"conv{i}",
        )
        x = _conv_block(layers, conv, x, f"conv{i}", batch_norm=pool)
        if pool:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(_scaled(1024, width), name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(_scaled(1024, width), name="dense2")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return tf.keras.Model(inputs, outputs, name="alexnet")
