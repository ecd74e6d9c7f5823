"""Hand-made features of the baselines: statistics of log-mel bands."""

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer


def band_statistics(X, n_bands):
    """Mean and standard deviation over time of each band of flat spectrograms.

    Parameters
    ----------
    X : ndarray of shape (n_clips, n_bands * n_frames)
        Flat spectrograms in (band, frame) order, as
        :class:`~sklearn_rbfm.SpectrogramTransformer` returns them.
    n_bands : int
        Number of frequency bands.

    Returns
    -------
    stats : ndarray of shape (n_clips, 2 * n_bands)
        The band means followed by the band standard deviations.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.cli._features import band_statistics
    >>> band_statistics(np.array([[1., 3., 0., 0.]]), n_bands=2)
    array([[2., 0., 1., 0.]])
    """
    X = np.asarray(X)
    bands = X.reshape(len(X), n_bands, -1)
    return np.concatenate([bands.mean(axis=2), bands.std(axis=2)], axis=1)


def log_mel_statistics(sr, n_mels=40):
    """Pipeline from raw waveforms at ``sr`` to log-mel band statistics.

    25 ms windows with a 10 ms hop, ``n_mels`` bands up to half the rate,
    in decibels; then :func:`band_statistics`.
    """
    from .._spectrogram import SpectrogramTransformer

    win = int(round(0.025 * sr))
    n_fft = 1 << (win - 1).bit_length()
    return make_pipeline(
        SpectrogramTransformer(kind="mel", sr=sr, n_fft=n_fft, win_length=win,
                               hop_length=int(round(0.010 * sr)), n_mels=n_mels,
                               log="db"),
        FunctionTransformer(band_statistics, kw_args={"n_bands": n_mels}),
    )
