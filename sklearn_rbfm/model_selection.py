"""Speaker-disjoint cross-validation: the AudioMNIST protocol of Becker et al."""

from numbers import Integral

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

__all__ = ["SpeakerRotationSplit", "AUDIOMNIST_SPEAKER_FOLDS"]

# The published AudioMNIST folds (github.com/soerenab/AudioMNIST, splits.py),
# as parts P_0.. of the rotation: fold i tests P_i and validates on P_(i-1).
# Digit task: 5 parts of 12 of the 60 speakers (36/12/12); sex task: 4 parts
# of 6 of 24 speakers, 3 female and 3 male each (12/6/6).
AUDIOMNIST_SPEAKER_FOLDS = {
    "digit": (
        (26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51),
        (28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53),
        (36, 57, 9, 24, 37, 2, 8, 17, 29, 39, 48, 54),
        (43, 58, 14, 25, 38, 3, 10, 20, 30, 40, 49, 55),
        (12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50),
    ),
    "sex": (
        (58, 59, 60, 7, 23, 38),
        (36, 47, 56, 2, 44, 50),
        (26, 12, 57, 25, 37, 45),
        (43, 28, 52, 48, 53, 41),
    ),
}


class SpeakerRotationSplit(BaseCrossValidator):
    """Speaker-disjoint folds with a rotating test and validation part.

    The speakers (``groups``) are divided into ``n_splits`` disjoint parts.
    Fold ``i`` tests on part ``i``, keeps part ``i - 1`` for validation
    (early stopping, model selection), and trains on the others -- the
    protocol of AudioMNIST (Becker et al., 2018): with 60 speakers and 5
    parts, 36/12/12 speakers for the digit task; with 24 speakers balanced
    by sex and 4 parts, 12/6/6 for the sex task.

    :meth:`split` yields ``(train, test)`` like every scikit-learn splitter
    (the validation speakers are in neither, unless
    ``validation=False``); :meth:`split_with_validation` yields
    ``(train, validation, test)``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of parts and folds (at least 3 with validation, else 2).
        Ignored when ``speaker_folds`` is given.

    speaker_folds : {"audiomnist_digit", "audiomnist_sex"}, sequence of sequences or None, default=None
        Fixed parts: lists of speaker ids, or AudioMNIST's published ones
        (speakers numbered 1..60). Samples of speakers in no part are left
        out of every fold. None builds the parts from ``groups``.

    stratify : bool, default=False
        Deal the speakers of each class (``y`` must be constant per
        speaker, e.g. sex) evenly over the parts.

    balance : bool, default=False
        Use as many speakers of every class as the rarest class has (e.g.
        the 12 female and 12 of the 48 male AudioMNIST speakers); the
        others are left out. Implies ``stratify``.

    validation : bool, default=True
        Hold part ``i - 1`` out of training. False trains on every part but
        the test part.

    shuffle : bool, default=False
        Shuffle the speakers before dividing them (else sorted order).

    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.model_selection import SpeakerRotationSplit
    >>> groups = np.repeat(np.arange(1, 61), 5)  # 60 speakers, 5 clips each
    >>> cv = SpeakerRotationSplit(speaker_folds="audiomnist_digit")
    >>> train, val, test = next(cv.split_with_validation(groups=groups))
    >>> [len(np.unique(groups[idx])) for idx in (train, val, test)]
    [36, 12, 12]
    >>> cv.get_n_splits()
    5
    """

    def __init__(
        self,
        n_splits=5,
        *,
        speaker_folds=None,
        stratify=False,
        balance=False,
        validation=True,
        shuffle=False,
        random_state=None,
    ):
        self.n_splits = n_splits
        self.speaker_folds = speaker_folds
        self.stratify = stratify
        self.balance = balance
        self.validation = validation
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored, for API compatibility.

        Returns
        -------
        n_splits : int
            Number of folds.
        """
        folds = self._preset()
        return len(folds) if folds is not None else int(self.n_splits)

    def split(self, X=None, y=None, groups=None):
        """Yield train and test indices of each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Only its length is used (``groups`` gives it when None).
        y : array-like of shape (n_samples,) or None
            Labels; needed with ``stratify`` or ``balance``.
        groups : array-like of shape (n_samples,)
            Speaker of each sample.

        Yields
        ------
        train, test : ndarray
            Indices of the training and test samples.
        """
        for train, _, test in self.split_with_validation(X, y, groups):
            yield train, test

    def split_with_validation(self, X=None, y=None, groups=None):
        """Yield train, validation and test indices of each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Only its length is used (``groups`` gives it when None).
        y : array-like of shape (n_samples,) or None
            Labels; needed with ``stratify`` or ``balance``.
        groups : array-like of shape (n_samples,)
            Speaker of each sample.

        Yields
        ------
        train, validation, test : ndarray
            Indices of each part of the fold (validation is empty when
            ``validation=False``).
        """
        if groups is None:
            raise ValueError(
                "The 'groups' parameter should not be None: pass the speaker "
                "of each sample."
            )
        groups = _speaker_ids(np.asarray(groups))
        n_samples = None if X is None else (X.shape[0] if hasattr(X, "shape") else len(X))
        if X is not None and n_samples != len(groups):
            raise ValueError(
                f"X has {n_samples} samples but groups has {len(groups)}."
            )
        parts = self._parts(groups, y)
        part_of = np.full(len(groups), -1)
        for k, speakers in enumerate(parts):
            part_of[np.isin(groups, list(speakers))] = k
        n_parts = len(parts)
        for i in range(n_parts):
            val_part = (i - 1) % n_parts if self.validation else -2
            test = np.flatnonzero(part_of == i)
            val = np.flatnonzero(part_of == val_part)
            train = np.flatnonzero(
                (part_of >= 0) & (part_of != i) & (part_of != val_part)
            )
            yield train, val, test

    def _iter_test_indices(self, X=None, y=None, groups=None):
        for _, _, test in self.split_with_validation(X, y, groups):
            yield test

    def _preset(self):
        folds = self.speaker_folds
        if folds is None:
            return None
        if isinstance(folds, str):
            key = folds.removeprefix("audiomnist_")
            if not folds.startswith("audiomnist_") or key not in AUDIOMNIST_SPEAKER_FOLDS:
                raise ValueError(
                    "speaker_folds must be 'audiomnist_digit', 'audiomnist_sex', "
                    f"a sequence of speaker lists or None, got {folds!r}."
                )
            return [list(part) for part in AUDIOMNIST_SPEAKER_FOLDS[key]]
        return [list(_speaker_ids(np.asarray(part))) for part in folds]

    def _parts(self, groups, y):
        minimum = 3 if self.validation else 2
        preset = self._preset()
        if preset is not None:
            if len(preset) < minimum:
                raise ValueError(
                    f"speaker_folds needs at least {minimum} parts, got {len(preset)}."
                )
            seen = np.concatenate([np.asarray(p, dtype=object) for p in preset])
            if len(set(seen.tolist())) != len(seen):
                raise ValueError("speaker_folds lists a speaker in two parts.")
            return preset
        if not isinstance(self.n_splits, Integral) or self.n_splits < minimum:
            raise ValueError(
                f"n_splits must be an int >= {minimum} "
                f"({'with' if self.validation else 'without'} validation), "
                f"got {self.n_splits!r}."
            )
        speakers = np.unique(groups)
        rng = check_random_state(self.random_state)
        if self.stratify or self.balance:
            classes = _speaker_classes(groups, y, speakers)
            pools = [speakers[classes == c] for c in np.unique(classes)]
        else:
            pools = [speakers]
        if self.shuffle:
            pools = [rng.permutation(pool) for pool in pools]
        if self.balance:
            size = min(len(pool) for pool in pools)
            pools = [pool[:size] for pool in pools]
        n_speakers = sum(len(pool) for pool in pools)
        if n_speakers < self.n_splits:
            raise ValueError(
                f"Cannot split {n_speakers} speakers into n_splits={self.n_splits} "
                "speaker-disjoint parts; lower n_splits."
            )
        parts = [[] for _ in range(self.n_splits)]
        dealt = 0
        for pool in pools:
            for speaker in pool:
                parts[dealt % self.n_splits].append(speaker)
                dealt += 1
        return parts


def _speaker_ids(groups):
    # AudioMNIST names speakers "01".."60"; compare them as numbers.
    if groups.dtype.kind in "OUS":
        text = groups.astype(str)
        if np.char.isdigit(text).all():
            return text.astype(np.int64)
    return groups


def _speaker_classes(groups, y, speakers):
    if y is None:
        raise ValueError("stratify and balance need y (e.g. the speakers' sex).")
    y = np.asarray(y)
    if len(y) != len(groups):
        raise ValueError(f"y has {len(y)} labels but groups has {len(groups)}.")
    classes = []
    for speaker in speakers:
        labels = np.unique(y[groups == speaker])
        if len(labels) != 1:
            raise ValueError(
                f"Speaker {speaker!r} has samples of classes {labels.tolist()!r}; "
                "stratify and balance need one class per speaker (e.g. sex), "
                "not per sample (e.g. digit)."
            )
        classes.append(labels[0])
    return np.asarray(classes)
