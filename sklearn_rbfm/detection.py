"""Detection in long recordings: streamed windows, event merging, many recordings.

A recording is streamed: blocks are decoded by the package's one audio reader
(:func:`sklearn_rbfm._loader.iter_audio_blocks`, the channel policy and the
truncated-file rule of :class:`~sklearn_rbfm.AudioLoader`), resampled without
seams and cut into windows by a producer thread. That thread also runs every
front-end step of the model (see :func:`split_front_end`), while the calling
thread runs the rest; a bounded queue between the two keeps memory constant
whatever the recording's length.

:func:`detect` scores one recording; :func:`detect_recordings` scores many,
in parallel through joblib (so ``joblib.parallel_config(backend="dask")``
spreads them over a Dask cluster), writing each recording's result atomically
so that an interrupted run resumes where it stopped. The evaluation against
annotations is in :mod:`sklearn_rbfm.detection` too (:func:`evaluate_detections`).
"""

import glob
import hashlib
import json
import os
import pickle
import queue
import tempfile
import threading
import time

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (HasMethods, Interval, StrOptions,
                                             validate_params)

from ._evaluation import (
    evaluate_detections,
    precision_recall_over_thresholds,
    read_detections,
    read_window_scores,
    threshold_for,
)
from ._loader import audio_duration, iter_audio_blocks

__all__ = [
    "AUDIO_EXTENSIONS",
    "detect",
    "detect_recordings",
    "evaluate_detections",
    "find_recordings",
    "iter_windows",
    "merge_events",
    "precision_recall_over_thresholds",
    "read_detections",
    "read_window_scores",
    "split_front_end",
    "threshold_for",
]

BLOCK_SECONDS = 30.0
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")

# Estimators whose transform is a Keras / TFLite forward pass: the producer
# thread stops before the first of them, which runs in the calling thread.
_HEAVY_MODULES = ("sklearn_rbfm._embedder", "sklearn_rbfm._birdnet",
                  "sklearn_rbfm._cnn_classifier", "sklearn_rbfm._mlp",
                  "sklearn_rbfm._vggish")


def _check_geometry(sr, window, hop):
    """Window and hop in samples; a hop over the window would skip audio."""
    hop = window / 2 if hop is None else hop
    win_n, hop_n = int(round(sr * window)), int(round(sr * hop))
    if win_n < 1 or hop_n < 1:
        raise ValueError(
            f"window ({window} s) and hop ({hop} s) must each span at least "
            f"one sample at {sr:g} Hz."
        )
    if hop_n > win_n:
        raise ValueError(
            f"hop={hop:g} s is longer than the window ({window:g} s): "
            f"{hop - window:g} s of audio after every window would never be "
            "scored. Use a hop of at most the window length."
        )
    return win_n, hop_n


def iter_windows(path, *, sr, window, hop, batch_size, channels="mean",
                 block_seconds=BLOCK_SECONDS):
    """Yield ``(starts, windows)`` batches of a recording, streamed.

    Parameters
    ----------
    path : str or path-like
        Audio file (WAV, FLAC, OGG, AIFF).
    sr : float
        Rate of the windows; the file is resampled to it on the fly.
    window, hop : int
        Window length and step, in samples at ``sr``.
    batch_size : int
        Windows per batch (the last batch may be shorter).
    channels : {'mean', 'first'} or int, default='mean'
        Channel policy, as in :class:`~sklearn_rbfm.AudioLoader`.
    block_seconds : float, default=30.0
        Seconds of the file decoded at once.

    Yields
    ------
    starts : ndarray of int, shape (n,)
        First sample (at ``sr``) of each window.
    windows : ndarray of float32, shape (n, window)
        Mono waveforms; a window running past the end of the file is
        zero-padded. A file shorter than one window gives one padded window.

    Examples
    --------
    >>> from sklearn_rbfm.detection import iter_windows
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> path = load_fsdd_sample().filenames[0]  # 0.298 s at 8 kHz
    >>> [(s.tolist(), w.shape) for s, w in iter_windows(
    ...     path, sr=8000, window=800, hop=800, batch_size=2)]
    [([0, 800], (2, 800)), ([1600], (1, 800))]
    """
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # absolute index (at sr) of buffer[0]
    next_start = 0
    starts, batch = [], []
    blocks = iter_audio_blocks(path, sr=sr, channels=channels,
                               block_seconds=block_seconds)
    block = next(blocks)
    while block is not None:
        following = next(blocks, None)
        last = following is None
        buffer = np.concatenate([buffer, block])
        end = buffer_start + len(buffer)
        while next_start + window <= end or (
            last and next_start < end and (next_start == 0 or
                                           next_start - hop + window < end)
        ):
            piece = buffer[next_start - buffer_start:
                           next_start - buffer_start + window]
            if len(piece) < window:
                piece = np.pad(piece, (0, window - len(piece)))
            starts.append(next_start)
            batch.append(piece)
            next_start += hop
            if len(batch) == batch_size:
                yield np.asarray(starts), np.stack(batch)
                starts, batch = [], []
        drop = min(max(0, next_start - buffer_start), len(buffer))
        buffer = buffer[drop:]
        buffer_start += drop
        block = following
    if batch:
        yield np.asarray(starts), np.stack(batch)


