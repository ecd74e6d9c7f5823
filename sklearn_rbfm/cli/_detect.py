"""``rbfm detect``: score long recordings window by window and write events.

The work is :func:`sklearn_rbfm.detection.detect_recordings`; this module
checks the command, calls it and writes the outputs. Every output is written
to a temporary file and renamed, with a run record ``OUT.run.json`` beside the
CSV (run id, time, model, settings, recordings done and failed): a failed run
never leaves an older file that looks current.
"""

import contextlib
import csv
import datetime
import hashlib
import json
import os
import uuid

from ..detection import detect_recordings, find_recordings, recording_key
from ..detection import _check_geometry, _write_atomic
from ..persistence import load_model
from ._common import CommandError


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL.joblib",
                        help="model file written by 'rbfm experiment "
                        "--save-model' or sklearn_rbfm.persistence.save_model")
    parser.add_argument("recordings", metavar="RECORDING", nargs="+",
                        help="audio files (WAV, FLAC, OGG, AIFF) of any length, "
                        "folders (searched recursively) or glob patterns")
    parser.add_argument("--window", type=float, default=None, metavar="S",
                        help="window length in seconds (default: the model's)")
    parser.add_argument("--hop", type=float, default=None, metavar="S",
                        help="step between windows in seconds, at most the "
                        "window (default: half a window)")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="T",
                        help="a window is positive when its score is at least "
                        "T (default: 0.5)")
    parser.add_argument("--out", default="detections.csv", metavar="PATH",
                        help="output file (default: detections.csv)")
    parser.add_argument("--format", choices=("csv", "raven"), default="csv",
                        help="csv: file,start_s,end_s,score,n_windows; raven: a "
                        "Raven Pro selection table (one per recording when "
                        "several are given)")
    parser.add_argument("--scores", default=None, metavar="FILE",
                        help="also write every window's score (CSV "
                        "file,start_s,end_s,score), for 'rbfm evaluate'")
    parser.add_argument("--channels", default="mean", metavar="C",
                        help="multi-channel recordings: 'mean', 'first' or a "
                        "channel index (default: mean)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N",
                        help="windows scored per model call (default: 64)")
    parser.add_argument("--n-jobs", type=int, default=1, metavar="J",
                        help="recordings scored in parallel through joblib "
                        "(-1: all cores; a joblib Dask backend spreads them "
                        "over a cluster); default: 1")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the recordings on the Dask cluster whose "
                        "scheduler is at ADDRESS (e.g. tcp://host:8786; needs "
                        "sklearn_rbfm[dask]); with --n-jobs -1 every worker "
                        "thread takes a recording")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the finished recordings of an interrupted "
                        "run with the same model and settings (kept in "
                        "OUT.parts/)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar")
    parser.add_argument("--strict-versions", action="store_true",
                        help="refuse a model saved under other versions of its "
                        "dependencies instead of warning")


def _check_folder(path, what):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{what} {path!r}: folder {folder!r} does not exist; "
                           "create it first.")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"{what} {path!r}: folder {folder!r} is not writable.")
    if os.path.isdir(path):
        raise CommandError(f"{what} {path!r} is a folder; give a file name.")


def raven_paths(out, recordings):
    """One selection table per recording; recordings of one name stay apart."""
    if len(recordings) == 1:
        return {recordings[0]: out}
    stem, ext = os.path.splitext(out)
    names = [os.path.splitext(os.path.basename(r))[0] for r in recordings]
    return {r: f"{stem}.{name if names.count(name) == 1 else recording_key(r)}"
               f"{ext or '.txt'}" for r, name in zip(recordings, names)}


def _write_csv(fh, results):
    writer = csv.writer(fh)
    writer.writerow(["file", "start_s", "end_s", "score", "n_windows"])
    for result in results:
        for start, end, score, n in result.get("events", []):
            writer.writerow([result["path"], f"{start:.3f}", f"{end:.3f}",
                             f"{score:.6f}", n])


def _write_scores(fh, results, window):
    writer = csv.writer(fh)
    writer.writerow(["file", "start_s", "end_s", "score"])
    for result in results:
        if "error" in result:
            continue
        duration = result["duration_s"]
        for start, score in zip(result["window_starts_s"], result["window_scores"]):
            writer.writerow([result["path"], f"{start:.3f}",
                             f"{min(start + window, duration):.3f}", f"{score:.6f}"])


def _write_raven(fh, events, high_freq):
    """Raven Pro selection table: tab-separated, one selection per event."""
    writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
    writer.writerow(["Selection", "View", "Channel", "Begin Time (s)",
                     "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)", "Score"])
    for i, (start, end, score, _) in enumerate(events, 1):
        writer.writerow([i, "Spectrogram 1", 1, f"{start:.3f}", f"{end:.3f}",
                         "0.0", f"{high_freq:.1f}", f"{score:.6f}"])


