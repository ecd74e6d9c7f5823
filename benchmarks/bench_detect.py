"""Throughput of ``rbfm detect`` against the raw model alone on the same windows.

Two detectors, each a fitted pipeline on raw waveform windows, run over a
long real-sounding recording (bundled Free Spoken Digit clips planted in
noise) with :func:`sklearn_rbfm.cli.detect`: streamed decoding, resampling,
windowing (and spectrograms) in a producer thread, the model in the caller.

- BirdNET: ``CNNEmbedder('birdnet')`` + logistic regression, 3 s windows at
  48 kHz, the recording at 16 kHz (resampled on the fly).
- small CNN: mel spectrogram + ``CNNEmbedder('small_cnn')`` + logistic
  regression, 2 s windows at 16 kHz.

The baseline is the raw model alone on the same windows, already decoded,
resampled and cut (and, for the small CNN, already turned into
spectrograms): BirdNET's TFLite interpreter, or the CNN's Keras forward pass.
The real-time factor is seconds of audio per second of compute; the target
is detect within 15% of the raw model.

Run: ``python benchmarks/bench_detect.py [--minutes M]``
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_rbfm import AudioLoader, CNNEmbedder, SpectrogramTransformer
from sklearn_rbfm.detection import detect, iter_windows
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


def bench(name, model, raw, path, sr, window, duration, batch_size):
    cpu0 = time.process_time()
    events, info = detect(model, path, sr=sr, window=window, hop=window,
                          batch_size=batch_size)
    detect_cpu = time.process_time() - cpu0
    windows = windows_of(path, sr, window)
    assert len(windows) == info["n_windows"]
    features = raw["prepare"](windows)
    t0, cpu0 = time.perf_counter(), time.process_time()
    raw["run"](features)
    raw_seconds = time.perf_counter() - t0
    raw_cpu = time.process_time() - cpu0
    rtf_raw = duration / raw_seconds
    # CPU seconds (all threads) are less sensitive than wall time to other
    # processes sharing the machine.
    print(f"{name}: {info['n_windows']} windows of {window:g} s; detect "
          f"{info['seconds']:.1f} s = {info['realtime_factor']:.1f}x real time "
          f"({detect_cpu:.1f} CPU s); raw model alone {raw_seconds:.1f} s = "
          f"{rtf_raw:.1f}x ({raw_cpu:.1f} CPU s); detect/raw throughput "
          f"{info['realtime_factor'] / rtf_raw:.2f} wall, "
          f"{raw_cpu / detect_cpu:.2f} CPU; {len(events)} events")
    return info, raw_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    path = os.path.join(tempfile.mkdtemp(), "recording.wav")
    duration = make_recording(path, args.minutes, rng)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
          f"cores; recording of {duration / 60:.1f} min at {REC_SR} Hz")

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
          path, sr, window, duration, batch_size=64)

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
          path, sr, window, duration, batch_size=64)


if __name__ == "__main__":
    main()
