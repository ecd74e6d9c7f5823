"""SpectrogramTransformer against librosa on the same waveforms.

Clips per second for mel spectrograms (16 kHz, n_fft 512, win 400, hop 160,
64 mels, power 2, no log) of 2 s clips: a per-clip loop over
``librosa.feature.melspectrogram``, one batched librosa call on the whole
``(n_clips, n_samples)`` array, and ``SpectrogramTransformer(kind='mel',
log=None)`` with the same parameters, whose output is compared with
librosa's. The floor is the cost of framing, windowing and the real FFT
alone. ``kind='vggish'`` is timed as well.

The waveforms are real speech: FSDD recordings at 16 kHz, padded to 2 s.
librosa's first call compiles with numba, so every method is called once
before it is timed; timings are the best of ``--repeat`` runs.

Run: ``python benchmarks/bench_spectrogram.py`` (``--n-clips 100`` for a
smoke run).
"""

import argparse
import os
import platform
import time
from pathlib import Path

import librosa
import numpy as np
import scipy.fft
import scipy.signal

from sklearn_rbfm import AudioLoader, SpectrogramTransformer

FSDD = Path(os.environ.get("FSDD_ROOT", Path(__file__).resolve().parents[2] / "shared/data/fsdd"))
PARAMS = dict(n_fft=512, win_length=400, hop_length=160, n_mels=64)
SR = 16000


def best_of(fns, repeat):
    """Best time of each function, measured round-robin so load drift on a
    shared machine hits every method alike; one warm-up call each first."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def fft_floor(X, n_jobs):
    """Frames x window -> rfft, chunked like the transformer, nothing else."""
    window = np.zeros(512, dtype=np.float32)
    window[56:456] = scipy.signal.get_window("hann", 400).astype(np.float32)
    for start in range(0, len(X), 32):
        y = np.pad(X[start : start + 32], ((0, 0), (256, 256)))
        frames = np.lib.stride_tricks.sliding_window_view(y, 512, axis=-1)[:, ::160]
        scipy.fft.rfft(frames * window, axis=-1, workers=n_jobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    paths = sorted(str(p) for p in (FSDD / "recordings").glob("*.wav"))[: args.n_clips]
    X = AudioLoader(sr=SR, duration=2.0, n_jobs=-1).fit_transform(paths)
    n = len(X)
    print(f"{n} clips of {X.shape[1] / SR:g} s at {SR} Hz (FSDD speech), "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")

    def loop():
        return np.stack([librosa.feature.melspectrogram(y=x, sr=SR, **PARAMS) for x in X])

    def batched():
        return librosa.feature.melspectrogram(y=X, sr=SR, **PARAMS)

    mel = SpectrogramTransformer("mel", sr=SR, log=None, **PARAMS).fit(X)
    mel2 = SpectrogramTransformer("mel", sr=SR, log=None, n_jobs=2, **PARAMS).fit(X)
    vggish = SpectrogramTransformer("vggish", sr=SR).fit(X)

    ref = batched().reshape(n, -1)
    ours = mel.transform(X)
    diff = np.abs(ours - ref)
    identical = np.allclose(ours, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    print(f"mel output vs librosa: max |diff| {diff.max():.2e} (values up to "
          f"{np.abs(ref).max():.1f}), max relative {np.max(diff / np.maximum(np.abs(ref), 1e-3)):.2e}, "
          f"allclose(rtol=1e-4): {identical}")
    np.testing.assert_allclose(mel2.transform(X), ours, rtol=1e-6, atol=1e-9)

    rows = [
        ("librosa per-clip loop", loop),
        ("librosa batched call (baseline)", batched),
        ("SpectrogramTransformer mel, n_jobs=1", lambda: mel.transform(X)),
        ("SpectrogramTransformer mel, n_jobs=2", lambda: mel2.transform(X)),
        ("SpectrogramTransformer vggish, n_jobs=1", lambda: vggish.transform(X)),
        ("floor: frames x window + rfft, workers=1", lambda: fft_floor(X, 1)),
    ]
    times = best_of([fn for _, fn in rows], args.repeat)
    base = times[1]
    print(f"{'method':45s} {'seconds':>8s} {'clips/s':>8s} {'vs batched':>10s}")
    for (name, _), t in zip(rows, times):
        print(f"{name:45s} {t:8.3f} {n / t:8.0f} {base / t:9.2f}x")
    print(f"os.getloadavg() after the run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
