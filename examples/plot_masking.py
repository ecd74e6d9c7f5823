"""
==========================================
Minimal and negative relevance masking
==========================================

Relevance-based Feature Masking on log-mel spectrograms of the bundled Free
Spoken Digit sample: detect the digit "zero" among all ten digits. A base
model is explained by deep Taylor decomposition; *minimal* masking keeps the
time-frequency cells with the highest mean relevance, *negative* masking
hides, in each clip, the cells the base model relied on most. Speakers are
kept apart between training and test.
"""

# %%
# Features: flat log-mel spectrograms
# -----------------------------------
import matplotlib.pyplot as plt
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit

from sklearn_rbfm import (AudioLoader, KerasMLPClassifier, RelevanceMasker,
                          SpectrogramTransformer)
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.plotting import RelevanceDisplay

data = load_fsdd_sample()
y = (data.target_names[data.target] == "0").astype(int)
waves = AudioLoader(sr=8000, duration=0.8).fit_transform(data.filenames)
spectrogram = SpectrogramTransformer(kind="mel", sr=8000, n_fft=256,
                                     hop_length=128, n_mels=24).fit(waves)
X = spectrogram.transform(waves)
X -= X.min()  # deep Taylor's z+ rule assumes non-negative inputs
X /= X.max()
train, test = next(GroupShuffleSplit(1, test_size=0.34, random_state=0)
                   .split(X, y, data.groups))
print(X.shape, spectrogram.spectrogram_shape_)

# %%
# Base, minimal-masked and negative-masked models
# -----------------------------------------------
base = KerasMLPClassifier(epochs=40, random_state=0).fit(X[train], y[train])
scores = {"base": base.predict_proba(X[test])[:, 1]}
maskers = {}
for strategy in ("minimal", "negative"):
    masker = RelevanceMasker(base, prefit=True, strategy=strategy, n_features=96)
    Z_train = masker.fit_transform(X[train], y[train])
    model = KerasMLPClassifier(epochs=40, random_state=0).fit(Z_train, y[train])
    scores[strategy] = model.predict_proba(masker.transform(X[test]))[:, 1]
    maskers[strategy] = masker
for name, score in scores.items():
    print(f"{name:>8}: test AUC {roc_auc_score(y[test], score):.3f}")

# %%
# The relevance profile: minimal masking keeps the head of the sorted mean
# relevance.
RelevanceDisplay.from_estimator(maskers["minimal"], n_labels=0)
plt.show()

# %%
# Where the relevance lies: the mean relevance of each time-frequency cell,
# and the cells that minimal masking keeps.
n_mels, n_frames = spectrogram.spectrogram_shape_
relevance = maskers["minimal"].feature_relevance_.reshape(n_mels, n_frames)
kept = maskers["minimal"].get_support().reshape(n_mels, n_frames)
fig, axes = plt.subplots(1, 3, figsize=(11, 3), sharey=True)
zero = X[train][y[train] == 1].mean(axis=0).reshape(n_mels, n_frames)
for ax, image, title in zip(axes, [zero, relevance, kept],
                            ['mean spectrogram of "zero"', "mean relevance",
                             "cells kept (minimal)"]):
    ax.imshow(image, origin="lower", aspect="auto", cmap="magma")
    ax.set_title(title)
    ax.set_xlabel("frame")
axes[0].set_ylabel("mel band")
fig.tight_layout()
plt.show()
