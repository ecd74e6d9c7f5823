"""
=====================================================================
AudioNet and the AlexNet-like net: heatmaps, audible heatmaps, a test
=====================================================================

Becker et al. (2018) explain two networks that recognise spoken digits: the
AlexNet-like net on spectrograms and AudioNet on raw waveforms. Both are
trained here on five speakers of the bundled Free Spoken Digit sample, with
the classifier's default augmentation (new voices by speed or frequency
warps, random offsets and masks), and explained on the sixth with
LRP-epsilon: heatmaps over the spectrogram and over the waveform, and the
same heatmaps made audible. Their input-manipulation test then checks the
hypothesis the heatmaps suggest -- that each digit is decided in one
frequency band (spectrogram net) or one time segment (waveform net): the
model's accuracy when that region is silenced, against control regions of
equal size.

The nets are small (a fifth and a tenth of the published width) so that
this runs in a minute or two on a CPU. The sample's 50 clips per speaker are
too few for AudioNet to carry over to a new voice -- it stays near chance
here, and its manipulation test then says little -- while the spectrogram
net does better; ``benchmarks/bench_becker.py`` trains both on all 3000
FSDD clips (see ``benchmarks/RESULTS.md``).
"""

# %%
# Waveforms in a fixed one-second frame, and their spectrograms
# -------------------------------------------------------------
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import LeaveOneGroupOut

from sklearn_rbfm import AudioLoader, KerasCNNClassifier, SpectrogramTransformer
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.explain import audible_heatmap, manipulation_test, relevance_maps
from sklearn_rbfm.plotting import ManipulationTestDisplay, SpectrogramExplanationDisplay

data = load_fsdd_sample()
waves = AudioLoader(sr=8000, duration=1.0, remove_dc=True).fit_transform(data.filenames)
# each spectrogram floored 60 dB below its peak, so that quiet and loud
# recordings differ by a shift of level only
spectrogram = SpectrogramTransformer("power", sr=8000, n_fft=256, hop_length=128,
                                     top_db=60)
S = spectrogram.fit_transform(waves)
shape = spectrogram.spectrogram_shape_
y, speakers = data.target, data.groups
train, test = next(LeaveOneGroupOut().split(waves, y, speakers))
print(f"waveforms {waves.shape}, spectrograms {shape}; "
      f"test speaker {speakers[test][0]!r}")

# %%
# The two networks
# ----------------
# Both train on all five speakers for a fixed number of epochs; each batch
# is augmented with new voices (``warp``), random offsets and masks.
alexnet = KerasCNNClassifier("alexnet", spectrogram_shape=shape, width=0.2,
                             epochs=25, random_state=0)
alexnet.fit(S[train], y[train])
audionet = KerasCNNClassifier("audionet", width=0.1, epochs=25, random_state=0)
audionet.fit(waves[train], y[train])
print(f"unseen speaker: AlexNet-like {alexnet.score(S[test], y[test]):.2f}, "
      f"AudioNet {audionet.score(waves[test], y[test]):.2f}")

# %%
# Heatmaps of one test clip
# -------------------------
# The spectrogram net's relevance lies on the spectrogram bins, the waveform
# net's on the samples.
i = test[int(np.argmax(alexnet.predict(S[test]) == y[test]))]
R_spec = relevance_maps(alexnet, S[i : i + 1], method="lrp.epsilon")[0]
R_wave = relevance_maps(audionet, waves[i : i + 1], method="lrp.epsilon")[0]
SpectrogramExplanationDisplay.from_explanation(
    S[i].reshape(shape), R_spec, sr=8000, hop_length=128,
    title=f"AlexNet-like, LRP-epsilon: digit {y[i]}")

t = np.arange(waves.shape[1]) / 8000
fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
axes[0].plot(t, waves[i], lw=0.5, color="0.3")
axes[0].set_title(f"waveform of digit {y[i]}")
limit = np.abs(R_wave).max()
axes[1].scatter(t, waves[i], c=R_wave, s=1, cmap="seismic", vmin=-limit, vmax=limit)
axes[1].set_title("AudioNet, LRP-epsilon relevance per sample (red: for the digit)")
axes[1].set_xlabel("Time (s)")
fig.tight_layout()

# %%
# Audible heatmaps
# ----------------
# The spectrogram relevance weights the clip's STFT magnitude (with the
# transformer's own STFT) before resynthesis; the waveform relevance already
# is a signal. Both are written as WAV files.
out_dir = Path(tempfile.mkdtemp())
heard_spec = audible_heatmap(waves[i], np.maximum(R_spec, 0), sr=8000,
                             spectrogram=spectrogram, path=out_dir / "alexnet.wav")
heard_wave = audible_heatmap(waves[i], R_wave, sr=8000, path=out_dir / "audionet.wav")
print("written:", sorted(p.name for p in out_dir.iterdir()))
fig, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
axes[0].plot(t, heard_spec, lw=0.5)
axes[0].set_title("audible heatmap of the AlexNet-like net")
axes[1].plot(t, heard_wave, lw=0.5, color="C1")
axes[1].set_title("audible heatmap of AudioNet")
axes[1].set_xlabel("Time (s)")
fig.tight_layout()

# %%
# The input-manipulation test
# ---------------------------
# Per digit, the fifth of the frequency axis (spectrogram net) or of the time
# axis (waveform net) with the most relevance is set to the clip's floor
# (spectrogram) or to silence (waveform), and so are five control regions
# of the same size elsewhere.
fig, axes = plt.subplots(2, 1, figsize=(8, 7))
for net, X, axis, ax in ((alexnet, S, "frequency", axes[0]),
                         (audionet, waves, "time", axes[1])):
    result = manipulation_test(net, X[test], y[test], axis=axis,
                               region_fraction=0.2, random_state=0)
    print(f"{net.architecture}: accuracy {result.accuracy:.2f}, drop when the "
          f"relevant {axis} region is removed {result.relevant_drop:.2f}, "
          f"control {result.control_drop:.2f}")
    ManipulationTestDisplay(result).plot(ax=ax)
fig.tight_layout()
plt.show()
