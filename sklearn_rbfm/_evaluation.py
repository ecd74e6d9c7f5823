"""Detections against annotations: event precision, recall, false positives per hour.

Public through :mod:`sklearn_rbfm.detection`. A detected event is a true
positive when it overlaps an annotation of its recording by at least
``min_overlap`` seconds (any overlap when 0); an annotation is found when a
detected event overlaps it so. Precision counts detected events, recall
counts annotations, as in the event-based scores of the DCASE and ketos
benchmarks: one long event covering two calls finds both.
"""

import csv
import os

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from .datasets._annotations import check_within, match_recordings


def read_detections(path):
    """Read a detections CSV written by ``rbfm detect`` (or :func:`detect_recordings`).

    Parameters
    ----------
    path : str or path-like
        CSV with columns ``file,start_s,end_s,score`` (more are ignored).

    Returns
    -------
    detections : dict
        Recording path -> list of ``(start_s, end_s, score)``.
    durations : dict or None
        Recording path -> seconds of every recording of the run (also those
        without detections), read from the run record ``PATH.run.json``
        beside the CSV; None when there is none.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_rbfm.detection import read_detections
    >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("file,start_s,end_s,score,n_windows\\na.wav,1.0,2.5,0.9,3\\n")
    >>> read_detections(path)
    ({'a.wav': [(1.0, 2.5, 0.9)]}, None)
    """
    import json

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"detections file {path!r} does not exist.")
    detections = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "start_s", "end_s", "score"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{path}: not a detections file of rbfm detect (missing "
                f"columns {sorted(missing)}; found {reader.fieldnames}).")
        for line, row in enumerate(reader, start=2):
            try:
                event = (float(row["start_s"]), float(row["end_s"]), float(row["score"]))
            except ValueError:
                raise ValueError(f"{path}, line {line}: a time or score is not a number.") from None
            detections.setdefault(row["file"], []).append(event)
    durations = None
    record = path + ".run.json"
    if os.path.isfile(record):
        with open(record) as fh:
            run = json.load(fh)
        durations = {r["path"]: r["duration_s"] for r in run["recordings"]
                     if "duration_s" in r}
        for name in durations:
            detections.setdefault(name, [])
    return detections, durations


