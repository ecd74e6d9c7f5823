"""Loaders that list audio files with their labels and groups (no decoding)."""

import csv
import io
import json
import os
import re
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aif", ".aiff")


def _label_order(labels):
    """Sorted class names; numerically when every label is an integer."""
    names = sorted(set(labels))
    if all(re.fullmatch(r"-?\d+", name) for name in names):
        names.sort(key=int)
    return np.asarray(names, dtype=object)


def _bunch(filenames, labels, groups, descr, target_names=None, **extra):
    target_names = _label_order(labels) if target_names is None else target_names
    index = {name: i for i, name in enumerate(target_names)}
    return Bunch(
        filenames=np.asarray(filenames, dtype=object),
        target=np.asarray([index[label] for label in labels], dtype=int),
        target_names=np.asarray(target_names, dtype=object),
        groups=np.asarray(groups),
        DESCR=descr,
        **extra,
    )


def _read_csv(path, required):
    """Rows of a label CSV as ``(line, row)``, cells stripped of spaces.

    A UTF-8 byte-order mark (as spreadsheet programs write) is accepted; any
    other encoding is refused rather than guessed, since a wrong guess turns
    accented labels into other, silently distinct classes.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{path}: not UTF-8 text (byte {raw[exc.start]:#04x} on line "
            f"{line}); save the label file as UTF-8 (e.g. Latin-1 files: "
            "iconv -f latin1 -t utf-8)."
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [c for c in required if c not in columns]
    if missing:
        raise ValueError(
            f"{path}: needs the columns {', '.join(required)}; missing "
            f"{', '.join(missing)} (found: {', '.join(columns) or 'none'})."
        )
    rows = []
    for row in reader:
        short = [c for c in columns if row.get(c) is None]
        if short:
            raise ValueError(
                f"{path}, line {reader.line_num}: {len(columns) - len(short)} "
                f"cells for {len(columns)} columns; no {', '.join(short)}."
            )
        rows.append((reader.line_num, {c: row[c].strip() for c in columns}))
    if not rows:
        raise ValueError(f"{path}: no rows below the header.")
    return rows


def _check_filled(path, rows, columns):
    """Refuse empty cells: an empty label would become a class of its own."""
    for line, row in rows:
        for column in columns:
            if not row[column]:
                raise ValueError(
                    f"{path}, line {line}: empty {column!r} cell; fill it in "
                    "or remove the row."
                )


def _check_exists(path, origin):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: listed in {origin} but not found.")


def _check_unique(filenames, labels, where, origin, fix="remove one of the rows"):
    """Refuse the same audio file listed twice (path, link or ``./`` alias).

    Listed twice, a file can land on both sides of a split (an optimistic
    score); with two labels it contradicts itself. Dropping one copy would
    pick a label or a row for the user, so both are errors.
    """
    seen = {}
    for i, name in enumerate(filenames):
        st = os.stat(name)
        first = seen.setdefault((st.st_dev, st.st_ino), i)
        if first != i:
            labelled = (
                f"labels {labels[first]!r} and {labels[i]!r}"
                if labels[first] != labels[i]
                else f"label {labels[i]!r} both times"
            )
            raise ValueError(
                f"{origin}: {where[first]} and {where[i]} are the same audio "
                f"file ({labelled}); each file may appear once: {fix}."
            )


def load_audio_folder(root, labels="labels.csv"):
    """List the audio files of a folder with their labels.

    Two layouts are understood. With a CSV file ``labels`` (``path,label``,
    paths relative to ``root``; an optional ``speaker`` or ``group`` column
    fills ``groups``), the CSV decides. Without it, every sub-folder of
    ``root`` is a class and holds that class's audio files.

    The CSV must be UTF-8 (a byte-order mark is fine); spaces around cells
    are dropped. An empty path, label or group cell, or one audio file
    listed twice (under any path or link, with any labels), is an error
    naming the lines: it would make a class ``''`` or put one clip on both
    sides of a split.

    Parameters
    ----------
    root : str or path-like
        The dataset folder.
    labels : str, path-like or None, default='labels.csv'
        The label CSV, relative to ``root`` or absolute. None ignores any CSV
        and reads the sub-folder layout, as does the default name when no
        such file exists; any other name must exist.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        filenames : ndarray of str, shape (n_files,)
            Absolute paths, ready for :class:`~sklearn_rbfm.AudioLoader`.
        target : ndarray of int, shape (n_files,)
            Index of each file's label in ``target_names``.
        target_names : ndarray of str
            Class names, sorted (numerically when all are integers).
        groups : ndarray of shape (n_files,)
            The ``speaker`` or ``group`` column when present; otherwise each
            file is its own group (row index).
        DESCR : str
            Where the data came from.

    Examples
    --------
    >>> from importlib import resources
    >>> from sklearn_rbfm.datasets import load_audio_folder
    >>> root = resources.files("sklearn_rbfm.datasets") / "data" / "fsdd_sample"
    >>> data = load_audio_folder(root)
    >>> data.filenames.shape, data.target_names.tolist()[:3]
    ((300,), ['0', '1', '2'])
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such dataset folder.")
    csv_path = None if labels is None else root / labels
    if csv_path is not None and csv_path.is_file():
        rows = _read_csv(csv_path, ("path", "label"))
        group_column = next(
            (c for c in ("speaker", "group") if c in rows[0][1]), None
        )
        required = ("path", "label") + ((group_column,) if group_column else ())
        _check_filled(csv_path, rows, required)
        filenames = [str(root / row["path"]) for _, row in rows]
        for f in filenames:
            _check_exists(f, csv_path)
        labels_ = [row["label"] for _, row in rows]
        where = [f"line {line} ({row['path']})" for line, row in rows]
        _check_unique(filenames, labels_, where, csv_path)
        groups = (
            [row[group_column] for _, row in rows]
            if group_column
            else np.arange(len(rows))
        )
        descr = f"Audio files listed in {csv_path}."
        return _bunch(filenames, labels_, groups, descr)
    if csv_path is not None and os.fspath(labels) != "labels.csv":
        # only the default name may be absent: a named label file that is
        # missing must not fall back to the sub-folder layout unnoticed
        raise FileNotFoundError(f"{csv_path}: no such label file.")
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    filenames, labels_ = [], []
    for folder in classes:
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() in AUDIO_EXTENSIONS:
                filenames.append(str(f))
                labels_.append(folder.name)
    if not filenames:
        where = f"no {labels} and " if labels is not None else ""
        raise ValueError(
            f"{root}: {where}no class sub-folders with audio files "
            f"({', '.join(AUDIO_EXTENSIONS)}). Give a CSV with path,label "
            "columns, or one sub-folder per class."
        )
    _check_unique(
        filenames,
        labels_,
        [os.path.relpath(f, root) for f in filenames],
        root,
        "keep one copy (a link counts as a copy)",
    )
    return _bunch(
        filenames,
        labels_,
        np.arange(len(filenames)),
        f"Audio files of {root}, one sub-folder per class.",
    )


