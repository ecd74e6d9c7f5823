"""``rbfm detect``: score long recordings window by window and write events.

Recordings are streamed: blocks are decoded with soundfile, mixed to mono,
resampled with a streaming resampler (no seams at block edges) and cut into
windows by a producer thread, which also runs the pipeline's leading
:class:`~sklearn_rbfm.SpectrogramTransformer` steps, while the main thread
runs the rest of the model. A bounded queue between the two keeps memory
constant whatever the recording's length.
"""

import csv
import os
import queue
import threading
import time

import numpy as np

from ._common import CommandError
from ._model_file import load_model

BLOCK_SECONDS = 30.0


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL.joblib",
                        help="model file written by 'rbfm experiment "
                        "--save-model' or sklearn_rbfm.cli.save_model")
    parser.add_argument("recordings", metavar="RECORDING", nargs="+",
                        help="audio files (WAV, FLAC, OGG, AIFF), any length")
    parser.add_argument("--window", type=float, default=None, metavar="S",
                        help="window length in seconds (default: the model's)")
    parser.add_argument("--hop", type=float, default=None, metavar="S",
                        help="step between windows in seconds (default: half "
                        "a window)")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="T",
                        help="a window is positive when its score is at least "
                        "T (default: 0.5)")
    parser.add_argument("--out", default="detections.csv", metavar="PATH",
                        help="output file (default: detections.csv)")
    parser.add_argument("--format", choices=("csv", "raven"), default="csv",
                        help="csv: file,start_s,end_s,score,n_windows; raven: a "
                        "Raven Pro selection table (one per recording when "
                        "several are given)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N",
                        help="windows scored per model call (default: 64)")
    parser.add_argument("--strict-versions", action="store_true",
                        help="refuse a model saved under other versions of its "
                        "dependencies instead of warning")


def iter_windows(path, *, sr, window, hop, batch_size, block_seconds=BLOCK_SECONDS):
    """Yield ``(starts, windows)`` batches of a recording, streamed.

    Parameters
    ----------
    path : str
        Audio file readable by soundfile.
    sr : float
        Rate of the windows; the file is resampled to it on the fly.
    window, hop : int
        Window length and step, in samples at ``sr``.
    batch_size : int
        Windows per batch (the last batch may be shorter).
    block_seconds : float
        Seconds of the file decoded at once.

    Yields
    ------
    starts : ndarray of int, shape (n,)
        First sample (at ``sr``) of each window.
    windows : ndarray of float32, shape (n, window)
        Mono waveforms; a window running past the end of the file is
        zero-padded. A file shorter than one window gives one padded window.
    """
    import soundfile as sf
    import soxr

    try:
        handle = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise CommandError(f"cannot read recording {path!r}: {exc}") from exc
    with handle:
        if handle.frames == 0:
            raise CommandError(f"recording {path!r} is empty (0 samples).")
        resampler = None
        if handle.samplerate != sr:
            resampler = soxr.ResampleStream(handle.samplerate, sr, 1,
                                            dtype="float32", quality="HQ")
        block = max(1, int(block_seconds * handle.samplerate))
        buffer = np.zeros(0, dtype=np.float32)
        buffer_start = 0  # absolute index (at sr) of buffer[0]
        next_start = 0
        starts, batch = [], []
        last = False
        while not last:
            data = handle.read(block, dtype="float32", always_2d=True)
            last = handle.tell() >= handle.frames or len(data) < block
            mono = data.mean(axis=1, dtype=np.float32)
            if not np.all(np.isfinite(mono)):
                bad = handle.tell() - len(data) + int(np.argmin(np.isfinite(mono)))
                raise CommandError(
                    f"recording {path!r} has a non-finite sample at "
                    f"{bad / handle.samplerate:.3f} s; repair or trim the file."
                )
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            buffer = np.concatenate([buffer, mono])
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
        if batch:
            yield np.asarray(starts), np.stack(batch)