def _channels(value):
    if value in ("mean", "first"):
        return value
    try:
        return int(value)
    except ValueError:
        raise CommandError(f"--channels must be 'mean', 'first' or a channel "
                           f"index; got {value!r}.") from None


def _fingerprint(model_path, settings):
    stat = os.stat(model_path)
    text = json.dumps([os.path.abspath(model_path), stat.st_size, stat.st_mtime_ns,
                       settings], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()


@contextlib.contextmanager
def _backend(scheduler):
    """joblib's Dask backend on the cluster at ``scheduler``, or nothing."""
    if scheduler is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError:
        raise CommandError("--scheduler needs Dask: pip install "
                           "'sklearn_rbfm[dask]'.") from None
    from joblib import parallel_config

    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CommandError(f"--scheduler {scheduler}: cannot connect ({exc}).") from None
    with client, parallel_config(backend="dask"):
        yield


def run(args):
    import soundfile as sf

    if not 0 <= args.threshold <= 1:
        raise CommandError(f"--threshold must be in [0, 1], got {args.threshold}.")
    if args.n_jobs == 0:
        raise CommandError("--n-jobs must be a positive number of jobs or -1 "
                           "(all cores), not 0.")
    channels = _channels(args.channels)
    try:
        recordings = find_recordings(args.recordings)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None
    _check_folder(args.out, "--out")
    if args.scores:
        _check_folder(args.scores, "--scores")
    try:
        model, header = load_model(args.model, strict=args.strict_versions)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    window = header["window"] if args.window is None else args.window
    if args.window is not None and abs(args.window - header["window"]) > 1e-9:
        raise CommandError(
            f"the model scores {header['window']} s windows; --window "
            f"{args.window} would change its input width. Leave --window out."
        )
    try:
        _check_geometry(header["sr"], window, args.hop)
    except ValueError as exc:
        raise CommandError(f"--hop: {exc}") from None
    hop = window / 2 if args.hop is None else args.hop
    positive_index = header["classes"].index(header["positive_class"])
    settings = dict(window=window, hop=hop, threshold=args.threshold,
                    channels=channels, sr=header["sr"])
    run_id = uuid.uuid4().hex[:12]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record_path = args.out + ".run.json"
    # the previous run's outputs go now: if this one fails, nothing stale is left
    for stale in (args.out, record_path, args.scores):
        if stale and os.path.isfile(stale):
            os.unlink(stale)
    parts = args.out + ".parts"
    with _backend(args.scheduler):
        results = detect_recordings(
            model, recordings, sr=header["sr"], window=window, hop=hop,
            threshold=args.threshold, batch_size=args.batch_size,
            positive_index=positive_index, channels=channels, n_jobs=args.n_jobs,
            parts_dir=parts, resume=args.resume, progress=not args.no_progress,
            fingerprint=_fingerprint(args.model, settings))
    failed = [r for r in results if "error" in r]
    done = [r for r in results if "error" not in r]
    for r in done:
        how = "resumed" if r["resumed"] else f"{r['duration_s'] / r['seconds']:.1f}x real time" \
            if r["seconds"] > 0 else "done"
        print(f"{r['path']}: {len(r['events'])} events in {r['duration_s']:.1f} s "
              f"of audio ({r['n_windows']} windows, {how})")
    if args.format == "raven":
        targets = raven_paths(args.out, recordings)
        for r in done:
            high = sf.info(r["path"]).samplerate / 2
            _write_atomic(targets[r["path"]],
                          lambda fh, r=r, high=high: _write_raven(fh, r["events"], high))
            print(f"selection table: {targets[r['path']]}")
    if args.scores:
        _write_atomic(args.scores, lambda fh: _write_scores(fh, results, window))
        print(f"window scores: {args.scores}")
    if args.format == "csv":
        _write_atomic(args.out, lambda fh: _write_csv(fh, results))
        print(f"detections: {args.out}")
    record = {
        "run_id": run_id, "started": started,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "model": os.path.abspath(args.model), "model_saved": header.get("saved"),
        "settings": settings, "outputs": {"out": args.out, "format": args.format,
                                          "scores": args.scores},
        "recordings": [{"path": r["path"], "duration_s": r["duration_s"],
                        "n_events": len(r["events"])} for r in done],
        "failed": [{"path": r["path"], "error": r["error"]} for r in failed],
    }
    _write_atomic(record_path, lambda fh: json.dump(record, fh, indent=1))
    if failed:
        lines = "\n".join(f"  {r['path']}: {r['error']}" for r in failed)
        raise CommandError(
            f"{len(failed)} of {len(results)} recordings failed (the "
            f"{len(done)} others are in the outputs; rerun with --resume "
            f"after fixing them):\n{lines}")
    if os.path.isdir(parts):
        import shutil

        shutil.rmtree(parts)
