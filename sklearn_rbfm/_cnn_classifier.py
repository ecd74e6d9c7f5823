"""The AudioMNIST networks of Becker et al. (2018) as a scikit-learn classifier."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._architectures import averaged_network, build_alexnet, build_audionet
# the margin around chance level and the restarts of the fine-tuning recipe
from ._fine_tuning import CHANCE_MARGIN as _CHANCE_MARGIN
from ._fine_tuning import MAX_RESTARTS as _MAX_RESTARTS
from ._keras import (
    KerasPickleMixin,
    class_weight_dict,
    encode_targets,
    import_tensorflow,
    predict_batched,
    seed_from,
    seeded,
    validation_split,
)
from .exceptions import ChanceLevelWarning
from .utils._validation import as_float32


_EAGER_BELOW_STEPS = 10
# Epochs without a better validation loss before training stops.
_PATIENCE = 6
# epochs=None: about this many updates (batches), within (fewest, most)
# epochs. On FSDD (2500 clips, 79 batches an epoch) the spectrogram network
# keeps improving on unseen speakers up to 100 epochs of augmented batches
# (benchmarks/RESULTS.md); AudioNet costs about five times as much per
# epoch. A larger corpus brings more voices per epoch and trains for fewer.
_DEFAULT_UPDATES = {"alexnet": 8000, "audionet": 2400}
_DEFAULT_EPOCH_RANGE = {"alexnet": (20, 100), "audionet": (10, 30)}
# test_offsets="auto": placements of each clip whose predictions a net
# trained at random offsets averages (benchmarks/RESULTS.md).
_AUTO_PLACEMENTS = 5


def chance_level(y, sample_weight, n_classes):
    """Training loss of predicting the best constant: the weighted class frequencies.

    Keras averages ``sample_weight * loss`` over the clips, so the class
    masses are ``sum of the weights of the class / n_clips``; balanced
    weights give ``log(n_classes)``.
    """
    mass = np.bincount(y, weights=sample_weight, minlength=n_classes) / len(y)
    p = mass[mass > 0] / mass.sum()
    return float(-(mass[mass > 0] * np.log(p)).sum())


def _restart_check_epoch(epochs):
    """Epochs after which a network sitting at chance level is restarted."""
    return max(2, -(-epochs // 10))


def default_epochs(architecture, n_batches):
    """Epochs of ``epochs=None``: about the default updates, within the default range."""
    fewest, most = _DEFAULT_EPOCH_RANGE[architecture]
    wanted = -(-_DEFAULT_UPDATES[architecture] // max(n_batches, 1))
    return int(min(max(wanted, fewest), most))


def _content_bounds(X, shape):
    """First and one-past-last position (sample or frame) of each clip's content.

    Positions equal to the clip's last one (the padding: zeros of a padded
    waveform, the silent frame of its spectrogram) around the content are
    free room the clip may be shifted into.
    """
    frames = X.reshape(len(X), -1, shape[-1]) if len(shape) == 2 else X[:, None, :]
    differs = np.any(frames != frames[:, :, -1:], axis=1)
    n = frames.shape[-1]
    has = differs.any(axis=1)
    start = np.where(has, np.argmax(differs, axis=1), 0)
    end = np.where(has, n - np.argmax(differs[:, ::-1], axis=1), n)
    # the last position is padding only where it repeats
    end = np.where(end == n - 1, n, end)
    return start, end


def _shifted(X, shape, start, end, rng):
    """Each clip with its content moved to a random offset of the frame."""
    offset = rng.randint(0, shape[-1] - (end - start) + 1)
    return _placed(X, shape, start, offset)


def _spread_placements(X, shape, n_placements):
    """Copies of ``X`` with each clip's content at ``n_placements`` offsets.

    The offsets are spread evenly from the start of the frame to its end
    (the first copy starts the content at position 0, the last ends it at
    the frame's end); one placement is the clip as given. Clips that fill
    their frames (windows of a long recording) have one placement only, so
    they are given once.
    """
    if n_placements == 1:
        yield X
        return
    start, end = _content_bounds(X, shape)
    free = shape[-1] - (end - start)
    if not free.any():
        yield X
        return
    for j in range(n_placements):
        yield _placed(X, shape, start, free * j // (n_placements - 1))


def _placed(X, shape, start, offset):
    """Each clip with its content (from ``start``) moved to ``offset``."""
    n = shape[-1]
    shift = offset - start
    index = (np.arange(n)[None, :] - shift[:, None]) % n
    if len(shape) == 1:
        return np.take_along_axis(X, index, axis=1)
    frames = X.reshape(len(X), shape[0], n)
    frames = np.take_along_axis(frames, index[:, None, :], axis=2)
    return frames.reshape(len(X), -1)


def _resampled(frames, factors, fill):
    """Each row of ``frames`` (..., n) read at ``position * factor`` along its last axis.

    A factor above 1 compresses the content towards the start: a faster,
    higher voice along a waveform's time axis, lower bands along a
    spectrogram's frequency axis. Positions past the end take ``fill``.
    """
    n = frames.shape[-1]
    source = np.arange(n)[None, :] * factors[:, None]
    low = np.minimum(np.floor(source).astype(int), n - 1)
    high = np.minimum(low + 1, n - 1)
    weight = (source - low).astype(frames.dtype)
    shape = (len(frames),) + (1,) * (frames.ndim - 2) + (n,)
    low, high, weight = low.reshape(shape), high.reshape(shape), weight.reshape(shape)
    index = np.broadcast_to(low, frames.shape)
    out = np.take_along_axis(frames, index, axis=-1) * (1 - weight)
    out += np.take_along_axis(frames, np.broadcast_to(high, frames.shape), axis=-1) * weight
    outside = np.broadcast_to(source.reshape(shape) > n - 1, frames.shape)
    fill = np.broadcast_to(fill, frames.shape)
    return np.where(outside, fill, out).astype(frames.dtype)


def _warped(X, shape, warp, rng):
    """New voices: speed (waveforms) or frequency and tempo (spectrograms) changed.

    A waveform is resampled by a factor drawn from ``[1 - warp, 1 + warp]``,
    which changes its pitch, formants and tempo together. A spectrogram's
    frequency axis is stretched by one such factor (vocal tract length
    perturbation) and its time axis by another. Positions read past the end
    take the clip's padding value (its last sample or frame).
    """
    n = len(X)
    draw = lambda: rng.uniform(1 - warp, 1 + warp, size=n)
    if len(shape) == 1:
        return _resampled(X, draw(), X[:, -1:])
    frames = X.reshape(n, *shape)
    frames = _resampled(frames, draw(), frames[:, :, -1:])
    by_freq = np.swapaxes(frames, 1, 2)
    by_freq = _resampled(by_freq, draw(), by_freq[:, :, -1:])
    return np.ascontiguousarray(np.swapaxes(by_freq, 1, 2)).reshape(n, -1)


def _channel_curves(n, n_bins, db, rng):
    """Random smooth gains in dB over ``n_bins`` frequencies, one row per clip.

    Four cosines over the frequency axis (the k-th with a weight of 1/k):
    tilts, humps and edge boosts or cuts, as microphones, rooms and
    recorders colour a spectrum. Each curve is centred on zero and scaled
    to a largest magnitude drawn from ``[0, db]``.
    """
    u = np.linspace(0.0, 1.0, n_bins)
    k = np.arange(1, 5)
    basis = np.cos(np.pi * k[:, None] * u[None, :]) / k[:, None]
    curves = rng.standard_normal((n, len(k))) @ basis
    curves -= curves.mean(axis=1, keepdims=True)
    peak = np.maximum(np.abs(curves).max(axis=1, keepdims=True), 1e-12)
    return curves / peak * rng.uniform(0.0, db, size=(n, 1))


def _coloured(X, shape, db, rng):
    """Each clip through a random channel: its spectrum shaped by a smooth curve.

    A waveform is filtered in the frequency domain (its rfft multiplied by
    the gains); a spectrogram, read as decibels, has the gains added to
    every bin above the clip's floor (its smallest value: the padding and
    the silence stay silent), no bin going below the floor.
    """
    n = len(X)
    if len(shape) == 1:
        spectrum = np.fft.rfft(X, axis=1)
        gains = 10.0 ** (_channel_curves(n, spectrum.shape[1], db, rng) / 20.0)
        return np.fft.irfft(spectrum * gains, n=X.shape[1], axis=1).astype(X.dtype)
    frames = X.reshape(n, *shape)
    floor = frames.min(axis=(1, 2), keepdims=True)
    curves = _channel_curves(n, shape[0], db, rng)[:, :, None].astype(X.dtype)
    out = np.where(frames > floor, np.maximum(frames + curves, floor), frames)
    return out.reshape(n, -1)


def _masked(X, shape, fraction, rng):
    """SpecAugment-style masks: per clip one time span (and one frequency band).

    Each mask is up to ``fraction`` of its axis wide and takes the clip's
    smallest value (silence for a waveform centred on zero is its padding,
    for a log spectrogram its floor).
    """
    n = len(X)
    out = X.copy()
    frames = out.reshape(n, *shape) if len(shape) == 2 else out[:, None, :]
    floor = (
        np.zeros((n, 1), dtype=X.dtype) if len(shape) == 1
        else X.min(axis=1, keepdims=True)
    )
    axes = (2,) if len(shape) == 1 else (2, 1)
    for axis in axes:
        size = frames.shape[axis]
        width = rng.randint(0, int(fraction * size) + 1, size=n)
        start = rng.randint(0, size, size=n) % np.maximum(size - width + 1, 1)
        pos = np.arange(size)[None, :]
        inside = (pos >= start[:, None]) & (pos < (start + width)[:, None])
        inside = inside[:, None, :] if axis == 2 else inside[:, :, None]
        frames[...] = np.where(inside, floor[:, :, None], frames)
    return out


def _mixed(X, y, weights, alpha, rng):
    """mixup: each clip blended with a random partner of the batch, targets alike.

    ``lam`` is drawn per clip from Beta(alpha, alpha) and folded into
    [0.5, 1], so that each mixed clip keeps most of its own content; clip,
    one-hot target and loss weight become ``lam * own + (1 - lam) * partner``.
    """
    lam = rng.beta(alpha, alpha, size=len(X))
    lam = np.maximum(lam, 1.0 - lam)
    partner = rng.permutation(len(X))

    def mix(a):
        own = lam.reshape((-1,) + (1,) * (a.ndim - 1))
        return (own * a + (1.0 - own) * a[partner]).astype(a.dtype)

    return mix(X), mix(y), mix(weights)


def _batches(tf, X, y, weights, batch_size, shape, augment, seed):
    """A Keras Sequence of shuffled, augmented training batches.

    ``augment`` is None or ``(warp, mask_fraction, channel_db, mixup)``:
    each batch is warped (:func:`_warped`), its content moved to a random
    offset, coloured by random channels (:func:`_coloured`), masked
    (:func:`_masked`) and mixed (:func:`_mixed`).
    """

    class Batches(tf.keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.rng = np.random.RandomState(seed)
            self.order = self.rng.permutation(len(X))

        def __len__(self):
            return int(np.ceil(len(X) / batch_size))

        def __getitem__(self, index):
            rows = self.order[index * batch_size : (index + 1) * batch_size]
            batch, targets, w = X[rows], y[rows], weights[rows]
            if augment is not None:
                warp, mask_fraction, channel_db, mixup = augment
                if warp:
                    batch = _warped(batch, shape, warp, self.rng)
                start, end = _content_bounds(batch, shape)
                batch = _shifted(batch, shape, start, end, self.rng)
                if channel_db:
                    batch = _coloured(batch, shape, channel_db, self.rng)
                if mask_fraction:
                    batch = _masked(batch, shape, mask_fraction, self.rng)
                if mixup:
                    batch, targets, w = _mixed(batch, targets, w, mixup, self.rng)
            return batch, targets, w

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(X))

    return Batches()


def _stop_at_chance(tf, chance, check_epoch):
    """A callback ending a training that sits at chance level from ``check_epoch`` epochs on.

    Sitting at chance: no epoch's loss yet clearly below ``chance``, and the
    last two within the same margin above it, so that a loss still coming
    down from a high start (AudioNet's first epochs) is left to train.
    """
    low, high = (1 - _CHANCE_MARGIN) * chance, (1 + _CHANCE_MARGIN) * chance

    class StopAtChance(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append((logs or {}).get("loss", np.inf))
            sitting = min(self.losses) >= low and max(self.losses[-2:]) <= high
            if sitting and len(self.losses) >= check_epoch:
                self.model.stop_training = True

    return StopAtChance()


def _mean_history(histories):
    """Per-epoch mean of the networks' metrics, each network's own as ``net<i>_<key>``.

    Networks stopped early at different epochs are averaged over the
    epochs they all ran.
    """
    merged = {}
    for key in histories[0]:
        runs = [h[key] for h in histories]
        n = min(map(len, runs))
        merged[key] = [float(v) for v in np.mean([r[:n] for r in runs], axis=0)]
        for i, r in enumerate(runs, start=1):
            merged[f"net{i}_{key}"] = list(r)
    return merged


def _recalibrate_batch_norm(tf, model, X, batch_size):
    """Set every BatchNormalization's moving statistics to those of ``X``.

    Moving averages lag behind the weights, and need many steps to forget
    their initial values; after a short training run the network would
    predict with statistics unlike those it trained with. Layers are visited in order, so
    that each sees inputs normalised by the statistics already set before it.
    """
    norms = [
        layer for layer in model.layers
        if isinstance(layer, tf.keras.layers.BatchNormalization)
    ]
    for layer in norms:
        inner = tf.keras.Model(model.input, layer.input)
        count, total, squares = 0, 0.0, 0.0
        for start in range(0, len(X), batch_size):
            out = inner(X[start : start + batch_size], training=False)
            out = tf.reshape(out, (-1, out.shape[-1])).numpy().astype(np.float64)
            count += len(out)
            total = total + out.sum(axis=0)
            squares = squares + (out**2).sum(axis=0)
        mean = total / count
        variance = np.maximum(squares / count - mean**2, 0.0)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(variance.astype(np.float32))


class KerasCNNClassifier(KerasPickleMixin, ClassifierMixin, BaseEstimator):
    """The AudioMNIST convolutional networks (AudioNet, AlexNet-like) as a classifier.

    Becker et al. (2018, "Interpreting and Explaining Deep Neural Networks for
    Classification of Audio Signals") explain two networks with layer-wise
    relevance propagation:

    - ``'audionet'`` reads raw waveforms: 8 kHz, one second = 8000 samples,
      each clip placed at a random offset of that frame while training. Six
      blocks of a 1-D convolution (kernel 3), ReLU and max pooling; two dense
      layers of 1024 and 512 units *without* activation; dropout 0.5; a
      softmax output.
    - ``'alexnet'`` reads spectrograms: convolutions of 11x11 (stride 4), 5x5
      and three 3x3 with ReLU, batch normalisation and max pooling after the
      first two, two dense layers of 1024 units without activation, dropout
      and a softmax output.

    Both take flat rows: waveforms ``(n_samples, n_audio_samples)``
    (e.g. ``AudioLoader(8000, duration=1.0, remove_dc=True)``) or flat
    spectrograms ``(n_samples, n_freq * n_frames)`` in (frequency, frame)
    order, as :class:`~sklearn_rbfm.SpectrogramTransformer` returns them
    (e.g. ``SpectrogramTransformer('power', sr=8000, n_fft=256,
    hop_length=128, top_db=60)`` of those waveforms: 129 x 63 log power
    bins, each clip floored 60 dB below its peak). A DC offset in the
    recordings is best removed when loading (``remove_dc=True``): it costs
    the networks accuracy on the speakers recorded with one. Spectrograms
    are best floored relative to their peak (``top_db``): at the absolute
    floor of -100 dB, silence and padding lie 40-60 dB below the speech and
    a recording 20 dB quieter lies 20 dB closer to them, so that the
    per-clip standardisation does not remove the recording level, and the
    net sees each voice at its own scale. On FSDD a floor 60 dB below the
    peak raised the AlexNet-like net's mean leave-one-speaker-out accuracy
    from 0.811 to 0.862 (``channel_db=10``, ``benchmarks/RESULTS.md``).
    Every layer is named and the network ends in a Dense softmax layer, so
    that :func:`sklearn_rbfm.explain.relevance_maps` explains it (its native
    engine folds batch normalisation into the preceding convolution).

    Training: Adam with a cosine learning-rate decay from
    ``learning_rate`` over a fixed number of ``epochs``, on all the
    training clips. With few speakers a network learns the voices rather
    than the words, so every batch is augmented with new voices
    (``augment``): a waveform is resampled by a random factor in
    ``[1 - warp, 1 + warp]`` (pitch, formants and tempo change together); a
    spectrogram's frequency axis is stretched by one such factor (vocal
    tract length perturbation) and its time axis by another. Each clip's
    content (what differs from its trailing padding: the zeros of a padded
    waveform, the silent frames of a spectrogram) is then moved to a random
    offset of the frame, and a random span of up to ``mask_fraction`` of
    the time axis (and, for spectrograms, a band of up to that fraction of
    the frequency axis) is set to the clip's floor (SpecAugment);
    ``channel_db`` adds random channel responses and ``mixup`` blends
    clips. Early
    stopping on held-out speakers (``early_stopping=True``, ``groups``
    passed to :meth:`fit`) is available, but off by default: it costs the
    held-out voices, which the network needs more than a tuned stopping
    point. ``n_networks`` trains several networks, each with its own
    initialisation, batch order and augmentation, and averages their
    logits: one fitted Keras model whose single softmax output a relevance
    method explains as one network. A network whose training loss sits
    at chance level (within 5 % of the loss of guessing the class
    frequencies, and not coming down from above it) after a tenth of its
    epochs (at least 2) starts again from new weights, at most twice; the
    last attempt runs all its epochs, and a
    :class:`~sklearn_rbfm.exceptions.ChanceLevelWarning` naming the
    classifier says when even it never left chance level
    (``n_attempts_`` counts the attempts). On FSDD a PyTorch port of the
    AlexNet-like net at ``width=0.5`` ended 100 epochs at chance (a loss
    of ``log(10)``) in two of six leave-one-speaker-out folds
    (``benchmarks/RESULTS.md``).

    Cost on two CPU cores (measured on FSDD, 2500 one-second clips of 5
    speakers, see ``benchmarks/RESULTS.md``): about 1.5 ms of CPU per clip
    and epoch for ``'alexnet'`` at ``width=0.25`` on 129 x 63
    spectrograms (its 100 default epochs: 6 CPU minutes), 4 ms at
    ``width=0.5``; ``'audionet'`` costs about 5 ms per clip and epoch at
    ``width=0.25`` on 8000-sample waveforms (its 30 default epochs: 6.5
    CPU minutes). A corpus of 25,000 clips trains for 20 and 10 default
    epochs: about 12 and 22 CPU minutes. The published width
    (``width=1.0``) costs several times more.

    Deviations from the paper, for CPU-sized data and time:

    - both networks standardise each clip first (``standardize``), so that
      recording levels do not matter: the AlexNet-like net over the whole
      spectrogram (a LayerNormalization without scale and offset, or each
      frequency band with ``standardize='frequency'``), AudioNet over the
      non-zero samples of the waveform, its padding left out and left at
      zero; AudioNet's adds 1e-8 to a clip's variance instead of Keras'
      1e-3, which exceeds the variance of quiet recordings;
    - AudioNet has batch normalisation after every convolution (the
      authors' AudioNet has none); it trains in a few epochs instead of
      tens of thousands of SGD iterations;
    - Adam and a cosine schedule over a fixed number of epochs replace the
      authors' SGD with momentum at a fixed learning rate;
    - the authors augment AudioNet's input by random offsets only; the
      warps and masks are added here;
    - the authors predict each clip once; both networks here average
      their predictions over five placements of the clip in its frame
      (``test_offsets``);
    - the spectrogram network pads its convolutions 'same' and has no
      pooling after the fifth convolution, so that spectrograms smaller
      than the paper's 227 x 227 (computed from 8000 samples with a long,
      heavily overlapping window) fit; the random offset of the
      spectrogram network shifts spectrogram frames, not samples;
    - ``width`` scales every layer; the default is a quarter of the
      published width (``width=1.0``).

    Parameters
    ----------
    architecture : {"audionet", "alexnet"}, default="audionet"
        Which network to build.

    spectrogram_shape : tuple of (int, int) or None, default=None
        ``(n_freq, n_frames)`` of the flat spectrograms read by
        ``'alexnet'``. None treats each row as a spectrogram of one
        frequency band. ``'audionet'`` reads waveforms and refuses it.

    width : float, default=0.25
        Multiplies the number of filters and dense units of every layer
        (at least one each); 1.0 is the published size. The default, a
        quarter of it, trains in minutes on a CPU; on FSDD the AlexNet-like
        net generalised to new speakers better at this width than at half
        the published one.

    dropout : float, default=0.5
        Dropout rate after each of the two dense layers.

    epochs : int or None, default=None
        Number of passes over the training data (the most, with early
        stopping); the cosine learning-rate decay spans them. None: as many
        as make about 8000 updates (batches) for ``'alexnet'``, within 20
        to 100 epochs, and about 2400 for ``'audionet'``, within 10 to 30:
        100 and 30 epochs for up to about 2500 clips at ``batch_size=32``,
        fewer for larger corpora, so that their cost grows with their size
        and not with 100 passes over it (measured on FSDD only). On
        FSDD (2500 clips of five speakers) the AlexNet-like net's accuracy
        on unseen speakers kept rising with the epochs of new augmented
        voices (30, 60, 100: 0.55, 0.61, 0.64 on its two hardest
        speakers); AudioNet costs about five times as much per epoch.

    batch_size : int, default=32
        Mini-batch size for training and prediction.

    learning_rate : float, default=1e-3
        Adam's initial learning rate.

    standardize : "auto", bool, "content" or "frequency", default="auto"
        Standardise each clip (zero mean, unit variance over its values)
        as the network's first layer. ``"auto"``: ``"content"`` for
        ``'audionet'``, True for ``'alexnet'``. ``"content"``
        (``'audionet'`` only) standardises each waveform over its non-zero
        samples and leaves its zeros at zero, so that the padding after a
        clip neither counts nor changes. Over the whole frame (True), a
        clip that fills a third of it comes out with its speech at sqrt(3)
        times the scale of a clip that fills it (FSDD's speakers fill
        35-54 % of a one-second frame, median per speaker); a waveform
        without padding is standardised alike by both.
        ``"frequency"`` (``'alexnet'`` only)
        standardises each frequency band of the spectrogram over time, as
        cepstral mean and variance normalisation does. Turn it off only
        for inputs whose level carries the class, or rows of very few
        values.

    augment : bool, default=True
        Augment every training batch: warp it (``warp``), move each clip's
        content to a random offset of its frame (Becker et al.'s
        augmentation) and mask it (``mask_fraction``). False trains on the
        clips as they are.

    warp : float in [0, 0.5], default=0.15
        Largest relative change of speed (waveforms) or of the frequency
        and time scales (spectrograms) drawn per clip and batch; 0 turns
        warping off.

    mask_fraction : float in [0, 1), default=0.15
        Largest width of the masked time span (and frequency band), as a
        fraction of its axis; 0 turns masking off.

    channel_db : float >= 0, default=0.0
        Largest gain, in decibels, of a random channel response given to
        each training clip in each batch: a smooth curve over frequency
        (tilts, humps, boosted or cut band edges, as microphones, rooms and
        recorders colour a recording). Spectrograms must hold decibels (as
        the log spectrograms of :class:`~sklearn_rbfm.SpectrogramTransformer`
        do); the curve is added to every bin above the clip's floor.
        Waveforms are filtered with it. 0 turns it off. On FSDD's dB
        spectrograms, 10 dB raised the mean leave-one-speaker-out accuracy
        of the AlexNet-like net from 0.784 to 0.811, mostly on the speaker
        recorded through a low-pass channel (0.60 to 0.80), and lowered
        three of six folds by 0.01-0.04 (``benchmarks/RESULTS.md``). Off by
        default, since dB gains would swamp inputs on other scales.

    mixup : float >= 0, default=0.0
        mixup (Zhang et al., 2018) as the last augmentation step: each
        training clip is blended with a random partner of its batch,
        ``lam * own + (1 - lam) * partner``, and so are their one-hot
        targets and loss weights; ``lam`` is drawn per clip from
        Beta(mixup, mixup) and folded into [0.5, 1]. 0 turns it off; 0.4
        is a usual value. Log spectrograms are blended as they are (in dB).
        On FSDD (the AlexNet-like net, ``channel_db=10``, six
        leave-one-speaker-out folds) 0.4 gave 0.821 against 0.811 without:
        within the spread of one fold between seeds, hence off by default.

    n_networks : int, default=1
        Number of networks trained one after the other, each with its own
        seed (initialisation, batch order, augmentation; the first is the
        network ``n_networks=1`` trains), and combined into one: ``model_``
        holds them as nested models ``net1``, ``net2``, ... reading the one
        input, and one Dense softmax layer over their last hidden layers
        side by side whose logits are the mean of theirs. Costs
        ``n_networks`` times the training and prediction. On FSDD (the
        AlexNet-like net, ``channel_db=10``) three networks scored 0.814
        over the six leave-one-speaker-out folds against 0.811 for one, and
        averaging three separately seeded networks beat the mean of its
        members by 0.02-0.03 where that was measured; two AudioNets
        (five placements) scored 0.663 against 0.642 and 0.645 alone
        (``benchmarks/RESULTS.md``): a small gain, and a result that
        hangs less on one seed.

    test_offsets : int or "auto", default="auto"
        Number of placements of each clip's content in its frame whose
        predicted probabilities :meth:`predict_proba` (and so
        :meth:`predict` and :meth:`score`) averages, spread evenly from the
        start of the frame to its end: test-time augmentation with the
        random offsets of training (the content is what differs from the
        clip's trailing padding). 1 predicts the clip as given; ``"auto"``
        is 5 for a network trained with ``augment=True`` (which trains at
        random offsets), else 1.
        Costs ``test_offsets`` times the prediction. The relevance methods
        of :mod:`sklearn_rbfm.explain` explain ``model_`` on the clip as
        given, for the class the classifier predicts. On FSDD (six
        leave-one-speaker-out folds) five placements raised AudioNet's
        mean accuracy from 0.601 to 0.642 and from 0.593 to 0.645 (two
        seeds), on five of six folds each, and the AlexNet-like net's from
        0.874 to 0.894 (one seed; five folds gained, none lost)
        (``benchmarks/RESULTS.md``).

    label_smoothing : float in [0, 1), default=0.0
        Label smoothing of the cross-entropy loss.

    class_weight : "balanced", dict or None, default="balanced"
        Loss weight per class; ``"balanced"`` weights classes inversely to
        their frequency (the default of every classifier and fine-tuned
        embedder of the package), a dict maps class labels to weights, None
        weighs all samples alike.

    validation_fraction : float, default=0.15
        Fraction of the training data (of the groups, when ``groups`` with
        two or more groups is passed to :meth:`fit`; else of the clips,
        stratified) held out for early stopping. Only used when
        ``early_stopping=True``.

    early_stopping : bool, default=False
        Hold out a validation part, stop when its loss has not improved for
        6 epochs and restore the best weights. Off by default: the network
        trains on every clip for ``epochs`` epochs.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling, the augmentation
        and the validation split. Pass an int for repeatable results.

    verbose : int, default=0
        Keras' training verbosity.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    model_ : tf.keras.Model
        The fitted network (softmax output). With ``n_networks > 1``, the
        networks are its nested models ``net1``, ``net2``, ... and its
        ``output`` layer averages their logits.

    input_shape_ : tuple of int
        Shape of one input of the network before flattening: ``(n_samples,)``
        for ``'audionet'``, ``(n_freq, n_frames)`` for ``'alexnet'``.

    history_ : dict
        Per-epoch training metrics (``loss``, ``lr``, and ``val_loss`` with
        early stopping). With ``n_networks > 1``, each key holds the mean
        over the networks, and ``net<i>_<key>`` each network's own.

    n_attempts_ : ndarray of shape (n_networks,)
        How many times each network was trained: 1, or up to 3 when its
        training loss stayed at chance level and it started again from new
        weights. ``history_`` holds its last attempt.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    KerasMLPClassifier : The dense base model of RBFM.
    sklearn_rbfm.explain.relevance_maps : Input-level relevance of this model.
    sklearn_rbfm.explain.manipulation_test : Becker et al.'s input-manipulation test.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm import KerasCNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> t = np.arange(400) / 8000
    >>> X = np.stack([np.sin(2 * np.pi * (300 if k % 2 else 1200) * t)
    ...               + 0.1 * rng.randn(400) for k in range(60)])
    >>> y = np.arange(60) % 2
    >>> clf = KerasCNNClassifier("audionet", width=0.05, epochs=10,
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
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "standardize": ["boolean", StrOptions({"auto", "frequency", "content"})],
        "augment": ["boolean"],
        "warp": [Interval(Real, 0, 0.5, closed="both")],
        "mask_fraction": [Interval(Real, 0, 1, closed="left")],
        "channel_db": [Interval(Real, 0, None, closed="left")],
        "mixup": [Interval(Real, 0, None, closed="left")],
        "n_networks": [Interval(Integral, 1, None, closed="left")],
        "test_offsets": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
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
        width=0.25,
        dropout=0.5,
        epochs=None,
        batch_size=32,
        learning_rate=1e-3,
        standardize="auto",
        augment=True,
        warp=0.15,
        mask_fraction=0.15,
        channel_db=0.0,
        mixup=0.0,
        n_networks=1,
        test_offsets="auto",
        label_smoothing=0.0,
        class_weight="balanced",
        validation_fraction=0.15,
        early_stopping=False,
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
        self.standardize = standardize
        self.augment = augment
        self.warp = warp
        self.mask_fraction = mask_fraction
        self.channel_db = channel_db
        self.mixup = mixup
        self.n_networks = n_networks
        self.test_offsets = test_offsets
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.verbose = verbose

    @property
    def _keras_custom_objects(self):
        # the layer of standardize='content', which Keras cannot rebuild alone
        from ._architectures import content_standardization

        return {"sklearn_rbfm>ContentStandardization": content_standardization()}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    def _placements(self):
        if self.test_offsets == "auto":
            # augmentation moves each clip's content to a random offset
            return _AUTO_PLACEMENTS if self.augment else 1
        return self.test_offsets

    def _standardization(self):
        if self.standardize == "auto":
            return "content" if self.architecture == "audionet" else True
        return self.standardize

    def _input_shape(self, n_features):
        if self.architecture == "audionet":
            if self.spectrogram_shape is not None:
                raise ValueError(
                    f"architecture='audionet' reads raw waveforms, but "
                    f"spectrogram_shape={self.spectrogram_shape!r} says X holds "
                    "spectrograms. Use architecture='alexnet' for spectrograms, "
                    "or leave spectrogram_shape=None and pass waveforms."
                )
            if self.standardize == "frequency":
                raise ValueError(
                    "standardize='frequency' standardises the frequency bands "
                    "of a spectrogram, but architecture='audionet' reads raw "
                    "waveforms. Use standardize=True (per clip) for waveforms."
                )
            return (n_features,)
        if self.standardize == "content":
            raise ValueError(
                "standardize='content' standardises a waveform over its "
                "non-zero samples (its padding left out), but "
                "architecture='alexnet' reads spectrograms, whose silence is "
                "their floor, not zero. Use standardize=True (per clip) or "
                "'frequency' for spectrograms."
            )
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Build and train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Waveforms (``'audionet'``) or flat spectrograms (``'alexnet'``).

        y : array-like of shape (n_samples,)
            Class labels.

        groups : array-like of shape (n_samples,), default=None
            Group (e.g. speaker) of each clip. With early stopping, whole
            groups are held out for validation, so that the stopping point
            is chosen on voices the network did not train on.

        Returns
        -------
        self : KerasCNNClassifier
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=None)
        X = as_float32(X)
        check_classification_targets(y)
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(X),):
                raise ValueError(
                    f"groups has shape {groups.shape}, but X has {len(X)} rows: "
                    "pass one group label per clip."
                )
        input_shape = self._input_shape(X.shape[1])
        self.classes_, y_encoded, class_weight = encode_targets(y, self.class_weight)
        n_classes = len(self.classes_)
        weights = class_weight_dict(class_weight, y_encoded, n_classes)
        sample_weight = (
            np.ones(len(y_encoded), dtype=np.float32) if weights is None
            else np.array([weights[c] for c in y_encoded], dtype=np.float32)
        )
        tf = import_tensorflow()
        seed = seed_from(self.random_state)
        train, val = (np.arange(len(X)), None)
        if self.early_stopping:
            train, val = validation_split(
                y_encoded, groups, self.validation_fraction, seed
            )
        # The first network is the one n_networks=1 trains; each further
        # one has its own seed: initialisation, batch order, augmentation.
        seeds = [seed] + [
            int(s) for s in np.random.RandomState(seed).randint(
                1, 2**31 - 1, size=self.n_networks - 1
            )
        ]
        chance = chance_level(y_encoded[train], sample_weight[train], n_classes)
        epochs = self.epochs or default_epochs(
            self.architecture, -(-len(train) // self.batch_size)
        )
        # A network whose training loss sits at chance level after a tenth
        # of its epochs (seen on FSDD at width=0.5: the loss stays at
        # log(10) for good) starts again from new weights; the last attempt
        # runs all its epochs whatever its loss. Runs too short to stop
        # early are not restarted.
        check_epoch = _restart_check_epoch(epochs)
        restarts = _MAX_RESTARTS if epochs > check_epoch else 0
        members, histories, attempts = [], [], []
        for member_seed in seeds:
            for attempt in range(restarts + 1):
                attempt_seed = (member_seed + 7919 * attempt) % (2**31 - 1)
                with seeded(attempt_seed):
                    if self.architecture == "audionet":
                        model = build_audionet(
                            X.shape[1], n_classes, self.width, self.dropout,
                            self._standardization(),
                        )
                    else:
                        model = build_alexnet(
                            input_shape, n_classes, self.width, self.dropout,
                            self._standardization(),
                        )
                    history = self._train(
                        tf, model, X, y_encoded, sample_weight, train, val,
                        input_shape, attempt_seed, epochs,
                        None if attempt == restarts else (chance, check_epoch),
                    )
                learned = min(history["loss"]) < (1 - _CHANCE_MARGIN) * chance
                if learned:
                    break
            members.append(model)
            histories.append(history)
            attempts.append(attempt + 1)
        self.n_attempts_ = np.array(attempts)
        self._warn_if_at_chance(histories, chance, restarts + 1)
        if len(members) > 1:
            self.model_ = averaged_network(members, members[0].name)
            self.history_ = _mean_history(histories)
        else:
            self.model_, self.history_ = members[0], histories[0]
        self.input_shape_ = input_shape
        return self

    def _warn_if_at_chance(self, histories, chance, n_attempts):
        threshold = (1 - _CHANCE_MARGIN) * chance
        failed = [
            i for i, h in enumerate(histories, start=1) if min(h["loss"]) >= threshold
        ]
        if not failed:
            return
        which = "" if self.n_networks == 1 else (
            f" for {len(failed)} of its {self.n_networks} networks "
            f"(net{', net'.join(map(str, failed))})"
        )
        warnings.warn(
            f"{self!r} training ended at chance level{which}: the training loss "
            f"never went below {threshold:.3f} (chance level {chance:.3f}) in "
            f"{n_attempts} attempt{'s' if n_attempts > 1 else ''}, so it predicts "
            "about as well as guessing the classes. Check that the labels match "
            "the clips, or try more epochs, or a smaller learning_rate or width.",
            ChanceLevelWarning,
            stacklevel=3,
        )

    def _train(self, tf, model, X, y, sample_weight, train, val, shape, seed,
               epochs, restart_check=None):
        # one-hot targets: Keras' sparse cross-entropy cannot smooth labels
        y = np.eye(len(self.classes_), dtype=np.float32)[y]
        batches = _batches(
            tf, X[train], y[train], sample_weight[train], self.batch_size,
            shape,
            (self.warp, self.mask_fraction, self.channel_db, self.mixup)
            if self.augment else None,
            seed,
        )
        # Tracing the training step costs seconds; over few steps an eager
        # loop is faster overall.
        eager = epochs * len(batches) < _EAGER_BELOW_STEPS
        model.compile(
            optimizer=tf.keras.optimizers.Adam(learning_rate=self.learning_rate),
            loss=tf.keras.losses.CategoricalCrossentropy(
                label_smoothing=self.label_smoothing
            ),
            run_eagerly=eager,
        )
        rate = self.learning_rate
        callbacks = [
            tf.keras.callbacks.LearningRateScheduler(
                lambda epoch: 0.5 * rate * (1 + np.cos(np.pi * epoch / epochs))
            )
        ]
        if restart_check is not None:
            callbacks.append(_stop_at_chance(tf, *restart_check))
        validation = None
        if val is not None:
            validation = (X[val], y[val])
            callbacks.append(
                tf.keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=_PATIENCE,
                    restore_best_weights=True,
                )
            )
        history = model.fit(
            batches,
            epochs=epochs,
            validation_data=validation,
            validation_batch_size=self.batch_size,
            callbacks=callbacks,
            shuffle=False,
            verbose=self.verbose,
        )
        _recalibrate_batch_norm(tf, model, X[train], max(self.batch_size, 256))
        return {k: [float(v) for v in vals] for k, vals in history.history.items()}

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
        proba = sum(
            predict_batched(self.model_, placed, self.batch_size).astype(np.float64)
            for placed in _spread_placements(X, self.input_shape_, self._placements())
        )
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
