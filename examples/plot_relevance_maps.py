"""
==============================================================
Relevance maps of a spectrogram CNN, and how faithful they are
==============================================================

The AlexNet-like network of Becker et al. (2018), at a quarter of its width,
learns the spoken digits of the bundled Free Spoken Digit sample from
log-mel spectrograms. Deep Taylor decomposition and LRP-epsilon then say
which time-frequency bins each decision rested on, and a perturbation
(pixel-flipping) curve checks the claim: removing the most relevant bins
first should hurt the model much more than removing bins at random.
Speakers are kept apart between training and test.
"""

# %%
# Log-mel spectrograms of the FSDD sample
# ---------------------------------------
import matplotlib.pyplot as plt

from sklearn_rbfm import AudioLoader, KerasCNNClassifier, SpectrogramTransformer
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.explain import perturbation_curve, relevance_maps
from sklearn_rbfm.model_selection import SpeakerRotationSplit
from sklearn_rbfm.plotting import (PerturbationCurveDisplay,
                                   SpectrogramExplanationDisplay)

data = load_fsdd_sample()
waves = AudioLoader(sr=8000, duration=0.8).fit_transform(data.filenames)
spectrogram = SpectrogramTransformer(kind="mel", sr=8000, n_fft=256,
                                     hop_length=128, n_mels=32).fit(waves)
X = spectrogram.transform(waves)
X -= X.min()  # deep Taylor's z+ rule assumes non-negative inputs
X /= X.max()
y = data.target
# six speakers: train on four, test on one (the fifth would validate)
train, test = next(SpeakerRotationSplit(6, validation=False).split(X, y, data.groups))
print(X.shape, spectrogram.spectrogram_shape_, "test speaker:", set(data.groups[test]))

# %%
# The AlexNet-like network
# ------------------------
clf = KerasCNNClassifier("alexnet", spectrogram_shape=spectrogram.spectrogram_shape_,
                         width=0.25, epochs=30, batch_size=32, learning_rate=1e-3,
                         early_stopping=False, random_state=0)
clf.fit(X[train], y[train])
print(f"test accuracy on an unseen speaker: {clf.score(X[test], y[test]):.2f}")

# %%
# Deep Taylor and LRP-epsilon heatmaps of one test clip
# -----------------------------------------------------
# The relevance is over the spectrogram bins, shaped like the spectrogram.
clip = test[:1]
for method in ("deep_taylor", "lrp.epsilon"):
    R = relevance_maps(clf, X[clip], method=method)
    SpectrogramExplanationDisplay.from_explanation(
        X[clip[0]], R[0], sr=8000, hop_length=128,
        title=f"{method}: digit {y[clip[0]]}, predicted {clf.predict(X[clip])[0]}")

# %%
# Faithfulness: perturbation curves
# ---------------------------------
# Bins are replaced by zero (the quietest value) in order of decreasing deep
# Taylor relevance, up to half of them; the score is the mean probability of
# the true class. The random order is the reference.
R = relevance_maps(clf, X[test], method="deep_taylor", target=y[test])
result = perturbation_curve(clf, X[test], y[test], R, steps=10,
                            max_fraction=0.5, random_state=0)
print(f"AOPC deep Taylor {result.aopc:.3f} vs random {result.random_aopc:.3f}")
PerturbationCurveDisplay.from_result(result, name="deep Taylor")
plt.show()
