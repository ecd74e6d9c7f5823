"""Throughput of ``rbfm detect`` against the raw model alone on the same windows.

Two detectors, each a fitted pipeline on raw waveform windows, run over long
real-sounding recordings (bundled Free Spoken Digit clips planted in noise)
with :func:`sklearn_rbfm.detection.detect_recordings`, the code behind ``rbfm
detect``: streamed decoding, resampling, windowing and every front-end step in
a producer thread, the model in the caller; recordings in parallel through
joblib with ``n_jobs`` 1 and 2.

- BirdNET: ``CNNEmbedder('birdnet')`` + logistic regression, 3 s windows at
  48 kHz, the recordings at 16 kHz (resampled on the fly).
- small CNN: mel spectrogram + ``CNNEmbedder('small_cnn')`` + logistic
  regression, 2 s windows at 16 kHz.

The baseline is the raw model alone on the same windows, already decoded,
resampled and cut (and, for the small CNN, already turned into
spectrograms): BirdNET's TFLite interpreter, or the CNN's Keras forward pass.
Baseline and detect runs alternate (round robin). The real-time factor is
seconds of audio per second; "per core" divides by CPU seconds (all threads
and worker processes), the figure that carries over to other machines. The
per-window CPU cost gives the plan for a month of one hydrophone.

Run: ``python benchmarks/bench_detect.py [--minutes M] [--recordings R] [--rounds N] [--dask]``
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import psutil
from joblib import parallel_config
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_rbfm import AudioLoader, CNNEmbedder, SpectrogramTransformer
from sklearn_rbfm.detection import detect_recordings, iter_windows
from sklearn_rbfm.datasets import load_fsdd_sample

REC_SR = 16000


def make_recording(path, minutes, rng):
    data = load_fsdd_sample()
    loader = AudioLoader(sr=REC_SR)
    signal = rng.normal(0, 0.004, int(minutes * 60 * REC_SR)).astype(np.float32)
    for start in range(3 * REC_SR, len(signal) - REC_SR, 7 * REC_SR):
        path_ = data.filenames[rng.integers(len(data.filenames))]
        clip = loader.fit_transform([path_])[0]
        signal[start:start + len(clip)] += clip[: len(signal) - start]
    sf.write(path, signal, REC_SR)
    return len(signal) / REC_SR


def training_windows(sr, window, rng, n=40):
    data = load_fsdd_sample()
    pick = rng.choice(len(data.filenames), n, replace=False)
    waves = AudioLoader(sr=sr, duration=window).fit_transform(data.filenames[pick])
    waves += rng.normal(0, 0.004, waves.shape).astype(np.float32)
    return waves, (data.target[pick] == 0) | (np.arange(n) % 2 == 0)


def windows_of(path, sr, window):
    n = int(round(sr * window))
    return np.concatenate([w for _, w in iter_windows(
        path, sr=sr, window=n, hop=n, batch_size=256)])


def _cpu_by_process():
    """CPU seconds of this process and of each live child (joblib workers)."""
    me = psutil.Process()
    out = {me.pid: sum(me.cpu_times()[:2])}
    for child in me.children(recursive=True):
        try:
            out[child.pid] = sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return out


def _timed(function):
    """Wall and CPU seconds of ``function()``, workers included.

    A worker that exits during the run takes its CPU time with it, so the
    CPU figure of a parallel run is a lower bound.
    """
    t0, before = time.perf_counter(), _cpu_by_process()
    out = function()
    wall, after = time.perf_counter() - t0, _cpu_by_process()
    cpu = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())
    return out, wall, cpu


MONTH_S = 2.6e6


def bench(name, model, raw, paths, sr, window, duration, batch_size, rounds,
          dask_cluster=None):
    windows = np.concatenate([windows_of(p, sr, window) for p in paths])
    features = raw["prepare"](windows)
    configs = {"detect n_jobs=1": (1, "loky"), "detect n_jobs=2": (2, "loky")}
    if dask_cluster is not None:
        configs["detect on Dask, 2 workers x 1 thread"] = (-1, "dask")
    runs = {"raw model": [], **{label: [] for label in configs}}
    n_windows = None

    def run(n_jobs, backend):
        with parallel_config(backend=backend):
            return detect_recordings(model, paths, sr=sr, window=window, hop=window,
                                     batch_size=batch_size, n_jobs=n_jobs)

    # warm the workers (model unpickled in each) outside the timings
    for n_jobs, backend in configs.values():
        if n_jobs != 1:
            run(n_jobs, backend)
    for _ in range(rounds):
        _, wall, cpu = _timed(lambda: raw["run"](features))
        runs["raw model"].append((wall, cpu))
        for label, (n_jobs, backend) in configs.items():
            results, wall, cpu = _timed(lambda: run(n_jobs, backend))
            n_windows = sum(r["n_windows"] for r in results)
            runs[label].append((wall, cpu))
    assert n_windows == len(windows)
    load = os.getloadavg()[0]
    print(f"\n{name}: {len(paths)} recordings, {duration / 60:.1f} min of audio, "
          f"{n_windows} windows of {window:g} s; load average {load:.1f}")
    print("| run | wall s | real-time factor | CPU s | RTF per CPU second | CPU ms / window |")
    print("|---|---:|---:|---:|---:|---:|")
    best = {}
    for label, values in runs.items():
        wall, cpu = min(v[0] for v in values), min(v[1] for v in values)
        best[label] = (wall, cpu)
        print(f"| {label} | {wall:.1f} | {duration / wall:.1f}x | {cpu:.1f} | "
              f"{duration / cpu:.1f}x | {1000 * cpu / n_windows:.1f} |")
    raw_wall, raw_cpu = best["raw model"]
    for label in configs:
        wall, cpu = best[label]
        print(f"{label} / raw throughput: {raw_wall / wall:.2f} wall, "
              f"{raw_cpu / cpu:.2f} CPU")
    per_window = best["detect n_jobs=1"][1] / n_windows
    month_windows = MONTH_S / window
    cpu_hours = per_window * month_windows / 3600
    print(f"month of one hydrophone ({MONTH_S:.2g} s, hop = window): "
          f"{month_windows:.0f} windows x {1000 * per_window:.1f} CPU ms = "
          f"{cpu_hours:.1f} CPU hours: {cpu_hours / 2:.1f} h on 2 cores; "
          f"{cpu_hours / 16:.2f} h on 4 Dask machines of 4 cores")
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="minutes per recording")
    parser.add_argument("--recordings", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dask", action="store_true",
                        help="also run on a local Dask cluster (2 worker "
                        "processes on loopback)")
    args = parser.parse_args()
    cluster = None
    if args.dask:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        Client(cluster)
    rng = np.random.default_rng(0)
    folder = tempfile.mkdtemp()
    paths = [os.path.join(folder, f"recording{i}.wav") for i in range(args.recordings)]
    duration = sum(make_recording(p, args.minutes, rng) for p in paths)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
          f"cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"{args.recordings} recordings of {args.minutes:g} min at {REC_SR} Hz; "
          f"load average {os.getloadavg()[0]:.1f}")

    # BirdNET: windows are BirdNET's own 3 s at 48 kHz.
    sr, window = 48000, 3.0
    X, y = training_windows(sr, window, rng)
    birdnet = make_pipeline(CNNEmbedder("birdnet", sr=sr, batch_size=16),
                            LogisticRegression(max_iter=1000)).fit(X, y)
    runner_holder = {}

    def birdnet_raw(windows):
        from sklearn_rbfm._birdnet import BirdNETRunner, default_model_path

        runner = runner_holder.setdefault(
            "r", BirdNETRunner(default_model_path(), batch_windows=16))
        return runner(windows)

    birdnet_raw(X[:16])  # interpreter creation is not part of the throughput
    bench("BirdNET", birdnet, {"prepare": lambda w: w, "run": birdnet_raw},
          paths, sr, window, duration, batch_size=64, rounds=args.rounds,
          dask_cluster=cluster)

    # Small CNN on 64-band mel spectrograms of 2 s windows at 16 kHz.
    sr, window = 16000, 2.0
    X, y = training_windows(sr, window, rng)
    spectrogram = SpectrogramTransformer(kind="mel", sr=sr, n_fft=512,
                                         win_length=400, hop_length=160, n_mels=64)
    shape = spectrogram.fit(X).spectrogram_shape_
    cnn = make_pipeline(spectrogram,
                        CNNEmbedder("small_cnn", spectrogram_shape=shape,
                                    batch_size=64, random_state=0),
                        LogisticRegression(max_iter=1000)).fit(X, y)
    embedder = cnn[1]
    bench("small CNN", cnn, {"prepare": spectrogram.transform,
                             "run": embedder.transform},
          paths, sr, window, duration, batch_size=64, rounds=args.rounds,
          dask_cluster=cluster)


if __name__ == "__main__":
    main()
