"""Checks that a list of audio files and labels can feed a nested evaluation.

They run before any heavy work, so that a bad file or a class too small for
the folds is reported up front, named, instead of failing hours later.
"""

import os
import numpy as np


def check_audio_files(filenames, *, n_jobs=None):
    """Decode every file once, with the rule :class:`~sklearn_rbfm.AudioLoader` applies.

    Parameters
    ----------
    filenames : sequence of str
        Paths of the audio files.
    n_jobs : int, default=None
        Files decoded in parallel, as in :class:`~sklearn_rbfm.AudioLoader`.

    Returns
    -------
    durations : ndarray of float, shape (n_files,)
        Length of each file in seconds.

    Raises
    ------
    FileNotFoundError
        Some files do not exist; the message counts them and names the first.
    ValueError
        Some files cannot be read (empty, truncated, not audio, non-finite
        samples, no samples); the message names them with the reason.

    Examples
    --------
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> from sklearn_rbfm.datasets._checks import check_audio_files
    >>> data = load_fsdd_sample()
    >>> check_audio_files(data.filenames[:3]).round(2).tolist()
    [0.3, 0.59, 0.67]
    """
    import soundfile as sf
    from joblib import Parallel, delayed

    from .._loader import audio_duration, read_audio

    filenames = [os.fspath(f) for f in filenames]
    missing = [f for f in filenames if not os.path.isfile(f)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(filenames)} audio files do not exist, e.g. "
            f"{', '.join(missing[:3])}; fix the paths or remove those entries."
        )

    def _check(path):
        # the file's own rate: nothing is resampled, only the reader's
        # rules (truncated, empty, not audio, non-finite) are applied
        try:
            # the header check names an empty or non-audio file first
            audio_duration(path)
            rate = sf.info(path).samplerate
            return len(read_audio(path, sr=rate)) / rate, None
        except (ValueError, RuntimeError, sf.LibsndfileError) as exc:
            return np.nan, str(exc)

    results = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_check)(path) for path in filenames)
    durations = np.array([d for d, _ in results], dtype=float)
    skipped = [(i, reason) for i, (_, reason) in enumerate(results) if reason]
    if skipped:
        skipped.sort()
        raise ValueError(
            f"{len(skipped)} of {len(filenames)} files are not readable audio: "
            + "; ".join(reason for _, reason in skipped[:3])
            + ("; ..." if len(skipped) > 3 else "")
            + " Replace or remove them."
        )
    return durations


def _needed(n_folds, inner):
    """Fewest units of a class so that each of ``n_folds`` stratified outer
    folds gets one and every outer training part keeps ``inner``.

    Stratified folds spread a class evenly, so a test fold holds at most
    ``ceil(c / n_folds)`` of its ``c`` units.
    """
    c = n_folds
    while c - -(-c // n_folds) < inner:
        c += 1
    return c


def check_nested_cv(y, groups=None, *, n_folds, inner_folds):
    """Refuse labels too few for outer folds plus an inner fit/dev split.

    The protocol checked: ``n_folds`` stratified outer folds (by group when
    ``groups`` is given), then each outer training part split again,
    stratified, into ``inner_folds`` parts of which one is the development
    part. Every class needs ``inner_folds`` clips in every outer training
    part (stratified folds hold each class evenly, so this is exact without
    groups); with groups, every class also needs two groups there (one to
    fit on, one to develop on). With groups these are necessary conditions
    only: grouped folds cannot always be balanced.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    groups : array-like of shape (n_samples,), default=None
        Group of each sample (speaker, recording).
    n_folds : int
        Outer folds.
    inner_folds : int
        Folds of the inner split (4 for a 25% development part).

    Raises
    ------
    ValueError
        Naming the class, its count and the count needed.

    Examples
    --------
    >>> from sklearn_rbfm.datasets._checks import check_nested_cv
    >>> check_nested_cv(["a"] * 8 + ["b"] * 8, n_folds=2, inner_folds=4)
    >>> check_nested_cv(["a"] * 8 + ["b"] * 5, n_folds=2, inner_folds=4)
    Traceback (most recent call last):
    ...
    ValueError: class 'b' has 5 clips, too few for 2 outer folds and an inner split in 4: each class needs at least 8 (an outer training part keeps only 2 of the 5 clips of 'b', the inner split needs 4 of each class).
    """
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    if groups is not None:
        groups = np.asarray(groups)
        n_groups = len(np.unique(groups))
        need = _needed(n_folds, 2)
        if n_groups < need:
            raise ValueError(
                f"the data holds {n_groups} group(s), too few for {n_folds} outer "
                f"folds and an inner fit/development split: at least {need} "
                "are needed (each outer training part must keep two)."
            )
        for name in classes:
            g = len(np.unique(groups[y == name]))
            if g < need:
                raise ValueError(
                    f"class {name!r} occurs in {g} group(s), too few for "
                    f"{n_folds} outer folds and an inner fit/development "
                    f"split: each class needs at least {need} groups (one per "
                    "outer test fold, two in every outer training part)."
                )
        # a grouped inner split has no more folds than its part has groups
        inner_folds = min(inner_folds, n_groups - -(-n_groups // n_folds))
    need = _needed(n_folds, inner_folds)
    worst = counts.argmin()
    if counts[worst] < need:
        c = counts[worst]
        kept = c - -(-c // n_folds)
        raise ValueError(
            f"class {classes[worst]!r} has {c} clips, too few for {n_folds} "
            f"outer folds and an inner split in {inner_folds}: each class "
            f"needs at least {need} (an outer training part keeps only "
            f"{kept} of the {c} clips of {classes[worst]!r}, the inner split "
            f"needs {inner_folds} of each class)."
        )
