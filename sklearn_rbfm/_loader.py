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
    """Files that could not be read were left out of the output.

    Attributes
    ----------
    skipped : list of (int, str, str)
        Row index, path and reason of every file left out.
    kept : ndarray of int
        The rows of ``X`` that are in the output, in order; ``y[kept]``
        keeps targets aligned.
    """

    def __init__(self, message, skipped=(), kept=()):
        super().__init__(message)
        self.skipped = list(skipped)
        self.kept = np.asarray(kept, dtype=int)


def _open(path):
    """Open ``path`` with libsndfile under the reader's rules; errors name the file.

    Returns the open :class:`soundfile.SoundFile`; a file whose header
    promises more audio than it holds is refused here, before any decoding.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"{path}: is a folder, not an audio file; list its files "
                "(e.g. sklearn_rbfm.datasets.load_audio_folder)."
            )
        raise FileNotFoundError(f"{path}: no such audio file.")
    try:
        handle = sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError) as exc:
        size = os.path.getsize(path)
        what = "an empty file" if size == 0 else "not a readable audio file"
        raise ValueError(
            f"{path}: {what} ({exc}). The reader takes WAV, FLAC, OGG and AIFF "
            "through libsndfile."
        ) from None
    short = _SHORT_DATA.search(handle.extra_info)
    if short and int(short.group(2)) < int(short.group(1)):
        handle.close()
        raise _truncated(path)
    if handle.frames == 0:
        handle.close()
        raise ValueError(f"{path}: zero-length clip (no samples).")
    return handle


def _read(handle, path, frames=-1, start=0):
    """``handle.read`` (from frame ``start``) with libsndfile's errors naming the file."""
    try:
        if start:
            handle.seek(start)
        return handle.read(frames, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise ValueError(
            f"{path}: not a readable audio file ({exc}); re-export or drop it."
        ) from None


def _truncated(path):
    return ValueError(
        f"{path}: truncated file, its header promises more audio than it "
        "holds; re-export or drop the file."
    )


def _mono(data, channels, path):
    """One channel of ``data`` (frames x channels) by the channel policy."""
    n_channels = data.shape[1]
    if isinstance(channels, Integral):
        if not -n_channels <= channels < n_channels:
            raise ValueError(
                f"{path}: channels={channels} is out of range for a file with "
                f"{n_channels} channel(s); use an index below {n_channels}, "
                "'first' or 'mean'."
            )
        return np.ascontiguousarray(data[:, channels])
    if channels == "first" or n_channels == 1:
        return np.ascontiguousarray(data[:, 0])
    return data.mean(axis=1, dtype=np.float32)


def read_audio(path, *, sr, channels="mean", res_type="soxr_hq", offset=0.0,
               duration=None):
    """Read one audio file as float32 mono at ``sr``.

    The one reader of the package: :class:`AudioLoader`,
    :func:`sklearn_rbfm.detection.detect` (through
    :func:`iter_audio_blocks`) and the dataset checks apply the same rules.

    Parameters
    ----------
    path : str or path-like
        WAV, FLAC, OGG or AIFF file (integer or float PCM, scaled to [-1, 1]).
    sr : float
        Output rate in Hz; other rates are resampled.
    channels : {'mean', 'first'} or int, default='mean'
        Channel policy: average, first channel, or this channel's index.
    res_type : str, default='soxr_hq'
        Resampling method, as in :func:`librosa.resample`.
    offset : float, default=0.0
        Seconds skipped at the start of the file.
    duration : float, default=None
        Seconds read from ``offset``; None reads to the end. Only this part
        is decoded, so clips of a long recording are cheap.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype float32
        The waveform.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is empty, truncated, not audio, has a non-finite sample,
        or ``channels`` is out of range; the message names the file.

    Examples
    --------
    >>> from sklearn_rbfm._loader import read_audio
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> y = read_audio(load_fsdd_sample().filenames[0], sr=4000)
    >>> y.dtype, y.ndim
    (dtype('float32'), 1)
    """
    path = os.fspath(path)
    with _open(path) as f:
        declared, file_sr = f.frames, f.samplerate
        first = min(declared, int(round(offset * file_sr)))
        wanted = declared - first if duration is None else min(
            declared - first, int(round(duration * file_sr)))
        data = _read(f, path, wanted, first)
    if len(data) < wanted:
        raise _truncated(path)
    y = _mono(data, channels, path)
    valid_audio(y, source=str(path))
    if file_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type=res_type)
    return y.astype(np.float32, copy=False)


def audio_duration(path):
    """Seconds of audio in ``path``, read from its header under the reader's rules.

    Examples
    --------
    >>> from sklearn_rbfm._loader import audio_duration
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> round(audio_duration(load_fsdd_sample().filenames[0]), 3)
    0.298
    """
    with _open(path) as f:
        return f.frames / f.samplerate


