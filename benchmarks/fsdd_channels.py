"""Each FSDD speaker's recording channel: mean spectrum shape and DC offset.

For every speaker, the mean over clips of the log power spectrum of the
clip's frames above its median frame energy (129 x 63 spectrograms of
``bench_becker.py``, files loaded with their DC offsets), minus its own
mean over frequency, printed at every 16th bin (0, 0.5, ... 4 kHz); and the
median over clips of |mean| / standard deviation of the file's samples.
Run::

    python benchmarks/fsdd_channels.py
"""

import numpy as np

from bench_becker import load, spectrograms


def main():
    waves, _, speakers = load(remove_dc=False)
    S, shape = spectrograms(waves)
    frames = S.reshape(len(S), *shape)
    print("| speaker | " + " | ".join(f"{b * 4000 / (shape[0] - 1):.0f} Hz"
                                      for b in range(0, shape[0], 16))
          + " | DC offset / std (median of clips) |")
    print("|---" * (len(range(0, shape[0], 16)) + 2) + "|")
    for speaker in sorted(set(speakers)):
        rows = np.flatnonzero(speakers == speaker)
        spectra = []
        offsets = []
        for i in rows:
            energy = frames[i].mean(axis=0)
            spectra.append(frames[i][:, energy > np.median(energy)].mean(axis=1))
            audio = waves[i][: np.flatnonzero(waves[i])[-1] + 1]
            offsets.append(abs(audio.mean()) / (audio.std() + 1e-12))
        spectrum = np.mean(spectra, axis=0)
        shape_db = spectrum - spectrum.mean()
        print(f"| {speaker} | " + " | ".join(f"{v:+.1f}" for v in shape_db[::16])
              + f" | {np.median(offsets):.3f} |")


if __name__ == "__main__":
    main()
