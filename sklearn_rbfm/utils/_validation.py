"""Input checks shared by the estimators, written on scikit-learn's public API only."""

import numpy as np

# Full scale of integer PCM as soundfile reads WAV files: int8/16/32 divided
# by 2**(bits - 1); unsigned 8-bit WAV is offset binary around 128.
_PCM_SCALE = {
    np.dtype(np.int8): (0.0, 2.0**7),
    np.dtype(np.int16): (0.0, 2.0**15),
    np.dtype(np.int32): (0.0, 2.0**31),
    np.dtype(np.uint8): (128.0, 2.0**7),
}


def check_input_features(estimator, input_features):
    """Check ``input_features`` of ``get_feature_names_out`` against those seen in fit.

    Parameters
    ----------
    estimator : fitted estimator
        Has ``n_features_in_`` and, when fitted on named columns,
        ``feature_names_in_``.
    input_features : array-like of str or None
        The names a caller passes to ``get_feature_names_out``.

    Raises
    ------
    ValueError
        If the names differ from ``feature_names_in_`` or their number from
        ``n_features_in_``.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from sklearn_rbfm.utils._validation import check_input_features
    >>> est = SimpleNamespace(n_features_in_=2, feature_names_in_=np.array(["a", "b"]))
    >>> check_input_features(est, ["a", "b"])
    >>> check_input_features(est, ["a", "c"])
    Traceback (most recent call last):
    ...
    ValueError: input_features is not equal to feature_names_in_: ['a', 'c'] != ['a', 'b'].
    """
    if input_features is None:
        return
    names = np.asarray(input_features, dtype=object)
    seen = getattr(estimator, "feature_names_in_", None)
    if seen is not None and not np.array_equal(names, seen):
        raise ValueError(
            "input_features is not equal to feature_names_in_: "
            f"{names.tolist()} != {list(seen)}."
        )
    if len(names) != estimator.n_features_in_:
        raise ValueError(
            f"input_features should have length equal to number of features "
            f"({estimator.n_features_in_}), got {len(names)}."
        )


def as_float32(X, *, name="X", pcm=False):
    """Cast validated input to float32, refusing non-numbers with a clear message.

    Parameters
    ----------
    X : ndarray
        Input already checked for shape (e.g. by ``validate_data`` with
        ``dtype=None``).
    name : str, default="X"
        What ``X`` is, for the messages.
    pcm : bool, default=False
        ``X`` holds audio: integer PCM is scaled to [-1, 1) by its full
        scale (int8, int16, int32 divided by 2**7, 2**15, 2**31; uint8 as
        ``(x - 128) / 128``), and other integer types are refused.

    Returns
    -------
    X : ndarray of dtype float32

    Raises
    ------
    TypeError or ValueError
        If ``X`` holds values that are not numbers, or (``pcm``) an integer
        type with no audio full scale.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.utils._validation import as_float32
    >>> as_float32(np.array([[-32768, 16384]], dtype=np.int16), pcm=True)
    array([[-1. ,  0.5]], dtype=float32)
    """
    X = np.asarray(X)
    if X.dtype.kind in "iu" and pcm:
        if X.dtype not in _PCM_SCALE:
            raise TypeError(
                f"{name} holds integers of dtype {X.dtype}, which is not a PCM "
                "sample format: pass float waveforms in [-1, 1], or int16 / "
                "int32 PCM (scaled by 2**15 / 2**31)."
            )
        offset, scale = _PCM_SCALE[X.dtype]
        return ((X.astype(np.float64) - offset) / scale).astype(np.float32)
    if X.dtype.kind in "biuf":
        return X.astype(np.float32, copy=False)
    try:
        return X.astype(np.float32)
    except (TypeError, ValueError) as exc:
        what = "audio samples" if pcm else "numbers"
        raise type(exc)(
            f"{name} must hold {what}, but has dtype {X.dtype} and a value "
            f"that is not a number ({exc}). Pass a numeric array"
            + (" of waveforms (AudioLoader decodes audio files)." if pcm else ".")
        ) from exc


def check_numeric(X, *, name="X"):
    """Refuse non-numeric input naming the first offending cell.

    scikit-learn's own message ("could not convert string to float: 'a'")
    names neither the argument nor the place; this one names both. Numeric
    input (and array-likes that convert cleanly) passes unchanged.

    Parameters
    ----------
    X : array-like or DataFrame
        The input of ``fit``, ``transform`` or ``predict``.
    name : str, default="X"
        What ``X`` is, for the message.

    Returns
    -------
    X : the input, unchanged

    Raises
    ------
    ValueError or TypeError
        If a cell of an object or string array is not a number (the type
        :func:`float` raises for it).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.utils._validation import check_numeric
    >>> check_numeric(np.array([[1.0, "loud"]], dtype=object))
    Traceback (most recent call last):
    ...
    ValueError: X must hold numbers: row 0, column 1 holds 'loud' (a str; could not convert string to float: 'loud'). Encode it as numbers first.
    """
    values = X.to_numpy() if hasattr(X, "to_numpy") else X
    try:
        values = np.asarray(values)
    except (TypeError, ValueError):
        return X
    if values.dtype.kind not in "OUS":
        return X
    flat = values.reshape(len(values), -1) if values.ndim > 1 else values.reshape(-1, 1)
    for (row, col), value in np.ndenumerate(flat):
        if value is None:
            continue  # a missing value: the NaN check names it
        try:
            float(value)
        except (TypeError, ValueError) as exc:
            # the same exception type as numpy's conversion (TypeError for
            # e.g. a dict, ValueError for a word), with its reason kept
            raise type(exc)(
                f"{name} must hold numbers: row {row}, column {col} holds "
                f"{value!r} (a {type(value).__name__}; {exc}). Encode it as "
                "numbers first."
            ) from None
    return X


def n_samples(X):
    """Number of rows of an array, DataFrame or sequence (e.g. of file paths).

    Examples
    --------
    >>> from sklearn_rbfm.utils._validation import n_samples
    >>> n_samples(["a.wav", "b.wav"]), n_samples([[1, 2], [3, 4], [5, 6]])
    (2, 3)
    """
    shape = getattr(X, "shape", None)
    if shape is None and not hasattr(X, "__len__"):
        shape = np.asarray(X).shape  # e.g. an object with only __array__
    if shape is not None and len(shape):
        return int(shape[0])
    return len(X)
