"""Annotation tables of long recordings, and training clips cut from them.

Two formats are read: CSV files of ``filename,start,end`` (optional label;
the column-name variants of the ketos / MERIDIAN benchmarks and of common
exports are recognised) and Raven Pro selection tables, either one per
recording or one for several recordings with a ``Begin File`` column.
"""

import csv
import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["clips_from_annotations", "read_annotations"]

# lower-cased column names -> role
_FILE_COLUMNS = ("filename", "file", "file_name", "recording", "audio_file",
                 "sound_file", "path", "begin file", "begin path")
_START_COLUMNS = ("start", "start_s", "start_time", "begin", "begin_time",
                  "onset", "t_start", "begin time (s)", "file offset (s)")
_END_COLUMNS = ("end", "end_s", "end_time", "stop", "offset", "t_end",
                "end time (s)")
_LABEL_COLUMNS = ("label", "class", "annotation", "species", "call_type",
                  "sound_id")


def _pick(columns, names):
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read_table(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        text = fh.read()
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    return reader.fieldnames or [], list(reader)


def _number(value, path, line, column):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{path}, line {line}: column {column!r} holds {value!r}, not a "
            "number of seconds."
        ) from None
    if not np.isfinite(number):
        raise ValueError(f"{path}, line {line}: column {column!r} is {value!r}.")
    return number


def _recording_of_table(path, recordings):
    """The recording a per-recording Raven table belongs to, from its name."""
    table = os.path.basename(path)
    matches = [r for r in recordings
               if table.startswith(os.path.splitext(os.path.basename(r))[0] + ".")]
    if len(matches) != 1:
        raise ValueError(
            f"{path}: a Raven table without a 'Begin File' column belongs to "
            "one recording, named by the table's file name (e.g. "
            "'rec1.Table.1.selections.txt' for 'rec1.wav'); "
            + ("no recording given matches it." if not matches else
               f"several match: {matches}.")
        )
    return os.path.basename(matches[0])


def read_annotations(tables, *, recordings=None, label_column=None):
    """Read annotation tables: CSV ``filename,start,end[,label]`` or Raven tables.

    Parameters
    ----------
    tables : str, path-like or list of them
        The tables. A CSV needs a file, a start and an end column (names such
        as ``filename``/``file``/``recording``, ``start``/``begin``/
        ``start_s``, ``end``/``stop``/``end_s``, any case). A Raven selection
        table (tab-separated, ``Begin Time (s)`` and ``End Time (s)``) either
        has a ``Begin File`` column (times are then read from ``File Offset
        (s)`` when present) or belongs to the recording its name starts with.
        Raven's duplicate rows of one selection (one per view) count once.
    recordings : list of str, default=None
        The recordings, needed for per-recording Raven tables.
    label_column : str, default=None
        Column holding each annotation's label; by default ``label``,
        ``class``, ``annotation``, ``species``... when present, else every
        annotation is labelled ``"call"``.

    Returns
    -------
    annotations : list of dict
        ``recording`` (file name as written in the table), ``start_s``,
        ``end_s``, ``label``, ``source`` (table and line).

    Raises
    ------
    ValueError
        If a table is in neither format, or a row has ``end <= start``, a
        negative start or a non-numeric time; the message names the table and
        the line.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_rbfm.datasets import read_annotations
    >>> path = os.path.join(tempfile.mkdtemp(), "calls.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("Filename,Start,End,Label\\nrec1.wav,1.5,2.0,whistle\\n")
    >>> [(a["recording"], a["start_s"], a["end_s"], a["label"])
    ...  for a in read_annotations(path)]
    [('rec1.wav', 1.5, 2.0, 'whistle')]
    """
    if isinstance(tables, (str, os.PathLike)):
        tables = [tables]
    annotations = []
    for table in tables:
        table = os.fspath(table)
        if not os.path.isfile(table):
            raise FileNotFoundError(f"annotation table {table!r} does not exist.")
        columns, rows = _read_table(table)
        raven = _pick(columns, ("begin time (s)",)) is not None
        if raven:
            file_col = _pick(columns, ("begin file", "begin path"))
            start_col = _pick(columns, ("begin time (s)",))
            end_col = _pick(columns, ("end time (s)",))
            offset_col = _pick(columns, ("file offset (s)",)) if file_col else None
            fixed = None if file_col else _recording_of_table(table, recordings or [])
        else:
            file_col = _pick(columns, _FILE_COLUMNS)
            start_col = _pick(columns, _START_COLUMNS)
            end_col = _pick(columns, _END_COLUMNS)
            offset_col, fixed = None, None
        if end_col is None or start_col is None or (file_col is None and fixed is None):
            raise ValueError(
                f"{table}: neither a CSV of filename,start,end nor a Raven "
                f"selection table (columns found: {columns}). Name the "
                "columns filename, start and end (seconds), or export a Raven "
                "table with 'Begin Time (s)' and 'End Time (s)'."
            )
        label_col = (label_column if label_column is not None
                     else _pick(columns, _LABEL_COLUMNS))
        if label_col is not None and label_col not in columns:
            raise ValueError(
                f"{table}: label_column={label_col!r} is not a column "
                f"({columns}).")
        selection_col = _pick(columns, ("selection",)) if raven else None
        seen = set()
        for line, row in enumerate(rows, start=2):
            if selection_col is not None:
                if row[selection_col] in seen:
                    continue
                seen.add(row[selection_col])
            start = _number(row[start_col], table, line, start_col)
            end = _number(row[end_col], table, line, end_col)
            if offset_col is not None:
                offset = _number(row[offset_col], table, line, offset_col)
                start, end = offset, offset + (end - start)
            if end <= start:
                raise ValueError(
                    f"{table}, line {line}: end ({end:g} s) is not after start "
                    f"({start:g} s); fix or delete the row."
                )
            if start < 0:
                raise ValueError(f"{table}, line {line}: start {start:g} s is negative.")
            recording = fixed if fixed is not None else (row[file_col] or "").strip()
            if not recording:
                raise ValueError(f"{table}, line {line}: the file column is empty.")
            label = (row[label_col] or "").strip() if label_col else "call"
            if not label:
                raise ValueError(f"{table}, line {line}: the label is empty.")
            annotations.append({"recording": recording, "start_s": start,
                                "end_s": end, "label": label,
                                "source": f"{table}, line {line}"})
    return annotations


