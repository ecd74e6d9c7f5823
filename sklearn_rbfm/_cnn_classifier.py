"""The AudioMNIST networks of Becker et al. (2018) as a scikit-learn classifier."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._keras import (
    KerasPickleMixin,
    encode_targets,
    import_tensorflow,
    predict_batched,
    seed_from,
    seeded,
    train_classifier,
)
from .utils._validation import as_float32


_EAGER_BELOW_STEPS = 10


def _scaled(units, width):
    return max(1, int(round(units * width)))


def _audionet(tf, n_features, n_classes, width, dropout):
    # Becker et al.'s AudioNet on 8 kHz waveforms: six Conv1D(3)/max-pool
    # blocks, then two dense layers WITHOUT activation (as in the authors'
    # code), dropout, and the softmax output.
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=(n_features,), name="input")
    x = layers.Reshape((n_features, 1), name="to_channels")(inputs)
    for i, filters in enumerate((100, 64, 128, 128, 128, 128), start=1):
        x = layers.Conv1D(
            _scaled(filters, width), 3, padding="same", activation="relu",
            name=f"conv{i}",
        )(x)
        x = layers.MaxPooling1D(2, strides=2, padding="same", name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(_scaled(1024, width), name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(_scaled(512, width), name="dense2")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return tf.keras.Model(inputs, outputs, name="audionet")


def _alexnet(tf, shape, n_classes, width, dropout):
    # The AlexNet-like spectrogram network of Becker et al.: five convolutions
    # (11x11/4, 5x5, 3x3 x3) with two max-pools, two dense layers of 1024
    # without activation, softmax output. Batch normalisation of the authors'
    # code is left out and convolutions pad 'same', so that deep Taylor
    # decomposition applies and small spectrograms still fit.
    layers = tf.keras.layers
    n_freq, n_frames = shape
    inputs = tf.keras.Input(shape=(n_freq * n_frames,), name="input")
    x = layers.Reshape((n_freq, n_frames, 1), name="to_image")(inputs)
    specs = (
        (96, 11, 4, True),
        (256, 5, 1, True),
        (384, 3, 1, False),
        (384, 3, 1, False),
        (256, 3, 1, False),
    )
    for i, (filters, kernel, stride, pool) in enumerate(specs, start=1):
        x = layers.Conv2D(
            _scaled(filters, width), kernel, strides=stride, padding="same",
            activation="relu", name=f"conv{i}",
        )(x)
        if pool:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(_scaled(1024, width), name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(_scaled(1024, width), name="dense2")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return tf.keras.Model(inputs, outputs, name="alexnet")


class KerasCNNClassifier(KerasPickleMixin, ClassifierMixin, BaseEstimator):
    """The AudioMNIST convolutional networks (AudioNet, AlexNet-like) as a classifier.

    Becker et al. (2018, "Interpreting and Explaining Deep Neural Networks for
    Classification of Audio Signals") explain two networks with layer-wise
    relevance propagation:

    - ``'audionet'`` reads raw waveforms (8 kHz, one second = 8000 samples in
      the paper): six blocks of a 1-D convolution (kernel 3, ReLU) and max
      pooling, two dense layers of 1024 and 512 units *without* activation,
      dropout 0.5 and a softmax output.
    - ``'alexnet'`` reads spectrograms: convolutions of 11x11 (stride 4), 5x5
      and three 3x3 with ReLU, max pooling after the first two, two dense
      layers of 1024 units without activation, dropout and a softmax output.

    Both take flat rows: waveforms ``(n_samples, n_audio_samples)`` or flat
    spectrograms ``(n_samples, n_freq * n_frames)`` in (frequency, frame)
    order, as :class:`~sklearn_rbfm.SpectrogramTransformer` returns them.
    Every layer is named, there is no batch normalisation, and the network
    ends in a Dense softmax layer, so that
    :func:`sklearn_rbfm.explain.relevance_maps` can explain it with deep
    Taylor decomposition or LRP.

    Parameters
    ----------
    architecture : {"audionet", "alexnet"}, default="audionet"
        Which network to build.

    spectrogram_shape : tuple of (int, int) or None, default=None
        ``(n_freq, n_frames)`` of the flat spectrograms read by
        ``'alexnet'``. None treats each row as a spectrogram of one
        frequency band. ``'audionet'`` reads waveforms and refuses it.

    width : float, default=1.0
        Multiplies the number of filters and dense units of every layer
        (at least one each); 1.0 is the published size. Small values give
        small, fast networks.

    dropout : float, default=0.5
        Dropout rate after each of the two dense layers.

    epochs : int, default=30
        Maximum number of passes over the training data.

    batch_size : int, default=64
        Mini-batch size for training and prediction.

    learning_rate : float, default=1e-3
        Adam's learning rate.

    class_weight : "balanced", dict or None, default="balanced"
        Loss weight per class; ``"balanced"`` weights classes inversely to
        their frequency (the default of every classifier and fine-tuned
        embedder of the package), a dict maps class labels to weights, None
        weighs all samples alike.

    validation_fraction : float, default=0.1
        Fraction of the training data held out (stratified) for early
        stopping. Only used when ``early_stopping=True``.

    early_stopping : bool, default=True
        Stop when the validation loss has not improved for 5 epochs and
        restore the best weights.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling and the validation
        split. Pass an int for repeatable results.

    verbose : int, default=0
        Keras' training verbosity.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    model_ : tf.keras.Model
        The fitted network (softmax output).

    input_shape_ : tuple of int
        Shape of one input of the network before flattening: ``(n_samples,)``
        for ``'audionet'``, ``(n_freq, n_frames)`` for ``'alexnet'``.

    history_ : dict
        Per-epoch training metrics (``loss``, and ``val_loss`` with early
        stopping).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    KerasMLPClassifier : The dense base model of RBFM.
    sklearn_rbfm.explain.relevance_maps : Input-level relevance of this model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm import KerasCNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> t = np.arange(400) / 8000
    >>> X = np.stack([np.sin(2 * np.pi * (300 if k % 2 else 1200) * t)
    ...               + 0.1 * rng.randn(400) for k in range(60)])
    >>> y = np.arange(60) % 2
    >>> clf = KerasCNNClassifier("audionet", width=0.05, epochs=15,
    ...                          random_state=0).fit(X, y)
    >>> clf.input_shape_
    (400,)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        "architecture": [StrOptions({"audionet", "alexnet"})],
        "spectrogram_shape": [tuple, list, None],
        "width": [Interval(Real, 0, None, closed="neither")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        architecture="audionet",
        *,
        spectrogram_shape=None,
        width=1.0,
        dropout=0.5,
        epochs=30,
        batch_size=64,
        learning_rate=1e-3,
        class_weight="balanced",
        validation_fraction=0.1,
        early_stopping=True,
        random_state=None,
        verbose=0,
    ):
        self.architecture = architecture
        self.spectrogram_shape = spectrogram_shape
        self.width = width
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    def _input_shape(self, n_features):
        if self.architecture == "audionet":
            if self.spectrogram_shape is not None:
                raise ValueError(
                    f"architecture='audionet' reads raw waveforms, but "
                    f"spectrogram_shape={self.spectrogram_shape!r} says X holds "
                    "spectrograms. Use architecture='alexnet' for spectrograms, "
                    "or leave spectrogram_shape=None and pass waveforms."
                )
            return (n_features,)
        if self.spectrogram_shape is None:
            return (1, n_features)
        shape = tuple(int(s) for s in self.spectrogram_shape)
        if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] != n_features:
            raise ValueError(
                f"spectrogram_shape={self.spectrogram_shape!r} does not describe "
                f"rows of {n_features} values: pass (n_freq, n_frames) with "
                f"n_freq * n_frames == {n_features} (the spectrogram_shape_ of "
                "the SpectrogramTransformer that made X)."
            )
        return shape

    def _few_steps(self, n_samples):
        # Tracing the training step costs seconds; below this many steps an
        # eager loop is faster overall.
        steps = self.epochs * int(np.ceil(n_samples / self.batch_size))
        return steps < _EAGER_BELOW_STEPS

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Build and train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Waveforms (``'audionet'``) or flat spectrograms (``'alexnet'``).

        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : KerasCNNClassifier
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=None)
        X = as_float32(X)
        check_classification_targets(y)
        input_shape = self._input_shape(X.shape[1])
        self.classes_, y_encoded, class_weight = encode_targets(y, self.class_weight)
        tf = import_tensorflow()
        seed = seed_from(self.random_state)
        with seeded(seed):
            if self.architecture == "audionet":
                self.model_ = _audionet(
                    tf, X.shape[1], len(self.classes_), self.width, self.dropout
                )
            else:
                self.model_ = _alexnet(
                    tf, input_shape, len(self.classes_), self.width, self.dropout
                )
            self.history_ = train_classifier(
                self.model_,
                X,
                y_encoded,
                n_classes=len(self.classes_),
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                class_weight=class_weight,
                validation_fraction=self.validation_fraction,
                early_stopping=self.early_stopping,
                seed=seed,
                verbose=self.verbose,
                run_eagerly=self._few_steps(len(X)),
            )
        self.input_shape_ = input_shape
        return self

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Waveforms or flat spectrograms, as in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class in ``classes_`` order.
        """
        check_is_fitted(self)
        X = as_float32(validate_data(self, X, dtype=None, reset=False))
        proba = predict_batched(self.model_, X, self.batch_size).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Waveforms or flat spectrograms, as in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