def load_fsdd_sample():
    """Load the sample of the Free Spoken Digit Dataset bundled with the package.

    300 real recordings (8 kHz, mono, 0.14-1.15 s): the digits 0-9 spoken by
    each of FSDD's 6 speakers, 5 takes each. Licensed CC BY-SA 4.0; the
    attribution and licence text sit beside the files (``README.md``,
    ``LICENSE``) and in ``DESCR``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        filenames : ndarray of str, shape (300,)
            Absolute paths of the WAV files.
        target : ndarray of int, shape (300,)
            The spoken digit.
        target_names : ndarray of str, shape (10,)
            ``'0'`` to ``'9'``.
        groups : ndarray of str, shape (300,)
            The speaker: split with :class:`~sklearn.model_selection.GroupKFold`
            on it to measure generalisation to new voices.
        sr : int
            8000, the files' sampling rate.
        DESCR : str
            The sample's description, attribution and licence.

    Examples
    --------
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> data = load_fsdd_sample()
    >>> len(data.filenames), sorted(set(data.groups))[:2], data.sr
    (300, ['george', 'jackson'], 8000)
    """
    root = resources.files("sklearn_rbfm.datasets") / "data" / "fsdd_sample"
    data = load_audio_folder(root)
    data.DESCR = (root / "README.md").read_text(encoding="utf-8")
    data.sr = 8000
    return data


_ORCA_NAMES = np.asarray(["noise", "orca"], dtype=object)