def split_front_end(model):
    """Split ``model`` into (front end run by the producer, rest).

    The front end is the leading run of
    :class:`~sklearn_rbfm.SpectrogramTransformer` steps of a
    :class:`~sklearn.pipeline.Pipeline`; they are numpy work that overlaps
    with the model's inference in the other thread.
    """
    from sklearn.pipeline import Pipeline

    from .._spectrogram import SpectrogramTransformer

    if not isinstance(model, Pipeline):
        return None, model
    n = 0
    for _, step in model.steps[:-1]:
        if not isinstance(step, SpectrogramTransformer):
            break
        n += 1
    if n == 0:
        return None, model
    return model[:n], model[n:]


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
    >>> from sklearn_rbfm.cli import merge_events
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
            features = windows if front_end is None else front_end.transform(windows)
            if not _put(out, (starts, features), stop):
                return
        _put(out, None, stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(out, exc, stop)


def detect(model, path, *, sr, window, hop=None, threshold=0.5, batch_size=64,
           positive_index=-1, prefetch=4):
    """Detect events in one recording with a fitted waveform classifier.

    Parameters
    ----------
    model : estimator
        Fitted classifier with ``predict_proba`` taking windows of raw
        waveform, shape ``(n, round(sr * window))``.
    path : str
        The recording.
    sr : float
        Sampling rate of the windows (the file is resampled to it).
    window : float
        Window length in seconds.
    hop : float, default=None
        Step in seconds; None means ``window / 2``.
    threshold : float, default=0.5
        Score at or above which a window is positive.
    batch_size : int, default=64
        Windows per ``predict_proba`` call.
    positive_index : int, default=-1
        Column of ``predict_proba`` holding the detection score.
    prefetch : int, default=4
        Batches decoded ahead of the model; bounds memory.

    Returns
    -------
    events : list of (start_s, end_s, max_score, n_windows)
        Merged positive windows; ``end_s`` is clipped to the recording's end.
    info : dict
        ``duration_s`` (audio seconds), ``n_windows``, ``seconds`` (wall
        time) and ``realtime_factor`` (audio seconds per second).
    """
    hop = window / 2 if hop is None else hop
    win_n, hop_n = int(round(sr * window)), int(round(sr * hop))
    if win_n < 1 or hop_n < 1:
        raise CommandError(
            f"window ({window} s) and hop ({hop} s) must each span at least "
            f"one sample at {sr:g} Hz."
        )
    front_end, rest = split_front_end(model)
    batches = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    t0 = time.perf_counter()
    producer = threading.Thread(
        target=_producer, args=(path, batches, stop, front_end),
        kwargs=dict(sr=sr, window=win_n, hop=hop_n, batch_size=batch_size),
        daemon=True,
    )
    producer.start()
    merger = _EventMerger(window, threshold)
    n_windows = 0
    try:
        while True:
            item = batches.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            starts, features = item
            scores = rest.predict_proba(features)[:, positive_index]
            merger.add(starts / sr, scores)
            n_windows += len(starts)
    finally:
        stop.set()
        producer.join()
    seconds = time.perf_counter() - t0
    import soundfile as sf

    duration = sf.info(path).duration
    events = [(s, min(e, duration), p, n) for s, e, p, n in merger.finish()]
    return events, {
        "duration_s": duration,
        "n_windows": n_windows,
        "seconds": seconds,
        "realtime_factor": duration / seconds if seconds > 0 else float("inf"),
    }


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "start_s", "end_s", "score", "n_windows"])
        for recording, (start, end, score, n) in rows:
            writer.writerow([recording, f"{start:.3f}", f"{end:.3f}",
                             f"{score:.6f}", n])


def _write_raven(path, events, high_freq):
    """Raven Pro selection table: tab-separated, one selection per event."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["Selection", "View", "Channel", "Begin Time (s)",
                         "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)",
                         "Score"])
        for i, (start, end, score, _) in enumerate(events, 1):
            writer.writerow([i, "Spectrogram 1", 1, f"{start:.3f}", f"{end:.3f}",
                             "0.0", f"{high_freq:.1f}", f"{score:.6f}"])


def _raven_path(out, recording, several):
    if not several:
        return out
    stem, ext = os.path.splitext(out)
    name = os.path.splitext(os.path.basename(recording))[0]
    return f"{stem}.{name}{ext or '.txt'}"


def run(args):
    import soundfile as sf

    for recording in args.recordings:
        if not os.path.isfile(recording):
            raise CommandError(f"recording {recording!r} does not exist.")
    if args.threshold < 0 or args.threshold > 1:
        raise CommandError(f"--threshold must be in [0, 1], got {args.threshold}.")
    model, header = load_model(args.model, strict=args.strict_versions)
    window = header["window"] if args.window is None else args.window
    if args.window is not None and abs(args.window - header["window"]) > 1e-9:
        raise CommandError(
            f"the model scores {header['window']} s windows; --window "
            f"{args.window} would change its input width. Leave --window out."
        )
    positive_index = header["classes"].index(header["positive_class"])
    rows = []
    several = len(args.recordings) > 1
    for recording in args.recordings:
        events, info = detect(
            model, recording, sr=header["sr"], window=window, hop=args.hop,
            threshold=args.threshold, batch_size=args.batch_size,
            positive_index=positive_index,
        )
        print(f"{recording}: {len(events)} events in {info['duration_s']:.1f} s "
              f"of audio ({info['n_windows']} windows, "
              f"{info['realtime_factor']:.1f}x real time)")
        if args.format == "raven":
            target = _raven_path(args.out, recording, several)
            _write_raven(target, events, sf.info(recording).samplerate / 2)
            print(f"selection table: {target}")
        rows.extend((recording, event) for event in events)
    if args.format == "csv":
        _write_csv(args.out, rows)
        print(f"detections: {args.out}")