def read_window_scores(path):
    """Read the per-window scores written by ``rbfm detect --scores``.

    Returns
    -------
    scores : dict
        Recording path -> ``(starts_s, ends_s, scores)`` arrays.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"scores file {path!r} does not exist.")
    columns = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "start_s", "end_s", "score"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: not a scores file of rbfm detect --scores "
                             f"(missing columns {sorted(missing)}).")
        for row in reader:
            columns.setdefault(row["file"], []).append(
                (float(row["start_s"]), float(row["end_s"]), float(row["score"])))
    return {k: tuple(np.asarray(v, dtype=float).T) for k, v in columns.items()}


def _overlap(a0, a1, b0, b1):
    return min(a1, b1) - max(a0, b0)


def _hits(overlap, min_overlap):
    return overlap >= min_overlap if min_overlap > 0 else overlap > 0


def _scores(tp, n_detected, found, n_annotations, hours):
    precision = tp / n_detected if n_detected else float("nan")
    recall = found / n_annotations if n_annotations else float("nan")
    f1 = (2 * precision * recall / (precision + recall)
          if n_detected and n_annotations and precision + recall > 0 else 0.0)
    return {
        "n_detections": n_detected, "true_positives": tp,
        "false_positives": n_detected - tp, "n_annotations": n_annotations,
        "found": found, "missed": n_annotations - found,
        "precision": precision, "recall": recall, "f1": f1,
        "hours": hours,
        "false_positives_per_hour": (n_detected - tp) / hours if hours else float("nan"),
    }


_CHECKS = {
    "annotations": [list],
    "durations": [dict],
    "min_overlap": [Interval(Real, 0, None, closed="left")],
}


@validate_params(dict(_CHECKS, detections=[dict]), prefer_skip_nested_validation=True)
def evaluate_detections(detections, annotations, *, durations, min_overlap=0.0):
    """Event precision, recall, F1 and false positives per hour, per recording and overall.

    Parameters
    ----------
    detections : dict
        Recording -> list of ``(start_s, end_s, ...)`` events (the first two
        fields are used), as :func:`read_detections` gives.
    annotations : list of dict
        As :func:`sklearn_rbfm.datasets.read_annotations` gives; matched to
        the recordings by path, else by file name. Annotations of recordings
        outside ``durations`` are not evaluated (counted in
        ``annotations_outside``).
    durations : dict
        Recording -> seconds: the recordings evaluated.
    min_overlap : float, default=0.0
        Seconds an event and an annotation must share; 0 means any overlap.

    Returns
    -------
    report : dict
        ``overall`` and ``recordings`` (recording -> scores), each with
        ``precision``, ``recall``, ``f1``, ``false_positives_per_hour``,
        counts and ``hours``; ``min_overlap``; ``annotations_outside``.

    Raises
    ------
    ValueError
        If an annotation ends after its recording (naming its table and
        line).

    Examples
    --------
    >>> from sklearn_rbfm.detection import evaluate_detections
    >>> annotations = [{"recording": "a.wav", "start_s": 10.0, "end_s": 11.0,
    ...                 "label": "call", "source": "t.csv, line 2"},
    ...                {"recording": "a.wav", "start_s": 50.0, "end_s": 51.0,
    ...                 "label": "call", "source": "t.csv, line 3"}]
    >>> report = evaluate_detections({"a.wav": [(9.5, 11.5), (30.0, 31.0)]},
    ...                              annotations, durations={"a.wav": 3600.0})
    >>> o = report["overall"]
    >>> o["precision"], o["recall"], o["false_positives_per_hour"]
    (0.5, 0.5, 1.0)
    """
    recordings = list(durations)
    matched = match_recordings(annotations, recordings, unknown="ignore")
    outside = len(annotations) - sum(map(len, matched.values()))
    detected = match_detections(detections, recordings)
    per, totals = {}, np.zeros(5)
    for r in recordings:
        check_within(matched[r], durations[r], r)
        events, truth = detected[r], matched[r]
        tp = sum(any(_hits(_overlap(e[0], e[1], a["start_s"], a["end_s"]), min_overlap)
                     for a in truth) for e in events)
        found = sum(any(_hits(_overlap(e[0], e[1], a["start_s"], a["end_s"]), min_overlap)
                        for e in events) for a in truth)
        hours = durations[r] / 3600
        per[r] = _scores(tp, len(events), found, len(truth), hours)
        totals += (tp, len(events), found, len(truth), hours)
    tp, n_det, found, n_ann, hours = totals
    return {"overall": _scores(int(tp), int(n_det), int(found), int(n_ann), hours),
            "recordings": per, "min_overlap": min_overlap,
            "annotations_outside": outside}


def match_detections(detections, recordings):
    """Detections of each recording (keys matched by path, else file name)."""
    by_name = {os.path.basename(r): r for r in recordings}
    out = {r: [] for r in recordings}
    for key, events in detections.items():
        target = key if key in out else by_name.get(os.path.basename(key))
        if target is None:
            raise ValueError(
                f"detections of {key!r}, a recording without a duration; "
                "evaluate the detections of one rbfm detect run (its "
                ".run.json record gives the durations).")
        out[target].extend(events)
    return out


def _merge_vectorized(starts, ends, positive):
    """Events (start, end) of the positive windows, merged when they touch."""
    s, e = starts[positive], ends[positive]
    if len(s) == 0:
        return s, e
    new = np.r_[True, s[1:] > np.maximum.accumulate(e)[:-1]]
    return s[new], np.maximum.reduceat(e, np.flatnonzero(new))


@validate_params(dict(_CHECKS, window_scores=[dict], thresholds=["array-like", None]),
                 prefer_skip_nested_validation=True)
def precision_recall_over_thresholds(window_scores, annotations, *, durations,
                                     min_overlap=0.0, thresholds=None):
    """Event precision and recall of the merged detections at each threshold.

    Parameters
    ----------
    window_scores : dict
        Recording -> ``(starts_s, ends_s, scores)`` of every window, as
        :func:`read_window_scores` gives.
    annotations : list of dict
        As for :func:`evaluate_detections`.
    durations : dict
        Recording -> seconds.
    min_overlap : float, default=0.0
        As for :func:`evaluate_detections`.
    thresholds : array-like, default=None
        Thresholds to evaluate; by default up to 200 quantiles of the scores.

    Returns
    -------
    curve : dict
        ``thresholds`` (increasing), ``precision``, ``recall`` and
        ``false_positives_per_hour`` arrays of the same length.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.detection import precision_recall_over_thresholds
    >>> scores = {"a.wav": (np.array([0., 1, 2, 3]), np.array([1., 2, 3, 4]),
    ...                     np.array([0.9, 0.2, 0.6, 0.1]))}
    >>> annotations = [{"recording": "a.wav", "start_s": 0.2, "end_s": 0.8,
    ...                 "label": "call", "source": "t.csv, line 2"}]
    >>> curve = precision_recall_over_thresholds(
    ...     scores, annotations, durations={"a.wav": 4.0}, thresholds=[0.5, 0.7])
    >>> curve["precision"].tolist(), curve["recall"].tolist()
    ([0.5, 1.0], [1.0, 1.0])
    """
    recordings = list(durations)
    all_scores = np.concatenate([window_scores[r][2] for r in window_scores]) \
        if window_scores else np.zeros(0)
    if thresholds is None:
        thresholds = np.unique(np.quantile(all_scores, np.linspace(0, 1, 200))) \
            if len(all_scores) else np.array([0.5])
    thresholds = np.sort(np.asarray(thresholds, dtype=float))
    scores = match_detections({k: [v] for k, v in window_scores.items()}, recordings)
    precision, recall, fph = [], [], []
    for t in thresholds:
        detections = {}
        for r in recordings:
            events = []
            for starts, ends, s in scores[r]:
                order = np.argsort(starts, kind="stable")
                s0, e0 = _merge_vectorized(starts[order], ends[order], s[order] >= t)
                events += list(zip(s0.tolist(), np.minimum(e0, durations[r]).tolist()))
            detections[r] = events
        o = evaluate_detections(detections, annotations, durations=durations,
                                min_overlap=min_overlap)["overall"]
        precision.append(o["precision"])
        recall.append(o["recall"])
        fph.append(o["false_positives_per_hour"])
    return {"thresholds": thresholds, "precision": np.asarray(precision),
            "recall": np.asarray(recall),
            "false_positives_per_hour": np.asarray(fph)}


@validate_params(
    {
        "curve": [dict],
        "precision": [Interval(Real, 0, 1, closed="both"), None],
        "recall": [Interval(Real, 0, 1, closed="both"), None],
    },
    prefer_skip_nested_validation=True,
)
def threshold_for(curve, *, precision=None, recall=None):
    """The threshold reaching a target precision (highest recall) or recall (highest precision).

    Parameters
    ----------
    curve : dict
        As :func:`precision_recall_over_thresholds` returns.
    precision, recall : float, default=None
        The target; give exactly one.

    Returns
    -------
    threshold : float or None
        None when no threshold reaches the target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.detection import threshold_for
    >>> curve = {"thresholds": np.array([0.1, 0.5, 0.9]),
    ...          "precision": np.array([0.2, 0.8, 1.0]),
    ...          "recall": np.array([1.0, 0.9, 0.3])}
    >>> threshold_for(curve, precision=0.75), threshold_for(curve, recall=0.95)
    (0.5, 0.1)
    """
    if (precision is None) == (recall is None):
        raise ValueError("give exactly one target: precision or recall.")
    t = np.asarray(curve["thresholds"])
    p = np.nan_to_num(np.asarray(curve["precision"]), nan=0.0)
    r = np.nan_to_num(np.asarray(curve["recall"]), nan=0.0)
    if precision is not None:
        ok = np.flatnonzero(p >= precision)
        return float(t[ok[np.argmax(r[ok])]]) if len(ok) else None
    ok = np.flatnonzero(r >= recall)
    return float(t[ok[np.argmax(p[ok])]]) if len(ok) else None
