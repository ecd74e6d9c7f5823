"""Audible heatmaps: listen to the part of a clip that a model found relevant."""

import numpy as np

from ..utils._audio import valid_audio


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
    waveform : np.ndarray [shape=(n_samples,)]
        The explained clip, at ``sr``.

    relevance : np.ndarray [shape=(n_samples,) or (n_freq, n_frames)]
        Relevance of a waveform model (same shape as ``waveform``) or of a
        spectrogram model (flat relevance is reshaped with ``spectrogram``).

    sr : float
        Sampling rate of ``waveform`` in Hz.

    spectrogram : fitted SpectrogramTransformer or None, default=None
        The transformer that made the explained spectrogram. Its STFT
        (window, hop, centring, resampling) is reproduced, and mel-band
        relevance is spread back over the STFT bins through its mel
        filterbank. None means the relevance lies on the grid of a plain
        STFT with ``n_fft`` and ``hop_length`` (other grids are linearly
        interpolated to it).

    n_fft : int, default=512
        FFT length when ``spectrogram`` is None.

    hop_length : int or None, default=None
        Hop when ``spectrogram`` is None; None means ``n_fft // 4``.

    path : str, path-like or None, default=None
        If given, the result is also written there as a WAV file.

    Returns
    -------
    audio : np.ndarray [shape=(n_samples,)], float32
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
    y = np.asarray(waveform)
    if y.ndim != 1:
        raise ValueError(
            f"waveform must be one clip of shape (n_samples,), got shape {y.shape}."
        )
    if not np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float32)
    valid_audio(y, source="waveform")
    R = np.asarray(relevance, dtype=np.float64)
    if not np.isfinite(R).all():
        raise ValueError("relevance contains NaN or infinite values.")
    if R.shape == y.shape:
        peak = np.abs(R).max()
        scale = np.abs(y).max() / peak if peak > 0 else 0.0
        audio = (R * scale).astype(np.float32)
    else:
        audio = _resynthesise(y.astype(np.float32), R, float(sr), spectrogram,
                              int(n_fft), hop_length)
    if path is not None:
        import soundfile

        # float samples: the heatmap may exceed the 16-bit range [-1, 1)
        soundfile.write(path, audio, int(round(sr)), subtype="FLOAT")
    return audio


def _resynthesise(y, R, sr, spectrogram, n_fft, hop_length):
    import librosa

    if spectrogram is not None:
        fe = getattr(spectrogram, "_frontend", None)
        if fe is None or not hasattr(spectrogram, "spectrogram_shape_"):
            raise ValueError(
                "spectrogram must be a fitted SpectrogramTransformer (the one "
                "that made the explained spectrograms)."
            )
        shape = spectrogram.spectrogram_shape_
        if R.ndim == 1 and R.size == shape[0] * shape[1]:
            R = R.reshape(shape)
        if R.shape != tuple(shape):
            raise ValueError(
                f"relevance has shape {R.shape}, but the spectrogram has shape "
                f"{tuple(shape)} (n_freq, n_frames)."
            )
        work_sr = fe["sr"]
        x = y
        if fe["resample_from"] is not None:
            x = librosa.resample(y, orig_sr=fe["resample_from"], target_sr=work_sr)
        window = np.asarray(fe["window"])
        n_fft, hop = int(fe["n_fft"]), int(fe["hop_length"])
        center = bool(fe["pad"])
        mel = getattr(spectrogram, "mel_basis_", None)
    else:
        if R.ndim != 2:
            raise ValueError(
                "relevance must be shaped like the waveform or be 2-D "
                f"(n_freq, n_frames); got shape {R.shape}."
            )
        x = y
        window = "hann"
        hop = int(hop_length) if hop_length is not None else n_fft // 4
        center = True
        mel = None
    win_length = n_fft if isinstance(window, str) else len(window)
    stft = librosa.stft(
        x, n_fft=n_fft, hop_length=hop, win_length=win_length, window=window,
        center=center,
    )
    weights = _stft_weights(
        np.maximum(R, 0.0), mel, stft.shape, frame_aligned=spectrogram is not None
    )
    out = librosa.istft(
        stft * weights, hop_length=hop, win_length=win_length, window=window,
        center=center, n_fft=n_fft, length=len(x),
    )
    if spectrogram is not None and spectrogram._frontend["resample_from"] is not None:
        out = librosa.resample(
            out, orig_sr=spectrogram._frontend["sr"],
            target_sr=spectrogram._frontend["resample_from"],
        )
        out = librosa.util.fix_length(out, size=len(y))
    return out.astype(np.float32)


def _stft_weights(R, mel, stft_shape, frame_aligned):
    n_bins, n_frames = stft_shape
    if mel is not None and R.shape[0] == mel.shape[0]:
        # Each STFT bin takes the relevance of the mel bands covering it,
        # weighted by how much each band draws from that bin.
        coverage = mel.sum(axis=0)
        R = (mel.T @ R) / np.where(coverage > 0, coverage, 1.0)[:, None]
    R = _resize(R, n_bins, axis=0)
    if frame_aligned:
        # The transformer pads or crops frames at the end: frame j of the
        # relevance is frame j of the STFT.
        R = np.pad(R[:, :n_frames], ((0, 0), (0, max(0, n_frames - R.shape[1]))))
    else:
        R = _resize(R, n_frames, axis=1)
    peak = R.max()
    return R / peak if peak > 0 else R


def _resize(R, size, axis):
    if R.shape[axis] == size:
        return R
    old = (np.arange(R.shape[axis]) + 0.5) / R.shape[axis]
    new = (np.arange(size) + 0.5) / size
    return np.apply_along_axis(lambda v: np.interp(new, old, v), axis, R)