def load_compare_orca(root, subset="train", *, split_channels=False):
    r"""List the ComParE 2019 Orca Activity files of one subset.

    The layout is the challenge's: ``root/wav/`` holds ``{subset}_NNNN.wav``
    and ``root/lab/`` the labels, either one CSV per subset
    (``lab/{subset}.csv``) or one ``lab/labels.csv`` for all, with columns
    ``file_name,label``; labels are ``orca``, ``noise``, or ``?`` for the
    unlabelled test files.

    Parameters
    ----------
    root : str or path-like
        The corpus folder (holding ``wav/`` and ``lab/``).
    subset : {'train', 'devel', 'test'}, default='train'
        Which subset to list.
    split_channels : bool, default=False
        Turn each multi-channel file into one sample per channel (more
        training samples from multi-hydrophone recordings). ``groups`` then
        ties the channels of one file together, so that
        :class:`~sklearn.model_selection.GroupKFold` never splits a
        recording, and ``channels`` says which channel each sample is; pass
        ``np.column_stack([data.filenames, data.channels])`` to
        :class:`~sklearn_rbfm.AudioLoader` to read them.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        filenames : ndarray of str, shape (n_samples,)
            Absolute paths (repeated per channel with ``split_channels``).
        target : ndarray of int, shape (n_samples,)
            1 for ``orca``, 0 for ``noise``, -1 where unknown (test).
        target_names : ndarray of str
            ``['noise', 'orca']``.
        groups : ndarray of int, shape (n_samples,)
            Index of the file each sample comes from.
        channels : ndarray of int, shape (n_samples,)
            Channel of each sample; only with ``split_channels=True``.
        DESCR : str
            What was loaded.

    Examples
    --------
    A two-file corpus in the challenge's layout, the second file in stereo:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from sklearn_rbfm.datasets import load_compare_orca
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name)
    >>> (root / "wav").mkdir()
    >>> (root / "lab").mkdir()
    >>> sf.write(root / "wav" / "train_0001.wav", np.zeros(800), 8000)
    >>> sf.write(root / "wav" / "train_0002.wav", np.zeros((800, 2)), 8000)
    >>> _ = (root / "lab" / "train.csv").write_text(
    ...     "file_name,label\ntrain_0001.wav,orca\ntrain_0002.wav,noise\n")
    >>> data = load_compare_orca(root, "train", split_channels=True)
    >>> data.target.tolist(), data.groups.tolist(), data.channels.tolist()
    ([1, 0, 0], [0, 1, 1], [0, 0, 1])
    >>> tmp.cleanup()
    """
    if subset not in ("train", "devel", "test"):
        raise ValueError(
            f"subset must be 'train', 'devel' or 'test'; got {subset!r}."
        )
    root = Path(root).resolve()
    lab = root / "lab"
    per_subset, shared = lab / f"{subset}.csv", lab / "labels.csv"
    if per_subset.is_file():
        csv_path, rows = per_subset, _read_csv(per_subset, ("file_name", "label"))
    elif shared.is_file():
        csv_path = shared
        rows = [
            (line, row)
            for line, row in _read_csv(shared, ("file_name", "label"))
            if row["file_name"].startswith(f"{subset}_")
        ]
    else:
        raise FileNotFoundError(
            f"{root}: no label file; expected {per_subset} or {shared} "
            "(the ComParE 2019 Orca Activity layout: wav/ and lab/)."
        )
    if not rows:
        raise ValueError(f"{csv_path}: no files of subset {subset!r}.")
    _check_filled(csv_path, rows, ("file_name",))
    filenames, target = [], []
    codes = {"noise": 0, "orca": 1, "?": -1}
    for line, row in rows:
        label = row["label"].lower()
        if label not in codes:
            raise ValueError(
                f"{csv_path}, line {line} ({row['file_name']}): "
                f"label {row['label']!r} is none of 'orca', 'noise', '?'."
            )
        path = str(root / "wav" / row["file_name"])
        _check_exists(path, csv_path)
        filenames.append(path)
        target.append(codes[label])
    where = [f"line {line} ({row['file_name']})" for line, row in rows]
    _check_unique(filenames, [row["label"] for _, row in rows], where, csv_path)
    groups = np.arange(len(filenames))
    extra = {}
    if split_channels:
        import soundfile as sf

        n_channels = [sf.info(path).channels for path in filenames]
        keep = np.repeat(np.arange(len(filenames)), n_channels)
        filenames = [filenames[i] for i in keep]
        target = [target[i] for i in keep]
        groups = keep
        extra["channels"] = np.concatenate([np.arange(n) for n in n_channels])
    descr = (
        f"ComParE 2019 Orca Activity, subset {subset!r}: {len(set(groups))} "
        f"files from {root}"
        + (f", {len(groups)} samples (one per channel)." if split_channels else ".")
    )
    return Bunch(
        filenames=np.asarray(filenames, dtype=object),
        target=np.asarray(target, dtype=int),
        target_names=_ORCA_NAMES.copy(),
        groups=np.asarray(groups),
        DESCR=descr,
        **extra,
    )


_AUDIOMNIST_NAME = re.compile(r"(\d)_(\d+)_(\d+)\.wav")