def match_recordings(annotations, recordings, *, unknown="raise"):
    """Map each annotation to one of ``recordings`` (by path, else by file name).

    Returns a dict recording -> list of annotations. An annotation naming no
    recording is an error naming its table and line (``unknown='raise'``) or
    is left out (``unknown='ignore'``).
    """
    by_path = {os.path.normpath(r): r for r in recordings}
    by_name = {}
    for r in recordings:
        by_name.setdefault(os.path.basename(r), []).append(r)
    matched = {r: [] for r in recordings}
    for a in annotations:
        name = a["recording"]
        target = by_path.get(os.path.normpath(name))
        if target is None:
            candidates = by_name.get(os.path.basename(name.replace("\\", "/")), [])
            if len(candidates) > 1:
                raise ValueError(
                    f"{a['source']}: {name!r} matches several recordings "
                    f"({candidates}); write the paths in the table.")
            target = candidates[0] if candidates else None
        if target is None:
            if unknown == "raise":
                raise ValueError(
                    f"{a['source']}: unknown file {name!r}, not among the "
                    f"{len(recordings)} recordings given (e.g. "
                    f"{os.path.basename(recordings[0]) if recordings else 'none'})."
                )
            continue
        matched[target].append(a)
    return matched


def check_within(annotations, duration, recording):
    """Refuse an annotation ending after its recording (``duration`` seconds)."""
    for a in annotations:
        if a["end_s"] > duration + 1e-6:
            raise ValueError(
                f"{a['source']}: annotation {a['start_s']:g}-{a['end_s']:g} s "
                f"ends after its recording {recording!r} ({duration:.3f} s)."
            )


def _allowed_starts(duration, window, annotations, min_gap):
    """Intervals of clip starts keeping ``min_gap`` from every annotation."""
    allowed = [(0.0, max(0.0, duration - window))]
    if duration < window:
        return []
    for a in sorted(annotations, key=lambda a: a["start_s"]):
        lo, hi = a["start_s"] - min_gap - window, a["end_s"] + min_gap
        nxt = []
        for s, e in allowed:
            if hi <= s or lo >= e:
                nxt.append((s, e))
                continue
            if lo > s:
                nxt.append((s, lo))
            if hi < e:
                nxt.append((hi, e))
        allowed = nxt
    return allowed


