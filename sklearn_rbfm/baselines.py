"""Hand-made audio features of the classic baselines, as transformers.

Two feature sets the RBFM paper compares against, each a transformer from
waveforms to one feature vector per clip, so that a baseline is a pipeline:

- :class:`LogMelStatistics`: mean and standard deviation over time of each
  log-mel band (with a logistic regression: the ``logmel_logreg`` baseline of
  ``rbfm experiment``);
- :class:`ComParEFunctionals`: the 6,373 openSMILE ComParE 2016 functionals
  (with a linear SVM: the ``compare_svm`` baseline; needs the ``opensmile``
  extra).

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from sklearn_rbfm.baselines import LogMelStatistics
>>> rng = np.random.default_rng(0)
>>> waves = rng.normal(size=(20, 8000)).astype(np.float32)
>>> waves[10:] *= np.sin(np.linspace(0, 400 * np.pi, 8000))  # a tone in half
>>> y = np.repeat([0, 1], 10)
>>> model = make_pipeline(LogMelStatistics(sr=8000), StandardScaler(),
...                       LogisticRegression()).fit(waves, y)
>>> model.score(waves, y)
1.0
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ComParEFunctionals", "LogMelStatistics", "band_statistics"]


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
    >>> from sklearn_rbfm.baselines import band_statistics
    >>> band_statistics(np.array([[1., 3., 0., 0.]]), n_bands=2)
    array([[2., 0., 1., 0.]])
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] % n_bands:
        raise ValueError(
            f"band_statistics needs flat spectrograms of shape (n_clips, "
            f"{n_bands} * n_frames); got shape {X.shape}."
        )
    bands = X.reshape(len(X), n_bands, -1)
    return np.concatenate([bands.mean(axis=2), bands.std(axis=2)], axis=1)


class LogMelStatistics(TransformerMixin, BaseEstimator):
    """Mean and standard deviation over time of each log-mel band of a clip.

    The classic hand-made baseline: a mel spectrogram in decibels (25 ms
    windows, 10 ms hop, ``n_mels`` bands up to half the rate, by default),
    summarised per band by its mean and its standard deviation over the
    frames.

    Parameters
    ----------
    sr : float, default=16000
        Sampling rate of the waveforms in Hz.
    n_mels : int, default=40
        Number of mel bands.
    n_fft : int or None, default=None
        FFT size; None: the power of two at or above the window.
    win_length : int or None, default=None
        Window in samples; None: 25 ms.
    hop_length : int or None, default=None
        Hop in samples; None: 10 ms.

    Attributes
    ----------
    spectrogram_ : SpectrogramTransformer
        The fitted front end.
    n_features_in_ : int
        Samples per waveform seen during fit.

    See Also
    --------
    ComParEFunctionals : openSMILE's large functional set.
    sklearn_rbfm.SpectrogramTransformer : The front end.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.baselines import LogMelStatistics
    >>> waves = np.random.default_rng(0).normal(size=(3, 8000)).astype(np.float32)
    >>> stats = LogMelStatistics(sr=8000, n_mels=20).fit_transform(waves)
    >>> stats.shape
    (3, 40)
    >>> LogMelStatistics(sr=8000, n_mels=2).fit(waves).get_feature_names_out()
    array(['mean_mel0', 'mean_mel1', 'std_mel0', 'std_mel1'], dtype=object)
    """

    _parameter_constraints = {
        "sr": [Interval(Real, 0, None, closed="neither")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "n_fft": [Interval(Integral, 1, None, closed="left"), None],
        "win_length": [Interval(Integral, 1, None, closed="left"), None],
        "hop_length": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, sr=16000, *, n_mels=40, n_fft=None, win_length=None,
                 hop_length=None):
        self.sr = sr
        self.n_mels = n_mels
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the spectrogram front end to the waveforms' length.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``.
        y : None
            Ignored.

        Returns
        -------
        self : LogMelStatistics
            The fitted transformer.
        """
        from ._spectrogram import SpectrogramTransformer

        X = validate_data(self, X, dtype=np.float32)
        win = self.win_length or int(round(0.025 * self.sr))
        n_fft = self.n_fft or 1 << (win - 1).bit_length()
        self.spectrogram_ = SpectrogramTransformer(
            kind="mel", sr=self.sr, n_fft=n_fft, win_length=min(win, n_fft),
            hop_length=self.hop_length or max(1, int(round(0.010 * self.sr))),
            n_mels=self.n_mels, log="db").fit(X)
        return self

    def transform(self, X):
        """Band means and standard deviations of each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``, as long as during fit.

        Returns
        -------
        stats : ndarray of shape (n_clips, 2 * n_mels)
            The band means, then the band standard deviations (dB).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return band_statistics(self.spectrogram_.transform(X), self.n_mels)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def get_feature_names_out(self, input_features=None):
        """Names ``mean_mel<i>`` and ``std_mel<i>``.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        names : ndarray of str objects
            The output feature names.
        """
        check_is_fitted(self)
        return np.array([f"{stat}_mel{i}" for stat in ("mean", "std")
                         for i in range(self.n_mels)], dtype=object)


class ComParEFunctionals(TransformerMixin, BaseEstimator):
    """openSMILE's ComParE 2016 functionals (6,373 per clip).

    The feature set of the ComParE challenges' baseline (Schuller et al.),
    computed with the ``opensmile`` package (``pip install
    'sklearn_rbfm[opensmile]'``), one clip at a time.

    Parameters
    ----------
    sr : float, default=16000
        Sampling rate of the waveforms in Hz.

    Attributes
    ----------
    n_features_in_ : int
        Samples per waveform seen during fit.

    See Also
    --------
    LogMelStatistics : A small hand-made feature set.

    Notes
    -----
    openSMILE returns NaN for functionals of clips too short for its
    analysis windows; :meth:`transform` refuses such clips, naming them,
    rather than passing NaN on.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.baselines import ComParEFunctionals
    >>> waves = np.random.default_rng(0).normal(size=(2, 16000)).astype(np.float32)
    >>> ComParEFunctionals().fit_transform(waves).shape  # doctest: +SKIP
    (2, 6373)
    """

    _parameter_constraints = {"sr": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, sr=16000):
        self.sr = sr

    def _smile(self):
        try:
            import opensmile
        except ImportError as exc:
            raise ImportError(
                "ComParEFunctionals needs the opensmile package: pip install "
                "'sklearn_rbfm[opensmile]'."
            ) from exc
        return opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                               feature_level=opensmile.FeatureLevel.Functionals)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the waveforms and that openSMILE is installed.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``.
        y : None
            Ignored.

        Returns
        -------
        self : ComParEFunctionals
            The fitted transformer.
        """
        validate_data(self, X, dtype=np.float32)
        self.feature_names_ = np.asarray(self._smile().feature_names, dtype=object)
        return self

    def transform(self, X):
        """The functionals of each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms at ``sr``.

        Returns
        -------
        F : ndarray of shape (n_clips, 6373), dtype float32
            The functionals.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        smile = self._smile()
        F = np.vstack([smile.process_signal(w, self.sr).to_numpy() for w in X])
        bad = np.flatnonzero(~np.isfinite(F).all(axis=1))
        if len(bad):
            raise ValueError(
                f"openSMILE returned NaN functionals for clip(s) {bad[:10].tolist()} "
                f"of {X.shape[1]} samples at {self.sr:g} Hz: too short for its "
                "analysis windows. Pad the clips (AudioLoader(duration=...))."
            )
        return F.astype(np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def get_feature_names_out(self, input_features=None):
        """openSMILE's names of the functionals.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        names : ndarray of str objects
            The output feature names.
        """
        check_is_fitted(self)
        return self.feature_names_
