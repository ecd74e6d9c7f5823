"""One validator for waveforms, in the spirit of ``librosa.util.valid_audio``."""

import numpy as np


def valid_audio(y, *, min_samples=1, source=None):
    """Check that ``y`` is usable audio and say which rule is broken if not.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_clips, n_samples)]
        One waveform or a batch of waveforms of equal length.
    min_samples : int, default=1
        The fewest samples a waveform may have (e.g. one analysis window).
    source : str or None, default=None
        What ``y`` is, for the messages: a file name for one waveform. For a
        batch, clips are named by their row index (``"clip 3"``).

    Returns
    -------
    valid : bool
        Always True; a broken rule raises instead.

    Raises
    ------
    TypeError
        If ``y`` is not floating point.
    ValueError
        If ``y`` has the wrong number of dimensions, too few samples, or a
        NaN or infinite sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.utils._audio import valid_audio
    >>> valid_audio(np.zeros((2, 400), dtype=np.float32), min_samples=400)
    True
    >>> y = np.zeros((3, 400), dtype=np.float32)
    >>> y[1, 7] = np.nan
    >>> valid_audio(y)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: clip 1 contains NaN or infinite samples (first at sample 7); ...
    """
    y = np.asarray(y)
    batch = y.ndim == 2
    name = source if source is not None else ("X" if batch else "waveform")
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be one waveform (1-D) or a batch of waveforms "
            f"(2-D, n_clips x n_samples); got an array of shape {y.shape}."
        )
    if not np.issubdtype(y.dtype, np.floating):
        raise TypeError(
            f"{name} must hold floating-point samples; got dtype {y.dtype}. "
            "Scale integer PCM to [-1, 1] first (e.g. divide int16 by 32768)."
        )
    n_samples = y.shape[-1]
    if n_samples < min_samples:
        raise ValueError(
            f"{name} has {n_samples} samples (n_features={n_samples}) but at "
            f"least {min_samples} are needed for one analysis window; use "
            "longer clips (e.g. AudioLoader(duration=...)) or a shorter window."
        )
    finite = np.isfinite(y)
    if not finite.all():
        if batch:
            clip = int(np.flatnonzero(~finite.all(axis=1))[0])
            where, first = f"clip {clip}", int(np.flatnonzero(~finite[clip])[0])
        else:
            where, first = name, int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{where} contains NaN or infinite samples (first at sample "
            f"{first}); clean or drop the clip (e.g. np.nan_to_num) first."
        )
    return True