def _is_heavy(step):
    return type(step).__module__ in _HEAVY_MODULES or any(
        cls.__name__ == "KerasPickleMixin" for cls in type(step).__mro__)


class _Part:
    """One side of a split model: a function and the steps it runs."""

    def __init__(self, function, steps):
        self.function, self.steps = function, list(steps)

    def __call__(self, X):
        return self.function(X)

    def __repr__(self):
        return f"<{type(self).__name__} running {self.steps}>"


def _identity(X):
    return X


def _split_transformer(est, name):
    """``(front, back, front_names, back_names)`` with ``back(front(X)) == est.transform(X)``."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    if est is None or est == "passthrough":
        return _identity, _identity, [], []
    if isinstance(est, Pipeline):
        return _split_steps(est.steps, name)
    if isinstance(est, FeatureUnion):
        return _split_union(est, name)
    if _is_heavy(est):
        return _identity, est.transform, [], [name]
    return est.transform, _identity, [name], []


def _split_steps(steps, prefix):
    """Split a sequence of transformer steps at the first heavy one."""
    front, fnames = [], []
    for i, (name, step) in enumerate(steps):
        path = f"{prefix}/{name}" if prefix else name
        f, b, fn, bn = _split_transformer(step, path)
        if bn:  # this step is (partly) heavy: the split happens inside it
            rest = [s for _, s in steps[i + 1:] if s is not None and s != "passthrough"]
            rest_names = [f"{prefix}/{n}" if prefix else n for n, _ in steps[i + 1:]]

            def front_fn(X, front=front + [f]):
                for fun in front:
                    X = fun(X)
                return X

            def back_fn(Z, b=b, rest=rest):
                Z = b(Z)
                for step_ in rest:
                    Z = step_.transform(Z)
                return Z

            return front_fn, back_fn, fnames + fn, bn + rest_names
        front.append(f)
        fnames += fn

    def front_all(X, front=front):
        for fun in front:
            X = fun(X)
        return X

    return front_all, _identity, fnames, []


def _split_union(union, prefix):
    parts, fnames, bnames = [], [], []
    weights = union.transformer_weights or {}
    for name, trans in union.transformer_list:
        if trans == "drop":
            continue
        path = f"{prefix}/{name}" if prefix else name
        f, b, fn, bn = _split_transformer(trans, path)
        parts.append((f, b, weights.get(name)))
        fnames += fn
        bnames += bn

    def front(X):
        return [f(X) for f, _, _ in parts]

    def back(Zs):
        blocks = []
        for (_, b, weight), Z in zip(parts, Zs):
            block = np.asarray(b(Z))
            blocks.append(block if weight is None else block * weight)
        return np.hstack(blocks)

    if not bnames:  # all light: the whole union runs ahead
        return (lambda X: back(front(X))), _identity, fnames, []
    return front, back, fnames, bnames


def split_front_end(model):
    """Split ``model`` into the front end run by the producer and the rest.

    The front end is every step before the first Keras or TFLite one (or
    before the final estimator), also inside the branches of a
    :class:`~sklearn.pipeline.FeatureUnion` and nested pipelines, as
    ``rbfm experiment --save-model`` writes them: numpy work (decoding aside:
    spectrograms, statistics, scaling) that overlaps with the model's
    inference in the other thread.

    Parameters
    ----------
    model : estimator
        Fitted classifier with ``predict_proba``.

    Returns
    -------
    front : callable or None
        Windows -> intermediate features; None when nothing can run ahead.
        Its ``steps`` lists the steps it runs (``union/branch/step`` paths).
    rest : callable
        Intermediate features -> ``predict_proba``, so that
        ``rest(front(X))`` equals ``model.predict_proba(X)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_rbfm.detection import split_front_end
    >>> X = np.random.RandomState(0).normal(size=(20, 4))
    >>> model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, [0, 1] * 10)
    >>> front, rest = split_front_end(model)
    >>> front.steps, rest.steps
    (['standardscaler'], ['logisticregression'])
    >>> bool(np.allclose(rest(front(X)), model.predict_proba(X)))
    True
    """
    from sklearn.pipeline import FeatureUnion, Pipeline

    embedders = getattr(model, "embedders_", None)
    if embedders and hasattr(model, "_fused_proba"):
        # an RBFMClassifier (what 'rbfm experiment --save-model' writes): its
        # embedders are the branches of a union whose output feeds the fusion
        f, b, fnames, bnames = _split_union(FeatureUnion(list(embedders)), "embedders")
        name = type(model).__name__
        if not fnames:
            return None, _Part(model.predict_proba, [name])
        return _Part(f, fnames), _Part(
            lambda Z: model._fused_proba(np.asarray(b(Z), dtype=np.float32)),
            bnames + [name])
    if not isinstance(model, Pipeline):
        return None, _Part(model.predict_proba, [type(model).__name__])
    final_name, final = model.steps[-1]
    f, b, fnames, bnames = _split_steps(model.steps[:-1], "")
    if not fnames:
        return None, _Part(model.predict_proba, [n for n, _ in model.steps])
    return _Part(f, fnames), _Part(lambda Z: final.predict_proba(b(Z)),
                                   bnames + [final_name])


@validate_params(
    {
        "starts": ["array-like"],
        "scores": ["array-like"],
        "window": [Interval(Real, 0, None, closed="neither")],
        "threshold": [Real],
    },
    prefer_skip_nested_validation=True,
)
def merge_events(starts, scores, *, window, threshold):
    """Merge overlapping or touching positive windows into events.

    Parameters
    ----------
    starts : array-like of float
        Start time of each window, increasing.
    scores : array-like of float
        Score of each window.
    window : float
        Window length (same unit as ``starts``).
    threshold : float
        Windows scoring at least ``threshold`` are positive.

    Returns
    -------
    events : list of (start, end, max_score, n_windows)

    Examples
    --------
    >>> from sklearn_rbfm.detection import merge_events
    >>> merge_events([0, 1, 2, 3, 6], [0.9, 0.7, 0.1, 0.8, 0.95],
    ...              window=2, threshold=0.5)
    [(0.0, 5.0, 0.9, 3), (6.0, 8.0, 0.95, 1)]
    """
    merger = _EventMerger(window, threshold)
    merger.add(np.asarray(starts, dtype=float), np.asarray(scores, dtype=float))
    return merger.finish()


class _EventMerger:
    """Streaming version of :func:`merge_events`."""

    def __init__(self, window, threshold):
        self.window, self.threshold = window, threshold
        self.events, self.current = [], None

    def add(self, starts, scores):
        for start, score in zip(starts, scores):
            if score < self.threshold:
                continue
            end = start + self.window
            cur = self.current
            if cur is not None and start <= cur[1]:
                cur[1] = end
                cur[2] = max(cur[2], score)
                cur[3] += 1
            else:
                if cur is not None:
                    self.events.append(tuple(cur))
                self.current = [float(start), float(end), float(score), 1]
        return self

    def finish(self):
        if self.current is not None:
            self.events.append(tuple(self.current))
            self.current = None
        return [(s, e, float(round(p, 6)), n) for s, e, p, n in self.events]


def _put(out, item, stop):
    """Put ``item`` unless the consumer has stopped; never block for good."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _producer(path, out, stop, front_end, **kwargs):
    try:
        for starts, windows in iter_windows(path, **kwargs):
            features = windows if front_end is None else front_end(windows)
            if not _put(out, (starts, features), stop):
                return
        _put(out, None, stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(out, exc, stop)


_CHANNELS = [StrOptions({"mean", "first"}), Integral]

# the windowing parameters detect and detect_recordings share
_WINDOW_PARAMS = {
    "sr": [Interval(Real, 0, None, closed="neither")],
    "window": [Interval(Real, 0, None, closed="neither")],
    "hop": [Interval(Real, 0, None, closed="neither"), None],
    "threshold": [Real],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "positive_index": [Integral],
    "channels": _CHANNELS,
}


@validate_params(
    {
        "model": [HasMethods("predict_proba")],
        "path": [str, os.PathLike],
        **_WINDOW_PARAMS,
        "return_scores": ["boolean"],
        "prefetch": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def detect(model, path, *, sr, window, hop=None, threshold=0.5, batch_size=64,
           positive_index=-1, channels="mean", return_scores=False, prefetch=4):
    """Detect events in one recording with a fitted waveform classifier.

    Parameters
    ----------
    model : estimator
        Fitted classifier with ``predict_proba`` taking windows of raw
        waveform, shape ``(n, round(sr * window))``.
    path : str or path-like
        The recording.
    sr : float
        Sampling rate of the windows (the file is resampled to it).
    window : float
        Window length in seconds.
    hop : float, default=None
        Step in seconds, at most ``window``; None means ``window / 2``.
    threshold : float, default=0.5
        Score at or above which a window is positive.
    batch_size : int, default=64
        Windows per ``predict_proba`` call.
    positive_index : int, default=-1
        Column of ``predict_proba`` holding the detection score.
    channels : {'mean', 'first'} or int, default='mean'
        How a multi-channel recording becomes mono, as in
        :class:`~sklearn_rbfm.AudioLoader`.
    return_scores : bool, default=False
        Also return every window's start and score in ``info``.
    prefetch : int, default=4
        Batches decoded ahead of the model; bounds memory.

    Returns
    -------
    events : list of (start_s, end_s, max_score, n_windows)
        Merged positive windows; ``end_s`` is clipped to the recording's end.
    info : dict
        ``duration_s`` (audio seconds), ``n_windows``, ``seconds`` (wall
        time) and ``realtime_factor`` (audio seconds per second); with
        ``return_scores``, ``window_starts_s`` and ``window_scores`` arrays.

    Raises
    ------
    FileNotFoundError
        If the recording does not exist.
    ValueError
        If it cannot be read (empty, truncated, not audio, non-finite
        sample), or the window and hop are not usable; the message names
        the file or the parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn_rbfm.detection import detect
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> path = load_fsdd_sample().filenames[0]
    >>> model = DummyClassifier(strategy="prior").fit(np.zeros((4, 800)), [0, 1, 1, 1])
    >>> events, info = detect(model, path, sr=8000, window=0.1, hop=0.1)
    >>> events, info["n_windows"]
    ([(0.0, 0.298, 0.75, 3)], 3)
    """
    win_n, hop_n = _check_geometry(sr, window, hop)
    duration = audio_duration(path)
    front_end, rest = split_front_end(model)
    batches = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    t0 = time.perf_counter()
    producer = threading.Thread(
        target=_producer, args=(path, batches, stop, front_end),
        kwargs=dict(sr=sr, window=win_n, hop=hop_n, batch_size=batch_size,
                    channels=channels),
        daemon=True,
    )
    producer.start()
    merger = _EventMerger(window, threshold)
    n_windows = 0
    all_starts, all_scores = [], []
    try:
        while True:
            item = batches.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            starts, features = item
            scores = np.asarray(rest(features))[:, positive_index]
            merger.add(starts / sr, scores)
            n_windows += len(starts)
            if return_scores:
                all_starts.append(starts / sr)
                all_scores.append(scores)
    finally:
        stop.set()
        producer.join()
    seconds = time.perf_counter() - t0
    events = [(s, min(e, duration), p, n) for s, e, p, n in merger.finish()]
    info = {
        "duration_s": duration,
        "n_windows": n_windows,
        "seconds": seconds,
        "realtime_factor": duration / seconds if seconds > 0 else float("inf"),
    }
    if return_scores:
        info["window_starts_s"] = np.concatenate(all_starts) if all_starts else np.zeros(0)
        info["window_scores"] = np.concatenate(all_scores) if all_scores else np.zeros(0)
    return events, info


def find_recordings(inputs):
    """Expand files, folders and glob patterns into a sorted list of recordings.

    Parameters
    ----------
    inputs : list of str
        Audio files (kept even if their extension is unusual), folders
        (searched recursively for WAV, FLAC, OGG and AIFF files) and glob
        patterns (``**`` recurses).

    Returns
    -------
    recordings : list of str
        Each recording once, in the order given (files of a folder or a
        pattern sorted).

    Raises
    ------
    FileNotFoundError
        If an input is neither a file, a folder nor a pattern matching a file,
        or a folder holds no audio file.

    Examples
    --------
    >>> import os
    >>> from sklearn_rbfm.detection import find_recordings
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> folder = os.path.dirname(load_fsdd_sample().filenames[0])
    >>> len(find_recordings([folder])), len(find_recordings([folder + "/0_*.wav"]))
    (300, 30)
    """
    found, seen = [], set()

    def add(path):
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            found.append(path)

    for item in inputs:
        item = os.fspath(item)
        if os.path.isfile(item):
            add(item)
        elif os.path.isdir(item):
            files = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(item) for name in names
                if name.lower().endswith(AUDIO_EXTENSIONS))
            if not files:
                raise FileNotFoundError(
                    f"folder {item!r} holds no audio file "
                    f"({', '.join(AUDIO_EXTENSIONS)}).")
            for path in files:
                add(path)
        elif glob.has_magic(item):
            files = sorted(p for p in glob.glob(item, recursive=True)
                           if os.path.isfile(p))
            if not files:
                raise FileNotFoundError(f"pattern {item!r} matches no file.")
            for path in files:
                add(path)
        else:
            raise FileNotFoundError(f"recording {item!r} does not exist.")
    return found


def _write_atomic(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def recording_key(path):
    """A file name for ``path``'s results, unique among recordings of one name."""
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"{stem}-{digest}"


# The last model unpickled in this process (key, model): a worker scoring many
# recordings of one run unpickles the model once, not once per recording.
_LAST_MODEL = [None, None]
_LAST_MODEL_LOCK = threading.Lock()


def _model_of(blob, key):
    # under the lock, so that threads of one worker never get another run's model
    with _LAST_MODEL_LOCK:
        if _LAST_MODEL[0] != key:
            _LAST_MODEL[:] = [None, None]  # free the previous model first
            _LAST_MODEL[:] = [key, pickle.loads(blob)]
        return _LAST_MODEL[1]


def _detect_one(model, path, parts_dir, fingerprint, resume, kwargs):
    """Detect in one recording; its result is saved in ``parts_dir`` (atomically).

    ``model`` is the estimator, or ``(pickled bytes, key)`` for a worker.
    """
    done = None
    if parts_dir is not None:
        done = os.path.join(parts_dir, recording_key(path) + ".json")
        if resume and os.path.exists(done):
            with open(done) as fh:
                saved = json.load(fh)
            if saved.get("fingerprint") == fingerprint:
                saved["resumed"] = True
                return saved
    if isinstance(model, tuple):
        model = _model_of(*model)
    try:
        events, info = detect(model, path, return_scores=True, **kwargs)
    except (OSError, ValueError) as exc:
        return {"path": path, "error": str(exc)}
    result = {
        "path": path, "fingerprint": fingerprint,
        "events": [list(e) for e in events],
        "duration_s": info["duration_s"], "n_windows": info["n_windows"],
        "seconds": info["seconds"],
        "window_starts_s": np.round(info["window_starts_s"], 6).tolist(),
        "window_scores": np.round(info["window_scores"].astype(float), 6).tolist(),
    }
    if done is not None:
        _write_atomic(done, lambda fh: json.dump(result, fh))
    result["resumed"] = False
    return result


@validate_params(
    {
        "model": [HasMethods("predict_proba")],
        "recordings": [list, tuple],
        **_WINDOW_PARAMS,
        "n_jobs": [Integral, None],
        "parts_dir": [str, os.PathLike, None],
        "resume": ["boolean"],
        "progress": ["boolean"],
        "fingerprint": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def detect_recordings(model, recordings, *, sr, window, hop=None, threshold=0.5,
                      batch_size=64, positive_index=-1, channels="mean",
                      n_jobs=None, parts_dir=None, resume=False, progress=False,
                      fingerprint=None):
    """Detect events in many recordings, in parallel, resumable.

    A recording that cannot be read does not stop the others: its result
    holds the ``error`` instead of events. Recordings run in parallel
    through :class:`joblib.Parallel`, so a
    ``joblib.parallel_config(backend="dask")`` context spreads them over a
    Dask cluster; the events do not depend on ``n_jobs``.

    Parameters
    ----------
    model : estimator
        Fitted classifier, as for :func:`detect`.
    recordings : list of str
        The recordings (see :func:`find_recordings`).
    sr, window, hop, threshold, batch_size, positive_index, channels
        As in :func:`detect`.
    n_jobs : int, default=None
        Recordings scored at once; None means 1 unless in a
        :func:`joblib.parallel_config` context, -1 all processors.
    parts_dir : str, default=None
        Folder where each recording's result is written (atomically) as soon
        as it is finished; None keeps results in memory only.
    resume : bool, default=False
        Reuse the results in ``parts_dir`` written with the same
        ``fingerprint`` instead of scoring those recordings again.
    progress : bool, default=False
        Show a progress bar (tqdm) over recordings and hours of audio.
    fingerprint : str, default=None
        What identifies a run's settings (model and parameters); results
        with another fingerprint are not reused.

    Returns
    -------
    results : list of dict
        One per recording, in the order given: ``path`` and either
        ``error`` (why it failed) or ``events`` (lists ``[start_s, end_s,
        max_score, n_windows]``), ``duration_s``, ``n_windows``, ``seconds``,
        ``window_starts_s``, ``window_scores`` and ``resumed``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn_rbfm.detection import detect_recordings
    >>> from sklearn_rbfm.datasets import load_fsdd_sample
    >>> paths = list(load_fsdd_sample().filenames[:2]) + ["missing.wav"]
    >>> model = DummyClassifier(strategy="prior").fit(np.zeros((4, 800)), [0, 1, 1, 1])
    >>> results = detect_recordings(model, paths, sr=8000, window=0.1)
    >>> [len(r["events"]) if "events" in r else r["error"] for r in results]
    [1, 1, 'missing.wav: no such audio file.']
    """
    from joblib import Parallel, delayed, effective_n_jobs

    _check_geometry(sr, window, hop)
    kwargs = dict(sr=sr, window=window, hop=hop, threshold=threshold,
                  batch_size=batch_size, positive_index=positive_index,
                  channels=channels)
    if parts_dir is not None:
        os.makedirs(parts_dir, exist_ok=True)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = 0.0
        for path in recordings:
            try:
                total += audio_duration(path)
            except (OSError, ValueError):
                pass
        bar = tqdm(total=round(total / 3600, 3), unit="h", desc="audio",
                   bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} h "
                   "[{elapsed}<{remaining}] {postfix}")
    shipped = model
    if effective_n_jobs(n_jobs) != 1:
        # pickled once here, unpickled once per worker (not once per task)
        blob = pickle.dumps(model, protocol=5)
        shipped = (blob, hashlib.sha1(blob).hexdigest())
    jobs = (delayed(_detect_one)(shipped, path, parts_dir, fingerprint, resume,
                                 kwargs) for path in recordings)
    results = []
    try:
        for result in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
            results.append(result)
            if bar is not None:
                bar.update(round(result.get("duration_s", 0.0) / 3600, 3))
                bar.set_postfix_str(f"{len(results)}/{len(recordings)} recordings")
    finally:
        if bar is not None:
            bar.close()
    return results