@validate_params(
    {
        "recordings": ["array-like"],
        "annotations": [str, os.PathLike, list],
        "window": [Interval(Real, 0, None, closed="neither")],
        "negatives_per_recording": [Interval(Integral, 0, None, closed="left")],
        "min_gap": [Interval(Real, 0, None, closed="left")],
        "label_column": [str, None],
        "sr": [Interval(Real, 0, None, closed="neither"), None],
        "negative_label": [str],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def clips_from_annotations(recordings, annotations, *, window=2.0,
                           negatives_per_recording=10, min_gap=1.0,
                           label_column=None, sr=None, negative_label="noise",
                           random_state=None):
    """Cut training clips from long recordings and their annotation tables.

    Positives are centred on each annotation (shifted inside the recording
    near its edges); negatives are drawn at random (seeded) at least
    ``min_gap`` seconds away from any annotation of their recording.
    Recordings without annotations give negatives only.

    Parameters
    ----------
    recordings : list of str
        Long recordings (WAV, FLAC, OGG, AIFF).
    annotations : str, path-like or list
        Annotation tables (see :func:`read_annotations`), or a list of
        annotation dicts as it returns.
    window : float, default=2.0
        Clip length in seconds.
    negatives_per_recording : int, default=10
        Negative clips drawn from each recording.
    min_gap : float, default=1.0
        Seconds between a negative clip and the nearest annotation.
    label_column : str, default=None
        Column of the tables holding labels (see :func:`read_annotations`).
    sr : float, default=None
        Rate of the clips; None keeps the first recording's rate.
    negative_label : str, default='noise'
        Label of the negative clips.
    random_state : int, RandomState instance or None, default=None
        Seeds the negatives' positions.

    Returns
    -------
    clips : :class:`~sklearn.utils.Bunch`
        ``data`` (n_clips, round(sr * window)) float32 waveforms, ``target``
        labels, ``recording`` (path of each clip's recording), ``start_s``,
        ``sr``.

    Raises
    ------
    ValueError
        If an annotation names an unknown file, ends after its recording or
        has ``end <= start``, or a table is in neither format; the message
        names the table and the line.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_rbfm.datasets import clips_from_annotations, load_fsdd_sample
    >>> rec = load_fsdd_sample().filenames[0]  # 0.298 s
    >>> table = os.path.join(tempfile.mkdtemp(), "calls.csv")
    >>> with open(table, "w") as fh:
    ...     _ = fh.write(f"filename,start,end\\n{os.path.basename(rec)},0.1,0.2\\n")
    >>> clips = clips_from_annotations([rec], table, window=0.25,
    ...     negatives_per_recording=0, random_state=0)
    >>> clips.data.shape, clips.target.tolist(), clips.start_s.tolist()
    ((1, 2000), ['call'], [0.025])
    """
    from .._loader import audio_duration, read_audio

    recordings = [os.fspath(r) for r in recordings]
    if not recordings:
        raise ValueError("no recordings given.")
    if isinstance(annotations, list) and annotations and isinstance(annotations[0], dict):
        rows = annotations
    else:
        rows = read_annotations(annotations, recordings=recordings,
                                label_column=label_column)
    matched = match_recordings(rows, recordings)
    durations = {}
    for r in recordings:
        durations[r] = audio_duration(r)
        check_within(matched[r], durations[r], r)
    if sr is None:
        import soundfile as sf

        sr = sf.info(recordings[0]).samplerate
    rng = check_random_state(random_state)
    n = int(round(sr * window))
    data, target, source, starts = [], [], [], []

    def cut(recording, start):
        y = read_audio(recording, sr=sr, offset=start, duration=window)
        clip = np.zeros(n, np.float32)
        clip[:min(n, len(y))] = y[:n]
        return clip

    for r in recordings:
        duration = durations[r]
        for a in matched[r]:
            centre = (a["start_s"] + a["end_s"]) / 2
            start = float(min(max(0.0, centre - window / 2), max(0.0, duration - window)))
            start = round(start, 6)
            data.append(cut(r, start))
            target.append(a["label"])
            source.append(r)
            starts.append(start)
        allowed = _allowed_starts(duration, window, matched[r], min_gap)
        lengths = np.array([e - s for s, e in allowed])
        if negatives_per_recording and not allowed:
            raise ValueError(
                f"{r}: no room for a {window:g} s negative clip {min_gap:g} s "
                "away from every annotation; lower min_gap or "
                "negatives_per_recording.")
        for _ in range(negatives_per_recording):
            if lengths.sum() > 0:
                u = rng.uniform(0, lengths.sum())
                k = int(np.searchsorted(np.cumsum(lengths), u, side="right"))
                k = min(k, len(allowed) - 1)
                start = allowed[k][0] + u - (np.cumsum(lengths)[k] - lengths[k])
            else:
                start = allowed[0][0]
            start = round(float(start), 6)
            data.append(cut(r, start))
            target.append(negative_label)
            source.append(r)
            starts.append(start)
    return Bunch(data=np.stack(data) if data else np.zeros((0, n), np.float32),
                 target=np.asarray(target, dtype=object),
                 recording=np.asarray(source, dtype=object),
                 start_s=np.asarray(starts, dtype=float), sr=sr)
