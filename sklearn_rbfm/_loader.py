"""Decode audio files into fixed-length waveforms."""

import os
import re
import warnings
from numbers import Integral, Real

import numpy as np
import soundfile as sf
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import gen_even_slices
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from .utils._audio import valid_audio

# libsndfile logs "data : <header size> (should be <bytes present>)" when a
# WAV or AIFF file ends before its data chunk does.
_SHORT_DATA = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)


class SkippedFilesWarning(UserWarning):
    """Files that could not be read were left out of the output."""


def _decode(path, *, sr, channels, res_type):
    """Read one file as float32 mono at ``sr``; errors name the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such audio file.")
    try:
        with sf.SoundFile(path) as f:
            declared, file_sr, n_channels = f.frames, f.samplerate, f.channels
            short = _SHORT_DATA.search(f.extra_info)
            data = f.read(dtype="float32", always_2d=True)
    except sf.SoundFileError as exc:
        size = os.path.getsize(path)
        what = "an empty file" if size == 0 else "not a readable audio file"
        raise ValueError(
            f"{path}: {what} ({exc}). AudioLoader reads WAV, FLAC, OGG and AIFF "
            "through libsndfile."
        ) from None
    if (short and int(short.group(2)) < int(short.group(1))) or len(data) < declared:
        raise ValueError(
            f"{path}: truncated file, its header promises more audio than it "
            "holds; re-export or drop the file."
        )
    if len(data) == 0:
        raise ValueError(f"{path}: zero-length clip (no samples).")
    if isinstance(channels, Integral):
        if not -n_channels <= channels < n_channels:
            raise ValueError(
                f"{path}: channels={channels} is out of range for a file with "
                f"{n_channels} channel(s); use an index below {n_channels}, "
                "'first' or 'mean'."
            )
        y = data[:, channels]
    elif channels == "first" or n_channels == 1:
        y = data[:, 0]
    else:
        y = data.mean(axis=1)
    y = np.ascontiguousarray(y)
    valid_audio(y, source=str(path))
    if file_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type=res_type)
    return y.astype(np.float32, copy=False)


def _decode_batch(paths, channels, *, skip, **kwargs):
    """Decode several files in one task; with ``skip``, errors are returned."""
    clips = []
    for path, channel in zip(paths, channels):
        try:
            clips.append(_decode(path, channels=channel, **kwargs))
        except (OSError, ValueError) as exc:
            if not skip:
                raise
            clips.append(exc)
    return clips


def _place(y, row, align):
    """Copy ``y`` into the zeroed ``row``, cropped or padded at its start or centre."""
    n, m = len(row), len(y)
    if m >= n:
        start = (m - n) // 2 if align == "center" else 0
        row[:] = y[start : start + n]
    else:
        before = (n - m) // 2 if align == "center" else 0
        row[before : before + m] = y


class AudioLoader(TransformerMixin, BaseEstimator):
    """Decode audio files into a float32 array of equal-length waveforms.

    ``X`` is a 1-D array-like of file paths (or a single column of them, as a
    :class:`~sklearn.compose.ColumnTransformer` passes it), or two columns:
    paths and the channel to read from each file (as
    :func:`~sklearn_rbfm.datasets.load_compare_orca` gives with
    ``split_channels=True``). Each file is read
    with libsndfile (WAV, FLAC, OGG, AIFF; integer or float PCM, scaled to
    [-1, 1]), reduced to one channel, resampled to ``sr`` and padded or
    cropped to ``duration``.

    Parameters
    ----------
    sr : float, default=16000
        Sampling rate of the output in Hz; files at other rates are resampled.
    duration : float, default=None
        Length of every output clip in seconds: ``round(sr * duration)``
        samples, zero-padded or cropped. None keeps the files' own length,
        which must then be the same for all files.
    channels : {'mean', 'first'} or int, default='mean'
        How multi-channel files become mono: average of the channels, the
        first channel, or the channel with this index (negative counts from
        the last). A second column of ``X`` overrides it row by row.
    align : {'start', 'center'}, default='start'
        Where to crop or pad: keep the start of a long file (pad a short one
        at its end), or keep its centre (pad a short one on both sides).
    on_error : {'raise', 'skip'}, default='raise'
        What an unreadable file (missing, empty, truncated, not audio,
        non-finite samples, zero length, channel out of range) does:
        raise an error naming the file, or be left out of the output with a
        :class:`SkippedFilesWarning`. Skipping changes the number of rows:
        :meth:`transform` then records ``skipped_`` and ``kept_``; use
        ``y[loader.kept_]`` to keep targets aligned (decode outside a
        :class:`~sklearn.pipeline.Pipeline` that also takes ``y``).
    res_type : str, default='soxr_hq'
        Resampling method, as in :func:`librosa.resample`.
    n_jobs : int, default=None
        Files decoded in parallel (joblib threads). None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.

    Attributes
    ----------
    n_features_in_ : int
        1 for a column of paths, 2 for paths and channel indices.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Name of the path column seen during :meth:`fit`. Defined only when
        `X` has feature names that are all strings.
    skipped_ : list of (int, str, str)
        Set by :meth:`transform` when ``on_error='skip'``: row index, path
        and reason of every file left out of its last output.
    kept_ : ndarray of int
        Set by :meth:`transform` when ``on_error='skip'``: the rows of its
        last ``X`` that are in the output, in order.

    See Also
    --------
    SpectrogramTransformer : Spectrograms of the waveforms this loader returns.
    sklearn_rbfm.datasets.load_audio_folder : File names and labels of a folder.

    Examples
    --------
    >>> from sklearn_rbfm import AudioLoader
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> data = load_fsdd_sample()
    >>> loader = AudioLoader(sr=16000, duration=1.0)
    >>> waves = loader.fit_transform(data.filenames[:4])
    >>> waves.shape, waves.dtype
    ((4, 16000), dtype('float32'))
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Real, 0, None, closed="neither")],
        "duration": [Interval(Real, 0, None, closed="neither"), None],
        "channels": [StrOptions({"mean", "first"}), Integral],
        "align": [StrOptions({"start", "center"})],
        "on_error": [StrOptions({"raise", "skip"})],
        "res_type": [str],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        sr=16000,
        *,
        duration=None,
        channels="mean",
        align="start",
        on_error="raise",
        res_type="soxr_hq",
        n_jobs=None,
    ):
        self.sr = sr
        self.duration = duration
        self.channels = channels
        self.align = align
        self.on_error = on_error
        self.res_type = res_type
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check that ``X`` is a column of file paths; no file is read.

        Parameters
        ----------
        X : array-like of shape (n_files,), (n_files, 1) or (n_files, 2)
            Paths of audio files (str or os.PathLike), optionally followed
            by the channel index to read from each.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted loader.
        """
        self._paths(X, reset=True)
        return self

    def transform(self, X):
        """Decode every file.

        Parameters
        ----------
        X : array-like of shape (n_files,), (n_files, 1) or (n_files, 2)
            Paths of audio files (str or os.PathLike), optionally followed
            by the channel index to read from each.

        Returns
        -------
        waveforms : ndarray of shape (n_loaded, n_samples), dtype float32
            One row per file (``n_loaded == n_files`` unless files were
            skipped), ``n_samples = round(sr * duration)``.
        """
        check_is_fitted(self)
        paths, channels = self._paths(X, reset=False)
        n_jobs = effective_n_jobs(self.n_jobs)
        # a few batches per worker: balanced load without a task per file
        batches = gen_even_slices(len(paths), min(len(paths), 4 * n_jobs))
        clips = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_decode_batch)(
                paths[batch],
                channels[batch],
                skip=self.on_error == "skip",
                sr=self.sr,
                res_type=self.res_type,
            )
            for batch in batches
        )
        clips = [clip for batch in clips for clip in batch]
        kept = range(len(paths))
        if self.on_error == "skip":
            failed = [i for i, clip in enumerate(clips) if isinstance(clip, Exception)]
            self.skipped_ = [(i, paths[i], str(clips[i])) for i in failed]
            self.kept_ = kept = np.setdiff1d(np.arange(len(paths)), failed)
            if failed:
                reasons = "; ".join(reason for _, _, reason in self.skipped_[:5])
                warnings.warn(
                    f"Skipped {len(failed)} of {len(paths)} files: {reasons}"
                    f"{' ...' if len(failed) > 5 else ''} (see skipped_; select "
                    "the matching targets with kept_).",
                    SkippedFilesWarning,
                )
        return self._stack([clips[i] for i in kept], [paths[i] for i in kept])

    def get_feature_names_out(self, input_features=None):
        """Names ``t{j}`` of the output samples.

        Parameters
        ----------
        input_features : None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per output sample. Only defined with ``duration`` set,
            since otherwise the width depends on the files.
        """
        check_is_fitted(self)
        if self.duration is None:
            raise ValueError(
                "The output width depends on the files when duration=None; "
                "set duration to get feature names."
            )
        return np.asarray(
            [f"t{j}" for j in range(round(self.sr * self.duration))], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _paths(self, X, *, reset):
        """Validate ``X``; return the paths (str) and each row's channel or None."""
        # a DataFrame keeps its column names; anything else becomes 2-D
        column = X
        if not hasattr(X, "columns"):
            column = np.asarray(X, dtype=object)
            if column.ndim == 1:
                column = column.reshape(-1, 1)
        column = validate_data(
            self, column, reset=reset, dtype=None, ensure_all_finite=False
        )
        if column.shape[1] not in (1, 2):
            raise ValueError(
                f"X must be one column of file paths, or paths and channel "
                f"indices; got {column.shape[1]} columns. Pass a 1-D "
                "array-like of paths."
            )
        paths, channels = [], []
        for i, row in enumerate(column):
            if not isinstance(row[0], (str, os.PathLike)):
                raise ValueError(
                    f"X must hold file paths (str or os.PathLike); row {i} is "
                    f"{row[0]!r} of type {type(row[0]).__name__}."
                )
            paths.append(os.fspath(row[0]))
            if len(row) == 2:
                if not isinstance(row[1], Integral) or isinstance(row[1], bool):
                    raise ValueError(
                        f"The second column of X holds channel indices; row "
                        f"{i} ({paths[-1]}) has {row[1]!r}. Use an int."
                    )
                channels.append(int(row[1]))
            else:
                channels.append(self.channels)
        return paths, channels

    def _stack(self, clips, paths):
        if self.duration is not None:
            out = np.zeros((len(clips), round(self.sr * self.duration)), np.float32)
            for clip, row in zip(clips, out):
                _place(clip, row, self.align)
            return out
        lengths = {len(c) for c in clips}
        if len(lengths) > 1:
            longest = max(range(len(clips)), key=lambda i: len(clips[i]))
            shortest = min(range(len(clips)), key=lambda i: len(clips[i]))
            raise ValueError(
                "Files have different lengths, e.g. "
                f"{paths[shortest]}: {len(clips[shortest])} samples and "
                f"{paths[longest]}: {len(clips[longest])} samples at "
                f"sr={self.sr:g}; set duration (seconds) to pad or crop them "
                "to one length."
            )
        if not clips:
            return np.empty((0, 0), dtype=np.float32)
        return np.asarray(clips, dtype=np.float32)
