"""Batched spectrograms of waveforms: VGGish log-mel, mel and power."""

from numbers import Integral, Real

import numpy as np
import scipy.fft
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .utils._audio import valid_audio
from .utils._layout import reshape_spectrograms
from .utils._validation import as_float32, check_input_features

# The published VGGish front end (tensorflow/models, research/audioset/vggish:
# vggish_params.py and mel_features.py).
VGGISH_SR = 16000
VGGISH_WIN_LENGTH = 400  # 25 ms at 16 kHz
VGGISH_HOP_LENGTH = 160  # 10 ms at 16 kHz
VGGISH_N_FFT = 512  # next power of two of the window
VGGISH_N_MELS = 64
VGGISH_FMIN = 125.0
VGGISH_FMAX = 7500.0
VGGISH_LOG_OFFSET = 0.01

# Below this many bytes per chunk of frames the FFT input stays cache-friendly
# without paying Python overhead per clip.
_CHUNK_BYTES = 1 << 24

_FIXED_BY_VGGISH = (
    "n_fft",
    "win_length",
    "hop_length",
    "n_mels",
    "fmin",
    "fmax",
    "power",
    "center",
)


def periodic_hann(n):
    """Periodic Hann window of length ``n`` (``scipy.signal.get_window('hann', n)``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi / n * np.arange(n))


def vggish_mel_matrix(n_bins, sr=VGGISH_SR, n_mels=VGGISH_N_MELS,
                      fmin=VGGISH_FMIN, fmax=VGGISH_FMAX):
    """VGGish's HTK-style triangular mel weights, shape ``(n_mels, n_bins)``.

    Band edges are equally spaced on the mel scale ``1127 ln(1 + f / 700)``
    between ``fmin`` and ``fmax``; the DC bin gets no weight.
    """
    def to_mel(hz):
        return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)

    bins_mel = to_mel(np.linspace(0.0, sr / 2.0, n_bins))
    edges = np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[:, 0] = 0.0
    return weights


def _n_frames_of(n_samples, n_fft, hop_length, pad):
    return 1 + (n_samples + sum(pad) - n_fft) // hop_length


class SpectrogramTransformer(TransformerMixin, BaseEstimator):
    """Turn waveforms into flat spectrograms, all clips in one batched call.

    Each row of ``X`` is one clip; each output row is its spectrogram of shape
    ``spectrogram_shape_ = (n_freq, n_frames)`` flattened in (frequency,
    frame) order, as float32.

    Parameters
    ----------
    kind : {'vggish', 'mel', 'power'}, default='vggish'
        - ``'vggish'``: VGGish's own log-mel front end, so that VGGish weights
          see what they were trained on: audio at 16 kHz (resampled if the
          apparent rate ``sr * playback_rate`` differs), 25 ms periodic Hann
          windows every 10 ms without centre padding, magnitude spectrum of a
          512-point FFT, 64 HTK mel bands from 125 to 7500 Hz, then
          ``log(mel + 0.01)``. Its STFT and mel parameters are fixed: leave
          them at None.
        - ``'mel'``: ``librosa.feature.melspectrogram`` with the parameters
          below (Slaney mel scale and normalisation); with ``log=None`` the
          result equals librosa's.
        - ``'power'``: the STFT power spectrogram, ``1 + n_fft // 2`` bins
          (the log power spectrogram fed to image models).
    sr : float, default=16000
        Sampling rate of the waveforms in Hz.
    n_fft : int, default=None
        FFT length; None means 2048 (librosa's default).
    win_length : int, default=None
        Window length in samples; None means ``n_fft``.
    hop_length : int, default=None
        Samples between frames; None means ``win_length // 4``.
    n_mels : int, default=None
        Number of mel bands of ``kind='mel'``; None means 128.
    fmin : float, default=None
        Lowest mel band edge in Hz (apparent frequency); None means 0.
    fmax : float, default=None
        Highest mel band edge in Hz; None means half the apparent rate.
    power : float, default=None
        Exponent of the magnitude: 2 for power, 1 for magnitude. None means 2.
    log : {'auto', 'db'}, float or None, default='auto'
        Compression of the values. ``'db'`` is decibels of the power,
        ``10 log10(max(|X|^2, 1e-10))`` (``librosa.power_to_db`` with
        ``ref=1.0``, ``top_db=None``: no per-clip reference, so clips stay
        comparable); a positive float ``eps`` means ``ln(S + eps)``; None
        keeps linear values. ``'auto'`` means ``'db'`` for 'mel' and
        'power' and VGGish's ``ln(S + 0.01)`` for 'vggish' (the only value
        'vggish' accepts).
    top_db : float > 0 or None, default=None
        Floor each clip's decibels at its loudest value minus ``top_db``, as
        ``librosa.power_to_db(..., top_db=...)`` does for one spectrogram.
        Padding, silence and the recording's own noise floor then sit at
        the same distance below the clip's peak whatever its level, and a
        quiet recording differs from a loud one by a shift only, which a
        per-clip standardisation removes. Without it, silence is the
        absolute floor of -100 dB and a recording 20 dB quieter lies 20 dB
        closer to it. Only with decibels (``log='db'``, or ``'auto'`` for
        'mel' and 'power'). None keeps every value. For networks trained
        from scratch on recordings of varied level: on FSDD, 60 dB raised
        a spectrogram CNN's accuracy on unseen speakers from 0.81 to 0.86
        (:class:`~sklearn_rbfm.KerasCNNClassifier`, ``benchmarks/RESULTS.md``).
    center : bool, default=None
        Pad ``n_fft // 2`` zeros on both sides so that frame ``t`` is centred
        on sample ``t * hop_length`` (librosa's default). None means True for
        'mel' and 'power'; VGGish never pads.
    n_frames : int, default=None
        Pad (with silence) or crop every spectrogram to this many frames, so
        that clips of different lengths give equal widths. None keeps the
        frames the fitted clip length gives.
    playback_rate : float, default=1.0
        Treat the audio as replayed this many times faster: the apparent
        sampling rate is ``sr * playback_rate``, which shifts every frequency
        up by that factor (a standard trick for low-frequency whale calls).
    n_jobs : int, default=None
        Threads for the FFT. None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.

    Attributes
    ----------
    spectrogram_shape_ : tuple of (int, int)
        ``(n_freq, n_frames)`` of each output spectrogram.
    frame_times_ : ndarray of shape (n_frames,)
        Time in seconds, from the start of the clip as sampled at ``sr``, of
        the centre of each frame's analysis window: ``t * hop_length_ /
        stft_sr_`` for centred frames, plus half a window for frames that
        start at ``t * hop_length_`` (VGGish), times ``playback_rate``.
        Frames added by ``n_frames`` continue the same grid.
    frequencies_ : ndarray of shape (n_freq,)
        Centre frequency of each band in Hz, at the apparent rate
        ``sr * playback_rate`` (the scale of ``fmin`` and ``fmax``; divide by
        ``playback_rate`` for the recording's own frequencies): the FFT bin
        frequencies for 'power', the peaks of the mel triangles (Slaney
        scale for 'mel', HTK scale for 'vggish') otherwise. Mel bands are
        not evenly spaced in Hz.
    stft_sr_ : float
        Sampling rate in Hz of the signal the STFT runs on: 16000 for
        'vggish', ``sr * playback_rate`` otherwise.
    resampled_from_ : float or None
        The apparent rate ``sr * playback_rate`` the clips are resampled
        from to ``stft_sr_`` (VGGish only), None when they are not resampled.
    n_fft_ : int
        FFT length in samples at ``stft_sr_``.
    win_length_ : int
        Length of the Hann window in samples; the window sits inside each
        ``n_fft_``-long frame as ``window_`` shows.
    hop_length_ : int
        Samples at ``stft_sr_`` between the starts of two frames.
    center_ : bool
        Whether clips are padded by ``n_fft_ // 2`` on both sides so that
        frame ``t`` is centred on sample ``t * hop_length_`` (librosa's
        ``center=True``). False for VGGish, whose frame ``t`` starts at
        sample ``t * hop_length_``.
    window_ : ndarray of shape (n_fft_,)
        The analysis window applied to each ``n_fft_``-long frame (the Hann
        window of ``win_length_`` with zeros around it); pass it with
        ``center_`` to ``librosa.stft`` to reproduce the transformer's STFT.
    mel_basis_ : ndarray of shape (n_freq, 1 + n_fft // 2) or None
        The mel filter bank applied to the spectrum (None for 'power').
    n_features_in_ : int
        Number of samples per clip seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    AudioLoader : Decode audio files into the waveforms this transformer takes.
    librosa.feature.melspectrogram : The reference for ``kind='mel'``.

    Notes
    -----
    Integer PCM is scaled to [-1, 1) by its full scale, as ``soundfile``
    reads WAV files: int8 and int16 are divided by 2**7 and 2**15, int32 by
    2**31, and uint8 (8-bit WAV) becomes ``(x - 128) / 128``. Other integer
    types (e.g. int64) have no audio full scale and are refused.
    :meth:`to_3d` (or :func:`~sklearn_rbfm.utils.reshape_spectrograms`)
    turns the flat output into ``(n_clips, n_freq, n_frames)``.
    Frames are computed chunk-wise over the whole batch (a strided view of the
    clips, one real FFT and one matrix product per chunk), not clip by clip.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm import SpectrogramTransformer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((3, 16000)).astype(np.float32)  # 1 s at 16 kHz
    >>> spec = SpectrogramTransformer(kind="vggish").fit(X)
    >>> spec.spectrogram_shape_
    (64, 98)
    >>> spec.transform(X).shape
    (3, 6272)
    >>> spec.get_feature_names_out()[:2].tolist()
    ['f0_t0', 'f0_t1']
    >>> spec.to_3d(spec.transform(X)).shape
    (3, 64, 98)
    >>> spec.frame_times_[:2]  # 25 ms windows every 10 ms, not centred
    array([0.0125, 0.0225])
    >>> spec.frequencies_[[0, -1]].round(1)
    array([ 154.7, 7215.3])

    Decibels floored 60 dB below each clip's peak: silence after a clip
    then sits at that floor, and a copy 40 dB quieter is a shifted copy.

    >>> clip = np.concatenate([X[0, :8000], np.zeros(8000, np.float32)])
    >>> db = SpectrogramTransformer("power", n_fft=512, top_db=60)
    >>> S = db.fit_transform(np.stack([clip, 0.01 * clip]))
    >>> float((S.max(axis=1) - S.min(axis=1)).round(3)[0])
    60.0
    >>> bool(np.allclose(S[0] - S[1], 40, atol=0.01))
    True
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions({"vggish", "mel", "power"})],
        "sr": [Interval(Real, 0, None, closed="neither")],
        "n_fft": [Interval(Integral, 1, None, closed="left"), None],
        "win_length": [Interval(Integral, 1, None, closed="left"), None],
        "hop_length": [Interval(Integral, 1, None, closed="left"), None],
        "n_mels": [Interval(Integral, 1, None, closed="left"), None],
        "fmin": [Interval(Real, 0, None, closed="left"), None],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "power": [Interval(Real, 0, None, closed="neither"), None],
        "log": [
            StrOptions({"auto", "db"}),
            Interval(Real, 0, None, closed="neither"),
            None,
        ],
        "top_db": [Interval(Real, 0, None, closed="neither"), None],
        "center": ["boolean", None],
        "n_frames": [Interval(Integral, 1, None, closed="left"), None],
        "playback_rate": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        kind="vggish",
        *,
        sr=16000,
        n_fft=None,
        win_length=None,
        hop_length=None,
        n_mels=None,
        fmin=None,
        fmax=None,
        power=None,
        log="auto",
        top_db=None,
        center=None,
        n_frames=None,
        playback_rate=1.0,
        n_jobs=None,
    ):
        self.kind = kind
        self.sr = sr
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.power = power
        self.log = log
        self.top_db = top_db
        self.center = center
        self.n_frames = n_frames
        self.playback_rate = playback_rate
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters against the clip length and fix the output shape.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._frontend = fe = self._resolve_frontend()
        X = self._validate(X, reset=True)
        self.mel_basis_ = self._mel_basis()
        n_bins = 1 + fe["n_fft"] // 2
        n_freq = n_bins if self.mel_basis_ is None else self.mel_basis_.shape[0]
        self.spectrogram_shape_ = (n_freq, self._n_frames_out(X.shape[1]))
        self.stft_sr_ = float(fe["sr"])
        self.resampled_from_ = fe["resample_from"]
        self.n_fft_ = int(fe["n_fft"])
        self.win_length_ = int(fe["win_length"])
        self.hop_length_ = int(fe["hop_length"])
        self.center_ = bool(fe["center"])
        self.window_ = np.asarray(fe["window"], dtype=np.float64)
        self.frequencies_ = self._band_frequencies()
        # Frame t covers samples [t * hop - pad, t * hop - pad + n_fft) of the
        # STFT-rate signal; its window is centred win_length / 2 after the
        # window's start inside that frame.
        centre = fe["window_offset"] + fe["win_length"] / 2.0 - fe["pad"][0]
        frames = np.arange(self.spectrogram_shape_[1])
        self.frame_times_ = (
            (frames * self.hop_length_ + centre)
            / self.stft_sr_
            * float(self.playback_rate)
        )
        return self

    def transform(self, X):
        """Compute the flat spectrogram of every clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``, as many samples per clip as in :meth:`fit`.

        Returns
        -------
        S : ndarray of shape (n_clips, n_freq * n_frames), dtype float32
            Spectrograms in (frequency, frame) order: column
            ``i * n_frames + j`` is band ``i`` of frame ``j``.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        fe = self._frontend
        if fe["resample_from"] is not None:
            import librosa

            X = librosa.resample(
                X, orig_sr=fe["resample_from"], target_sr=fe["sr"], axis=-1
            ).astype(np.float32, copy=False)
        n_freq, n_frames = self.spectrogram_shape_
        out = np.empty((X.shape[0], n_freq * n_frames), dtype=np.float32)
        for start, spec in self._spectra(X):
            spec = self._compress(spec)
            spec = self._fix_frames(spec, n_frames)
            if self.top_db is not None:
                # after the padding frames, which are silence like any other
                peak = spec.max(axis=(1, 2), keepdims=True)
                spec = np.maximum(spec, peak - np.float32(self.top_db))
            stop = start + spec.shape[0]
            out[start:stop] = spec.transpose(0, 2, 1).reshape(stop - start, -1)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names ``f{i}_t{j}`` of the outputs: band ``i`` of frame ``j``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``n_freq * n_frames`` names in output order.
        """
        check_is_fitted(self, "spectrogram_shape_")
        check_input_features(self, input_features)
        n_freq, n_frames = self.spectrogram_shape_
        return np.asarray(
            [f"f{i}_t{j}" for i in range(n_freq) for j in range(n_frames)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _resolve_frontend(self):
        apparent_sr = float(self.sr) * float(self.playback_rate)
        if self.kind == "vggish":
            fixed = [
                p for p in (*_FIXED_BY_VGGISH, "top_db") if getattr(self, p) is not None
            ]
            if fixed or self.log != "auto":
                names = ", ".join(fixed + (["log"] if self.log != "auto" else []))
                raise ValueError(
                    f"kind='vggish' fixes the STFT, mel and log parameters to "
                    f"VGGish's published values, but {names} was set. Leave "
                    "them at their defaults, or use kind='mel' to choose them."
                )
            return {
                "sr": VGGISH_SR,
                "resample_from": None if apparent_sr == VGGISH_SR else apparent_sr,
                "n_fft": VGGISH_N_FFT,
                # VGGish zero-pads each 400-sample frame to 512 at its end;
                # windowing 512-sample frames with a zero tail is the same and
                # lets the FFT run on contiguous frames of its own length.
                "window": np.pad(
                    periodic_hann(VGGISH_WIN_LENGTH),
                    (0, VGGISH_N_FFT - VGGISH_WIN_LENGTH),
                ),
                "win_length": VGGISH_WIN_LENGTH,
                "window_offset": 0,
                "hop_length": VGGISH_HOP_LENGTH,
                "center": False,
                "pad": (0, VGGISH_N_FFT - VGGISH_WIN_LENGTH),
                "power": 1.0,
                "log": VGGISH_LOG_OFFSET,
            }
        mel_only = [p for p in ("n_mels", "fmin", "fmax") if getattr(self, p) is not None]
        if self.kind == "power" and mel_only:
            raise ValueError(
                f"{', '.join(mel_only)} only apply to kind='mel'; kind='power' "
                "keeps every FFT bin. Leave them at None."
            )
        n_fft = 2048 if self.n_fft is None else self.n_fft
        win_length = n_fft if self.win_length is None else self.win_length
        if win_length > n_fft:
            raise ValueError(
                f"win_length={win_length} is longer than n_fft={n_fft}; "
                "use win_length <= n_fft."
            )
        hop_length = self.hop_length
        if hop_length is None:
            hop_length = max(1, win_length // 4)
        # librosa centres a shorter window inside each n_fft-long frame.
        window = np.zeros(n_fft)
        offset = (n_fft - win_length) // 2
        window[offset : offset + win_length] = periodic_hann(win_length)
        center = True if self.center is None else self.center
        log = "db" if self.log == "auto" else self.log
        if self.top_db is not None and log != "db":
            raise ValueError(
                f"top_db={self.top_db} floors decibels, but log={self.log!r} "
                "does not give decibels. Use log='db' (or 'auto'), or top_db=None."
            )
        return {
            "sr": apparent_sr,
            "resample_from": None,
            "n_fft": n_fft,
            "window": window,
            "win_length": win_length,
            "window_offset": offset,
            "hop_length": hop_length,
            "center": center,
            "pad": (n_fft // 2, n_fft // 2) if center else (0, 0),
            "power": 2.0 if self.power is None else float(self.power),
            "log": log,
        }

    def _mel_basis(self):
        fe = self._frontend
        n_bins = 1 + fe["n_fft"] // 2
        if self.kind == "vggish":
            return vggish_mel_matrix(n_bins).astype(np.float32)
        if self.kind == "power":
            return None
        import librosa

        nyquist = fe["sr"] / 2.0
        fmin = 0.0 if self.fmin is None else float(self.fmin)
        fmax = nyquist if self.fmax is None else float(self.fmax)
        if not fmin < fmax <= nyquist:
            raise ValueError(
                f"Need fmin < fmax <= {nyquist:g} Hz (half the apparent rate "
                f"sr * playback_rate); got fmin={fmin:g}, fmax={fmax:g}."
            )
        return librosa.filters.mel(
            sr=fe["sr"],
            n_fft=fe["n_fft"],
            n_mels=128 if self.n_mels is None else self.n_mels,
            fmin=fmin,
            fmax=fmax,
        )

    def _band_frequencies(self):
        fe = self._frontend
        if self.kind == "power":
            return np.fft.rfftfreq(fe["n_fft"], d=1.0 / fe["sr"])
        if self.kind == "vggish":
            mel = np.linspace(
                1127.0 * np.log1p(VGGISH_FMIN / 700.0),
                1127.0 * np.log1p(VGGISH_FMAX / 700.0),
                VGGISH_N_MELS + 2,
            )[1:-1]
            return 700.0 * np.expm1(mel / 1127.0)
        import librosa

        n_mels = self.mel_basis_.shape[0]
        return librosa.mel_frequencies(
            n_mels=n_mels + 2,
            fmin=0.0 if self.fmin is None else float(self.fmin),
            fmax=fe["sr"] / 2.0 if self.fmax is None else float(self.fmax),
        )[1:-1]

    def to_3d(self, S):
        """Reshape flat spectrograms from :meth:`transform` to 3-D.

        Parameters
        ----------
        S : array-like of shape (n_clips, n_freq * n_frames)
            Output of :meth:`transform`, or anything laid out like it
            (relevance maps, RELAX importances).

        Returns
        -------
        S3 : ndarray of shape (n_clips, n_freq, n_frames)
            The same values; a view when possible.
        """
        check_is_fitted(self, "spectrogram_shape_")
        return reshape_spectrograms(S, self.spectrogram_shape_)

    def _resampled_length(self, n_samples):
        fe = self._frontend
        if fe["resample_from"] is None:
            return n_samples
        return int(np.ceil(n_samples * fe["sr"] / fe["resample_from"]))

    def _min_samples(self):
        """Fewest input samples that give one frame (before any resampling)."""
        fe = self._frontend
        needed = max(1, fe["n_fft"] - sum(fe["pad"]))
        if fe["resample_from"] is None:
            return needed
        return int(np.ceil(needed * fe["resample_from"] / fe["sr"]))

    def _n_frames_out(self, n_samples):
        if self.n_frames is not None:
            return self.n_frames
        fe = self._frontend
        return _n_frames_of(
            self._resampled_length(n_samples),
            fe["n_fft"],
            fe["hop_length"],
            fe["pad"],
        )

    def _validate(self, X, *, reset):
        X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
        X = as_float32(X, pcm=True)
        valid_audio(X, min_samples=self._min_samples())
        return X

    def _spectra(self, X):
        """Yield ``(first_clip, spectra)`` chunks, spectra ``(c, n_frames, n_freq)``."""
        fe = self._frontend
        window = fe["window"].astype(np.float32)
        n_fft, hop, pad = fe["n_fft"], fe["hop_length"], fe["pad"]
        n_frames = _n_frames_of(X.shape[1], n_fft, hop, pad)
        chunk = max(1, _CHUNK_BYTES // (8 * n_frames * n_fft))
        workers = effective_n_jobs(self.n_jobs)
        for start in range(0, X.shape[0], chunk):
            y = X[start : start + chunk]
            if any(pad):
                y = np.pad(y, ((0, 0), pad))
            frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)
            frames = frames[:, ::hop] * window
            # |X| first, as librosa does: cheaper than re^2 + im^2 on the
            # interleaved complex array, and it matches librosa's rounding.
            spec = np.abs(scipy.fft.rfft(frames, axis=-1, workers=workers))
            if fe["power"] != 1.0:
                spec **= fe["power"]
            if self.mel_basis_ is not None:
                n_clips = spec.shape[0]
                spec = (spec.reshape(-1, spec.shape[-1]) @ self.mel_basis_.T).reshape(
                    n_clips, n_frames, -1
                )
            yield start, spec

    def _compress(self, spec):
        log, power = self._frontend["log"], self._frontend["power"]
        if log is None:
            return spec
        if log == "db":
            # decibels of the power |X|^2 whatever ``power`` was
            amin = np.float32(1e-10 ** (power / 2.0))
            return np.float32(20.0 / power) * np.log10(np.maximum(spec, amin))
        return np.log(spec + np.float32(log))

    def _fix_frames(self, spec, n_frames):
        have = spec.shape[1]
        if have >= n_frames:
            return spec[:, :n_frames]
        silence = self._compress(np.zeros((1, 1, 1), dtype=np.float32))
        filler = np.broadcast_to(silence, (spec.shape[0], n_frames - have, spec.shape[2]))
        return np.concatenate([spec, filler], axis=1)
