"""Audible heatmaps: listen to the part of a clip that a model found relevant."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from ..utils._audio import valid_audio
from ..utils._layout import reshape_spectrograms
from ..utils._validation import as_float32


@validate_params(
    {
        "waveform": ["array-like"],
        "relevance": ["array-like"],
        "sr": [Interval(Real, 0, None, closed="neither")],
        "spectrogram": [HasMethods(["transform"]), None],
        "n_fft": [Interval(Integral, 1, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left"), None],
        "path": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def audible_heatmap(
    waveform,
    relevance,
    sr,
    *,
    spectrogram=None,
    n_fft=512,
    hop_length=None,
    path=None,
):
    """Resynthesise a clip keeping only its relevant time-frequency content.

    Becker et al. (2018) made heatmaps audible. For a spectrogram model the
    relevance (positive part, scaled to [0, 1]) weights the magnitude of the
    clip's STFT, the original phase is kept, and the inverse STFT gives the
    audio back, as long as the input. For a waveform model the relevance
    already is a signal over time: it is returned, scaled to the clip's peak
    amplitude.

    Parameters
    ----------
    waveform : array-like of shape (n_samples,)
        The explained clip, at ``sr``: floats in [-1, 1], or integer PCM
        (int16, int32, int8, uint8), which is scaled to [-1, 1) by its full
        scale first (int16 divided by 32768) as ``soundfile`` reads WAV files.

    relevance : array-like of shape (n_samples,), (n_freq, n_frames) or (n_freq * n_frames,)
        Relevance of a waveform model (same shape as ``waveform``) or of a
        spectrogram model, in (frequency, frame) order; flat relevance, as
        the transformer's output rows, needs ``spectrogram``. A transposed
        map (n_frames, n_freq) is refused.

    sr : float
        Sampling rate of ``waveform`` in Hz; with ``spectrogram``, its ``sr``.

    spectrogram : fitted SpectrogramTransformer or None, default=None
        The transformer that made the explained spectrogram. Its STFT
        (``window_``, ``hop_length_``, ``center_``, resampling to
        ``stft_sr_``) is reproduced, so that frame ``t`` of the relevance
        weights the samples that frame ``t`` was computed from, and mel-band
        relevance is spread back over the STFT bins through its
        ``mel_basis_``. None means the relevance lies on the grid of a plain
        centred STFT with ``n_fft`` and ``hop_length`` (other grids are
        linearly interpolated to it).

    n_fft : int, default=512
        FFT length when ``spectrogram`` is None.

    hop_length : int or None, default=None
        Hop when ``spectrogram`` is None; None means ``n_fft // 4``.

    path : str, path-like or None, default=None
        If given, the result is also written there as a float WAV file; its
        folder must exist.

    Returns
    -------
    audio : ndarray of shape (n_samples,), dtype float32
        The audible heatmap.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.explain import audible_heatmap
    >>> sr = 8000
    >>> t = np.arange(sr) / sr
    >>> y = np.sin(2 * np.pi * 440 * t).astype("float32")
    >>> R = np.zeros((257, 63))
    >>> R[:, :31] = 1.0  # only the first half is relevant
    >>> audio = audible_heatmap(y, R, sr, n_fft=512, hop_length=128)
    >>> audio.shape
    (8000,)
    >>> bool((audio[:3000] ** 2).sum() > 100 * (audio[5000:] ** 2).sum())
    True
    """
    if path is not None:
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"path={os.fspath(path)!r}: the folder {folder!r} does not exist; "
                "create it first or write the heatmap elsewhere."
            )
    y = np.asarray(waveform)
    if y.ndim != 1:
        raise ValueError(
            f"waveform must be one clip of shape (n_samples,), got shape {y.shape}."
        )
    y = as_float32(y, name="waveform", pcm=True)
    valid_audio(y, source="waveform")
    R = np.asarray(relevance, dtype=np.float64)
    if not np.isfinite(R).all():
        raise ValueError("relevance contains NaN or infinite values.")
    if R.shape == y.shape and (
        spectrogram is None or R.size != np.prod(spectrogram.spectrogram_shape_)
    ):
        peak = np.abs(R).max()
        scale = np.abs(y).max() / peak if peak > 0 else 0.0
        audio = (R * scale).astype(np.float32)
    elif spectrogram is not None:
        audio = _resynthesise_like(y, R, float(sr), spectrogram)
    else:
        audio = _resynthesise_plain(y, R, int(n_fft), hop_length)
    if path is not None:
        import soundfile

        # float samples: the heatmap may exceed the 16-bit range [-1, 1)
        soundfile.write(path, audio, int(round(sr)), subtype="FLOAT")
    return audio


def _resynthesise_like(y, R, sr, spectrogram):
    """Reweight the STFT the fitted transformer computed, frame for frame."""
    import librosa

    needed = ("spectrogram_shape_", "window_", "hop_length_", "center_", "stft_sr_")
    if not all(hasattr(spectrogram, name) for name in needed):
        raise ValueError(
            "spectrogram must be a fitted SpectrogramTransformer (the one "
            "that made the explained spectrograms)."
        )
    if not np.isclose(sr, float(spectrogram.sr)):
        raise ValueError(
            f"sr={sr:g} but the spectrogram transformer was fitted for "
            f"sr={float(spectrogram.sr):g}; pass the rate of the waveform it "
            "transformed."
        )
    shape = tuple(spectrogram.spectrogram_shape_)
    if R.size != shape[0] * shape[1] or R.ndim > 2:
        transposed = R.shape == shape[::-1] and shape[0] != shape[1]
        raise ValueError(
            f"relevance has shape {R.shape}, but the spectrogram has shape "
            f"(n_freq, n_frames) = {shape}"
            + (": it is transposed, pass relevance.T." if transposed else
               f" (or {shape[0] * shape[1]} values flat); explain one clip at a time.")
        )
    try:
        R = reshape_spectrograms(R, shape)[0]
    except ValueError as exc:
        raise ValueError(f"relevance has shape {R.shape}: {exc}") from None
    x = y
    if spectrogram.resampled_from_ is not None:
        x = librosa.resample(
            y, orig_sr=spectrogram.resampled_from_, target_sr=spectrogram.stft_sr_
        )
    window = np.asarray(spectrogram.window_)
    n_fft, hop, center = window.size, int(spectrogram.hop_length_), bool(spectrogram.center_)
    length = len(x)
    if not center:
        # Frames that start at t * hop (VGGish) run past the end of the clip
        # by the window's trailing zeros; pad them so that the STFT has every
        # frame the transformer computed.
        trailing = n_fft - 1 - int(np.flatnonzero(window)[-1])
        x = np.pad(x, (0, trailing))
    stft = librosa.stft(x, n_fft=n_fft, hop_length=hop, window=window, center=center)
    weights = _bin_weights(np.maximum(R, 0.0), spectrogram.mel_basis_, stft.shape[0])
    # Frame t of the relevance is frame t of the STFT; the transformer pads
    # or crops frames at the end only.
    n_frames = stft.shape[1]
    weights = np.pad(weights[:, :n_frames], ((0, 0), (0, max(0, n_frames - weights.shape[1]))))
    out = librosa.istft(
        stft * _normalised(weights), hop_length=hop, window=window, center=center,
        n_fft=n_fft, length=len(x),
    )[:length]
    if spectrogram.resampled_from_ is not None:
        out = librosa.resample(
            out, orig_sr=spectrogram.stft_sr_, target_sr=spectrogram.resampled_from_
        )
        out = librosa.util.fix_length(out, size=len(y))
    return out.astype(np.float32)


def _resynthesise_plain(y, R, n_fft, hop_length):
    """Reweight a centred Hann STFT, interpolating other grids to it."""
    import librosa

    hop = hop_length if hop_length is not None else n_fft // 4
    if hop < 1:
        raise ValueError(f"hop_length must be at least 1; n_fft={n_fft} gives n_fft // 4 = 0.")
    if R.ndim != 2:
        raise ValueError(
            "relevance must be shaped like the waveform or be 2-D "
            f"(n_freq, n_frames); got shape {R.shape}. Flat relevance needs "
            "spectrogram= (the fitted SpectrogramTransformer)."
        )
    n_bins, n_frames = 1 + n_fft // 2, 1 + len(y) // hop
    if R.shape == (n_frames, n_bins) and n_frames != n_bins:
        raise ValueError(
            f"relevance has shape {R.shape} = (n_frames, n_freq), transposed: "
            f"the STFT grid is (n_freq, n_frames) = {(n_bins, n_frames)}. Pass "
            "relevance.T."
        )
    stft = librosa.stft(y, n_fft=n_fft, hop_length=hop, window="hann", center=True)
    weights = _resize(_resize(np.maximum(R, 0.0), n_bins, axis=0), n_frames, axis=1)
    out = librosa.istft(
        stft * _normalised(weights), hop_length=hop, window="hann", center=True,
        n_fft=n_fft, length=len(y),
    )
    return out.astype(np.float32)


def _bin_weights(R, mel, n_bins):
    if mel is not None and R.shape[0] == mel.shape[0]:
        # Each STFT bin takes the relevance of the mel bands covering it,
        # weighted by how much each band draws from that bin.
        coverage = mel.sum(axis=0)
        return (mel.T @ R) / np.where(coverage > 0, coverage, 1.0)[:, None]
    return _resize(R, n_bins, axis=0)


def _normalised(R):
    peak = R.max()
    return R / peak if peak > 0 else R


def _resize(R, size, axis):
    if R.shape[axis] == size:
        return R
    old = (np.arange(R.shape[axis]) + 0.5) / R.shape[axis]
    new = (np.arange(size) + 0.5) / size
    return np.apply_along_axis(lambda v: np.interp(new, old, v), axis, R)