def load_audiomnist(root, target="digit"):
    """List the AudioMNIST recordings with digit or sex labels.

    The layout is the published one: ``root/data/NN/{digit}_{speaker}_
    {index}.wav`` with one folder per speaker, and the speaker metadata
    ``audioMNIST_meta.txt`` (a JSON object keyed by speaker id, each with a
    ``gender`` field) in ``root/data/`` or ``root``. Digit labels come from
    the file names alone; only ``target='sex'`` reads the metadata.

    Parameters
    ----------
    root : str or path-like
        The AudioMNIST folder (holding ``data/``).
    target : {'digit', 'sex'}, default='digit'
        The task: the spoken digit, or the speaker's sex.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        filenames : ndarray of str, shape (n_files,)
            Absolute paths, sorted.
        target : ndarray of int, shape (n_files,)
            The digit, or the index of the sex in ``target_names``.
        target_names : ndarray of str
            ``'0'`` to ``'9'``, or ``['female', 'male']``.
        groups : ndarray of int, shape (n_files,)
            The speaker id: keep speakers apart across folds, as the
            AudioMNIST paper does.
        DESCR : str
            What was loaded.

    Examples
    --------
    Two speakers saying "7", in AudioMNIST's layout:

    >>> import json
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from sklearn_rbfm.datasets import load_audiomnist
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name)
    >>> for speaker in ("01", "02"):
    ...     (root / "data" / speaker).mkdir(parents=True)
    ...     sf.write(root / "data" / speaker / f"7_{speaker}_0.wav", np.zeros(800), 8000)
    >>> meta = {"01": {"gender": "male"}, "02": {"gender": "female"}}
    >>> _ = (root / "data" / "audioMNIST_meta.txt").write_text(json.dumps(meta))
    >>> load_audiomnist(root).target.tolist()
    [7, 7]
    >>> data = load_audiomnist(root, target="sex")
    >>> data.target_names[data.target].tolist(), data.groups.tolist()
    (['male', 'female'], [1, 2])
    >>> tmp.cleanup()
    """
    if target not in ("digit", "sex"):
        raise ValueError(f"target must be 'digit' or 'sex'; got {target!r}.")
    root = Path(root).resolve()
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"{data_dir}: not found; expected AudioMNIST's layout "
            "root/data/NN/digit_speaker_index.wav."
        )
    filenames, digits, speakers = [], [], []
    for path in sorted(data_dir.glob("*/*.wav")):
        match = _AUDIOMNIST_NAME.fullmatch(path.name)
        if match is None:
            raise ValueError(
                f"{path}: not an AudioMNIST file name (digit_speaker_index.wav)."
            )
        filenames.append(str(path))
        digits.append(match.group(1))
        speakers.append(int(match.group(2)))
    if not filenames:
        raise ValueError(f"{data_dir}: no .wav files in its speaker folders.")
    _check_unique(
        filenames,
        digits,
        [os.path.relpath(f, data_dir) for f in filenames],
        data_dir,
        "keep one copy (a link counts as a copy)",
    )
    descr = f"AudioMNIST from {root}: {len(filenames)} recordings, " \
            f"{len(set(speakers))} speakers, target={target!r}."
    if target == "digit":
        names = np.asarray([str(d) for d in range(10)], dtype=object)
        return _bunch(filenames, digits, speakers, descr, target_names=names)
    meta_path = next(
        (p for p in (data_dir / "audioMNIST_meta.txt", root / "audioMNIST_meta.txt")
         if p.is_file()),
        None,
    )
    if meta_path is None:
        raise FileNotFoundError(
            f"target='sex' needs AudioMNIST's speaker metadata; put "
            f"audioMNIST_meta.txt in {data_dir} or {root}."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{meta_path}: not UTF-8 JSON ({exc}); AudioMNIST's metadata is a "
            "JSON object keyed by speaker id."
        ) from None
    if not isinstance(meta, dict):
        raise ValueError(
            f"{meta_path}: holds a JSON {type(meta).__name__}; AudioMNIST's "
            "metadata is a JSON object keyed by speaker id."
        )
    sexes = []
    for path, speaker in zip(filenames, speakers):
        entry = meta.get(f"{speaker:02d}", meta.get(str(speaker)))
        sex = (
            str(entry.get("gender", "")).strip().lower()
            if isinstance(entry, dict)
            else ""
        )
        if sex not in ("female", "male"):
            raise ValueError(
                f"{meta_path}: speaker {speaker:02d} (of {path}) has no "
                "'gender' of 'female' or 'male'."
            )
        sexes.append(sex)
    names = np.asarray(["female", "male"], dtype=object)
    return _bunch(filenames, sexes, speakers, descr, target_names=names)