def iter_audio_blocks(path, *, sr, channels="mean", block_seconds=30.0):
    """Yield a long file as consecutive float32 mono blocks at ``sr``.

    Same rules as :func:`read_audio` (a truncated file, a non-finite sample
    or a channel out of range is a ValueError naming the file), with
    constant memory: blocks are decoded one at a time and resampled by a
    streaming resampler, so block edges leave no seam.

    Parameters
    ----------
    path : str or path-like
        The recording.
    sr : float
        Output rate in Hz.
    channels : {'mean', 'first'} or int, default='mean'
        Channel policy, as in :func:`read_audio`.
    block_seconds : float, default=30.0
        Seconds of the file decoded at once.

    Yields
    ------
    block : ndarray of shape (n,), dtype float32
        The next samples; their concatenation is the whole file at ``sr``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm._loader import iter_audio_blocks
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> path = load_fsdd_sample().filenames[0]
    >>> blocks = list(iter_audio_blocks(path, sr=8000, block_seconds=0.1))
    >>> len(blocks), sum(map(len, blocks))
    (3, 2384)
    """
    import soxr

    path = os.fspath(path)
    with _open(path) as f:
        resampler = None
        if f.samplerate != sr:
            resampler = soxr.ResampleStream(f.samplerate, sr, 1, dtype="float32",
                                            quality="HQ")
        block = max(1, int(block_seconds * f.samplerate))
        done = 0
        while True:
            data = _read(f, path, block)
            done += len(data)
            last = done >= f.frames or len(data) < block
            if last and done < f.frames:
                raise _truncated(path)
            mono = _mono(data, channels, path)
            finite = np.isfinite(mono)
            if not finite.all():
                first = done - len(data) + int(np.argmin(finite))
                raise ValueError(
                    f"{path} contains NaN or infinite samples (first at sample "
                    f"{first}, {first / f.samplerate:.3f} s); repair or trim "
                    "the file."
                )
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            yield mono
            if last:
                return


def _decode_batch(paths, channels, *, skip, **kwargs):
    """Decode several files in one task; with ``skip``, errors are returned."""
    clips = []
    for path, channel in zip(paths, channels):
        try:
            clips.append(read_audio(path, channels=channel, **kwargs))
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
        the warning's ``kept`` (rows in the output) and ``skipped`` (row,
        path, reason) keep targets aligned, ``y[warning.kept]`` (decode
        outside a :class:`~sklearn.pipeline.Pipeline` that also takes
        ``y``). :meth:`transform` itself sets no attribute.
    res_type : str, default='soxr_hq'
        Resampling method, as in :func:`librosa.resample`.
    remove_dc : bool, default=False
        Subtract each file's mean (its DC offset, over the whole decoded
        file) before padding or cropping, so that the padding stays silence.
        An offset is an artefact of the recorder, not sound: it puts energy
        in the lowest frequency band of every frame and a step where the
        audio meets the padding. One of FSDD's six speakers has an offset of
        about 0.16 times the signal's standard deviation; removing it raised
        the accuracy on that speaker of the waveform network from 0.37 to
        0.49, of the spectrogram network from 0.62 to 0.66 and of a
        logistic regression on the spectrograms from 0.29 to 0.42
        (``benchmarks/RESULTS.md``).
    n_jobs : int, default=None
        Files decoded in parallel (joblib threads). None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
    verbose : int, default=0
        Verbosity of the joblib progress messages while decoding.

    Attributes
    ----------
    n_features_in_ : int
        1 for a column of paths, 2 for paths and channel indices.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Name of the path column seen during :meth:`fit`. Defined only when
        `X` has feature names that are all strings.

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
        "remove_dc": ["boolean"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
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
        remove_dc=False,
        n_jobs=None,
        verbose=0,
    ):
        self.sr = sr
        self.duration = duration
        self.channels = channels
        self.align = align
        self.on_error = on_error
        self.res_type = res_type
        self.remove_dc = remove_dc
        self.n_jobs = n_jobs
        self.verbose = verbose

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
        clips = Parallel(n_jobs=n_jobs, prefer="threads", verbose=self.verbose)(
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
            skipped = [(i, paths[i], str(clips[i])) for i in failed]
            kept = np.setdiff1d(np.arange(len(paths)), failed)
            if failed:
                reasons = "; ".join(reason for _, _, reason in skipped[:5])
                warnings.warn(SkippedFilesWarning(
                    f"Skipped {len(failed)} of {len(paths)} files: {reasons}"
                    f"{' ...' if len(failed) > 5 else ''} (the warning's "
                    "'skipped' lists them; select the matching targets with "
                    "its 'kept').", skipped, kept))
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
        if isinstance(X, (str, bytes, os.PathLike)):
            raise ValueError(
                f"X must be a list of file paths, got the single path {X!r}; "
                "pass [path] (a list with one element)."
            )
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
        if self.remove_dc:
            clips = [
                (clip - clip.mean(dtype=np.float64)).astype(np.float32)
                for clip in clips
            ]
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
