"""
=======================================================================
Deep Taylor relevance of a pipeline's decision on the input spectrogram
=======================================================================

The paper's Figure 1: a spectrogram network embeds each clip, a dense head
classifies the embedding, and deep Taylor decomposition takes the head's
decision back through both networks onto the time-frequency bins of the
input spectrogram.

:func:`~sklearn_rbfm.explain.relevance_maps` joins the
:class:`~sklearn_rbfm.CNNEmbedder`'s network, the
:class:`~sklearn.preprocessing.StandardScaler` and the
:class:`~sklearn_rbfm.KerasMLPClassifier`'s network into one Keras network
and propagates the relevance with the package's native engine, in this
process. A small CNN keeps the example quick; the same code explains
``CNNEmbedder("inception_v3")`` (replace the architecture, e.g. with
``weights=None`` or ImageNet weights): the native engine handles the
Inception family's Concatenate and BatchNormalization layers, and
``benchmarks/bench_native_relevance.py`` times it at 299 x 299.
"""

# %%
# Log-mel spectrograms of the bundled FSDD sample
# ------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import (AudioLoader, CNNEmbedder, KerasMLPClassifier,
                          SpectrogramTransformer)
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.explain import relevance_maps
from sklearn_rbfm.model_selection import SpeakerRotationSplit
from sklearn_rbfm.plotting import SpectrogramExplanationDisplay

data = load_fsdd_sample()
waves = AudioLoader(sr=8000, duration=0.8).fit_transform(data.filenames)
spectrogram = SpectrogramTransformer(kind="mel", sr=8000, n_fft=256,
                                     hop_length=128, n_mels=32).fit(waves)
X = spectrogram.transform(waves)
X = (X - X.min()) / (X.max() - X.min())  # non-negative, as deep Taylor assumes
y = data.target
train, test = next(SpeakerRotationSplit(6, validation=False).split(X, y, data.groups))

# %%
# Embedder and dense head, fitted as one pipeline
# -----------------------------------------------
# The embedder's small CNN (three Conv-ReLU-MaxPool blocks and global
# average pooling) is fine-tuned on the training speakers' digits.
pipe = make_pipeline(
    CNNEmbedder("small_cnn", spectrogram_shape=spectrogram.spectrogram_shape_,
                fine_tune="all", epochs=15, random_state=0),
    StandardScaler(),
    KerasMLPClassifier((64,), epochs=60, learning_rate=0.005, random_state=0),
)
pipe.fit(X[train], y[train])
print(f"test accuracy on an unseen speaker: {pipe.score(X[test], y[test]):.2f}")

# %%
# Deep Taylor relevance of the decision on the input spectrogram
# --------------------------------------------------------------
# One heatmap per test clip, over the spectrogram's bins: red bins raised
# the score of the class the pipeline predicted.
clips = test[:2]
R = relevance_maps(pipe, X[clips], method="deep_taylor")
predicted = pipe.predict(X[clips])
for clip, relevance, label in zip(clips, R, predicted):
    SpectrogramExplanationDisplay.from_explanation(
        X[clip].reshape(spectrogram.spectrogram_shape_), relevance, sr=8000,
        hop_length=128, title=f"deep Taylor: digit {y[clip]}, predicted {label}")
print("relevance map shape:", R.shape, "share of relevance >= 0:",
      float(np.clip(R, 0, None).sum() / np.abs(R).sum()))
plt.show()
