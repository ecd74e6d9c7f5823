"""The flat (frequency, frame) layout of spectrograms, undone and redone in one place."""

import numpy as np
from sklearn.utils._param_validation import HasMethods, validate_params


@validate_params(
    {
        "X": ["array-like"],
        "spectrogram_shape": [tuple, list, HasMethods(["transform"])],
        "flat": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def reshape_spectrograms(X, spectrogram_shape, *, flat=False):
    """Convert spectrograms between flat rows and ``(n, n_freq, n_frames)``.

    ``SpectrogramTransformer`` writes each spectrogram as one flat row in
    (frequency, frame) order: column ``i * n_frames + j`` is band ``i`` of
    frame ``j``. This helper is the one place that layout is undone or
    redone.

    Parameters
    ----------
    X : array-like of shape (n, n_freq * n_frames) or (n, n_freq, n_frames)
        Flat or 3-D spectrograms (a single flat row or 2-D map is taken as
        one spectrogram).
    spectrogram_shape : tuple of (int, int) or fitted SpectrogramTransformer
        ``(n_freq, n_frames)``, or the transformer whose
        ``spectrogram_shape_`` gives it.
    flat : bool, default=False
        Return flat rows ``(n, n_freq * n_frames)`` instead of 3-D.

    Returns
    -------
    S : ndarray of shape (n, n_freq, n_frames) or (n, n_freq * n_frames)
        A view of ``X`` when possible.

    Raises
    ------
    ValueError
        If ``X`` does not hold ``n_freq * n_frames`` cells per spectrogram, or
        is a 3-D array of another shape (e.g. transposed).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.utils import reshape_spectrograms
    >>> flat = np.arange(12.0).reshape(2, 6)  # two spectrograms, 2 bands x 3 frames
    >>> reshape_spectrograms(flat, (2, 3))[1]
    array([[ 6.,  7.,  8.],
           [ 9., 10., 11.]])
    >>> reshape_spectrograms(reshape_spectrograms(flat, (2, 3)), (2, 3), flat=True).shape
    (2, 6)
    """
    shape = getattr(spectrogram_shape, "spectrogram_shape_", spectrogram_shape)
    try:
        n_freq, n_frames = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(
            "spectrogram_shape must be a pair (n_freq, n_frames) or a fitted "
            f"SpectrogramTransformer, got {spectrogram_shape!r}."
        ) from None
    S = np.asarray(X)
    cells = n_freq * n_frames
    if S.ndim == 1 and S.size == cells:
        S = S.reshape(1, n_freq, n_frames)
    elif S.ndim == 2 and S.shape == (n_freq, n_frames):
        S = S[np.newaxis]
    elif S.ndim == 2 and S.shape[1] == cells:
        S = S.reshape(S.shape[0], n_freq, n_frames)
    if S.ndim != 3 or S.shape[1:] != (n_freq, n_frames):
        hint = ""
        if S.ndim >= 2 and S.shape[-2:] == (n_frames, n_freq) and n_freq != n_frames:
            hint = " It looks transposed: pass (n_freq, n_frames), not (n_frames, n_freq)."
        raise ValueError(
            f"Expected spectrograms of shape (n_freq, n_frames) = "
            f"{(n_freq, n_frames)}, flat rows of {cells} values or a 3-D array "
            f"(n, {n_freq}, {n_frames}); got an array of shape {np.shape(X)}.{hint}"
        )
    return S.reshape(S.shape[0], cells) if flat else S
