"""AudioLoader decoding speed on real files: n_jobs=1 against n_jobs=-1.

Files per second for ``--n-files`` real FSDD recordings (8 kHz, 16-bit WAV,
about 0.4 s each), padded or cropped to 1 s, read at their own rate and
resampled to 16 kHz. The baseline is a serial ``AudioLoader(n_jobs=1)``;
``librosa.load`` in a loop is shown for reference. The outputs of all
settings are compared. Timings are the best of ``--repeat`` runs after one
warm-up run (so the files sit in the page cache).

Run: ``python benchmarks/bench_loading.py`` (``--n-files 100`` for a smoke
run).
"""

import argparse
import os
import time
from pathlib import Path

import librosa
import numpy as np

from sklearn_rbfm import AudioLoader

FSDD = Path(os.environ.get("FSDD_ROOT", Path(__file__).resolve().parents[2] / "shared/data/fsdd"))


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(str(p) for p in (FSDD / "recordings").glob("*.wav"))[: args.n_files]
    n = len(paths)
    print(f"{n} FSDD files, {os.cpu_count()} CPUs")

    def librosa_loop(sr):
        return np.stack(
            [librosa.util.fix_length(librosa.load(p, sr=sr)[0], size=sr) for p in paths]
        )

    rows = []
    for sr in (8000, 16000):
        serial = AudioLoader(sr=sr, duration=1.0, n_jobs=1).fit(paths)
        parallel = AudioLoader(sr=sr, duration=1.0, n_jobs=-1).fit(paths)
        np.testing.assert_array_equal(serial.transform(paths), parallel.transform(paths))
        rows += [
            (f"sr={sr}: AudioLoader n_jobs=1 (baseline)", lambda s=serial: s.transform(paths)),
            (f"sr={sr}: AudioLoader n_jobs=-1", lambda p=parallel: p.transform(paths)),
            (f"sr={sr}: librosa.load loop", lambda sr=sr: librosa_loop(sr)),
        ]
    times = best_of([fn for _, fn in rows], args.repeat)
    print(f"{'method':42s} {'seconds':>8s} {'files/s':>8s} {'vs n_jobs=1':>11s}")
    for i, ((name, _), t) in enumerate(zip(rows, times)):
        base = times[i - i % 3]
        print(f"{name:42s} {t:8.3f} {n / t:8.0f} {base / t:10.2f}x")
    print(f"os.getloadavg() after the run: {os.getloadavg()}")

if __name__ == "__main__":
    main()
