"""
===============================================
Audible heatmaps: listen to what was relevant
===============================================

Becker et al. (2018) found that people understand an explanation of an audio
model better by *listening* to it. An audible heatmap keeps only the
time-frequency content of a clip that the explanation marks as relevant:
the relevance weights the magnitude of the clip's short-time Fourier
transform, the original phase is kept, and the inverse transform gives audio
of the same length.

Here the relevance is a RELAX importance map of a spoken digit from the
bundled Free Spoken Digit sample (explaining a PCA representation of mel
spectrograms); a relevance map of a classifier
(:func:`~sklearn_rbfm.explain.relevance_maps`) is used the same way. The
result is written as a WAV file next to the original.
"""

# %%
# A clip, its mel spectrogram and a relevance map
# -----------------------------------------------
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import AudioLoader, SpectrogramTransformer
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.explain import RELAX, audible_heatmap

data = load_fsdd_sample()
waves = AudioLoader(sr=8000, duration=0.8).fit_transform(data.filenames)
spectrogram = SpectrogramTransformer(kind="mel", sr=8000, n_fft=256,
                                     hop_length=128, n_mels=32).fit(waves)
S = spectrogram.transform(waves)
embedder = make_pipeline(StandardScaler(), PCA(n_components=16, random_state=0)).fit(S)
index = 7
importance, _ = RELAX(embedder, n_masks=1000, strategy="time_frequency",
                      mask_size=(4, 4), spectrogram_shape=spectrogram,
                      random_state=0).explain(S[index : index + 1])
# keep the bins more important than average (flat, like the transformer's rows)
relevance = np.maximum(importance[0] - importance[0].mean(), 0.0)

# %%
# Resynthesis
# -----------
# The mel-band relevance is spread back over the STFT bins through the
# transformer's mel filterbank, frame by frame: frame ``t`` weights the very
# samples the transformer computed it from (its ``window_``, ``hop_length_``
# and ``center_``).
out_dir = Path(tempfile.mkdtemp())
audio = audible_heatmap(waves[index], relevance, sr=8000, spectrogram=spectrogram,
                        path=out_dir / "audible_heatmap.wav")
print("written:", out_dir / "audible_heatmap.wav")
kept = np.sum(audio.astype(float) ** 2) / np.sum(waves[index].astype(float) ** 2)
print(f"energy kept: {kept:.0%}")

t = np.arange(waves.shape[1]) / 8000
fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
axes[0].plot(t, waves[index], lw=0.6)
axes[0].set_title(f"original: {data.filenames[index].rsplit('/', 1)[-1]}")
# each cell at its frame time and its mel band's centre frequency
axes[1].pcolormesh(spectrogram.frame_times_, spectrogram.frequencies_,
                   spectrogram.to_3d(relevance)[0], shading="nearest", cmap="viridis")
axes[1].set_ylabel("Frequency (Hz)")
axes[1].set_title("relevance (RELAX importance above its mean)")
axes[2].plot(t, audio, lw=0.6, color="C1")
axes[2].set_title("audible heatmap")
axes[2].set_xlabel("Time (s)")
fig.tight_layout()
plt.show()
