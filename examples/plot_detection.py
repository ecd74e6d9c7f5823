"""
==========================================
Finding calls in a long recording (detect)
==========================================

A detector trained on short clips runs over a long recording window by
window, and overlapping positive windows merge into events. Here the "calls"
are spoken digits from the bundled Free Spoken Digit sample, planted at known
times in a minute of background noise; the detector is trained on the other
speakers and has never heard the planted voice. The same code path serves
``rbfm detect MODEL.joblib RECORDING``.
"""

# %%
# Training windows: speech against background
# -------------------------------------------
# Positive windows hold one clip at a random place over faint noise;
# negative windows hold noise of several levels, some with a silent stretch.
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_rbfm import AudioLoader, SpectrogramTransformer
from sklearn_rbfm.baselines import band_statistics
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.detection import detect
from sklearn_rbfm.persistence import load_model, save_model

sr, window = 8000, 1.0
n = int(sr * window)
data = load_fsdd_sample()
held_out = data.groups == "jackson"
rng = np.random.default_rng(0)


def background(length):
    level = rng.choice([1e-4, 3e-3, 1e-2])
    noise = rng.normal(0, level, length).astype(np.float32)
    if rng.random() < 0.3:  # a silent stretch, as between noisy passages
        start = rng.integers(0, length)
        noise[start:] = 0
    return noise


X, y = [], []
for path in data.filenames[~held_out][::2]:
    clip, _ = sf.read(path, dtype="float32")
    clip = clip[:n]
    window_ = background(n) * 0.5
    offset = rng.integers(0, n - len(clip) + 1)
    window_[offset:offset + len(clip)] += clip
    X.append(window_)
    y.append(1)
    X.append(background(n))
    y.append(0)
X, y = np.stack(X), np.array(y)

# %%
# The detector: log-mel band statistics and a logistic regression, a
# pipeline that takes raw waveform windows, as model files must.
detector = make_pipeline(
    SpectrogramTransformer(kind="mel", sr=sr, n_fft=256, win_length=200,
                           hop_length=80, n_mels=32),
    FunctionTransformer(band_statistics, kw_args={"n_bands": 32}),
    StandardScaler(),
    LogisticRegression(max_iter=1000),
).fit(X, y)
model_path = os.path.join(tempfile.mkdtemp(), "digits.joblib")
save_model(detector, model_path, sr=sr, window=window,
           description="spoken digit against background noise")

# %%
# A long recording with planted calls
# -----------------------------------
# One minute at 16 kHz (the detector resamples on the fly), noise with a
# silent passage, and six clips of the held-out speaker at known times.
long_sr, minutes = 16000, 1
signal = rng.normal(0, 0.004, 60 * minutes * long_sr).astype(np.float32)
signal[20 * long_sr:30 * long_sr] = 0
planted = []
loader = AudioLoader(sr=long_sr)
for start, path in zip([4.0, 13.3, 22.1, 33.7, 45.2, 54.9],
                       data.filenames[held_out][::8]):
    clip = loader.fit_transform([path])[0]
    i = int(start * long_sr)
    signal[i:i + len(clip)] += clip
    planted.append((start, start + len(clip) / long_sr))
recording = os.path.join(tempfile.mkdtemp(), "recording.wav")
sf.write(recording, signal, long_sr)

# %%
# Detection
# ---------
model, header = load_model(model_path)
events, info = detect(model, recording, sr=header["sr"], window=header["window"],
                      hop=0.25, threshold=0.5)
print(f"{info['n_windows']} windows, {info['realtime_factor']:.0f}x real time")
for start, end, score, n_windows in events:
    print(f"event {start:6.2f}-{end:6.2f} s  score {score:.3f}  ({n_windows} windows)")

# %%
# Events against the planted clips.
fig, ax = plt.subplots(figsize=(9, 3))
t = np.arange(len(signal)) / long_sr
ax.plot(t, signal, lw=0.3, color="0.4")
for start, end in planted:
    ax.axvspan(start, end, color="C2", alpha=0.5, label="planted")
for start, end, score, _ in events:
    ax.axvspan(start, end, ymin=0.85, ymax=1.0, color="C3", alpha=0.6,
               label="detected")
handles, labels = ax.get_legend_handles_labels()
unique = dict(zip(labels, handles))
ax.legend(unique.values(), unique.keys(), loc="lower right")
ax.set_xlabel("time (s)")
ax.set_title("Planted spoken digits (green) and detected events (red)")
fig.tight_layout()
plt.show()
