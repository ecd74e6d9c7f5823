"""
=====================================================
RELAX with time, frequency and random masks
=====================================================

RELAX explains a *representation* rather than a decision: it masks the
input many times, embeds every masked copy, and scores each bin by how
similar the masked embeddings stay to the original one when that bin is
kept (importance), and by how much that similarity varies (uncertainty).

For spectrograms the masks may follow the axes: whole frames (time), whole
frequency bands, both, or RELAX's own smooth random masks. Here the
explained representation is a fitted scikit-learn transformer, a 16-d PCA of
log-mel spectrograms of the bundled Free Spoken Digit sample; any fitted
embedder works the same way, e.g. a :class:`~sklearn_rbfm.CNNEmbedder`.
"""

# %%
# Spectrograms and the representation to explain
# -----------------------------------------------
import matplotlib.pyplot as plt

from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import AudioLoader, SpectrogramTransformer
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.explain import RELAX

data = load_fsdd_sample()
waves = AudioLoader(sr=8000, duration=0.8).fit_transform(data.filenames)
spectrogram = SpectrogramTransformer(kind="mel", sr=8000, n_fft=256,
                                     hop_length=128, n_mels=32).fit(waves)
S = spectrogram.transform(waves)
embedder = make_pipeline(StandardScaler(), PCA(n_components=16, random_state=0)).fit(S)
clip = S[:1]  # flat, as the transformer returns it

# %%
# Importance and uncertainty for each masking strategy
# ----------------------------------------------------
strategies = ("random", "time", "frequency", "time_frequency")
fig, axes = plt.subplots(3, 4, figsize=(13, 7), sharex=True, sharey=True)
extent = (0, waves.shape[1] / 8000, 0, 32)
for col, strategy in enumerate(strategies):
    relax = RELAX(embedder, n_masks=1000, strategy=strategy, mask_size=(4, 4),
                  spectrogram_shape=spectrogram, batch_size=250, random_state=0)
    importance, uncertainty = relax.explain(clip)  # flat, like clip
    axes[0, col].imshow(spectrogram.to_3d(clip)[0], origin="lower", aspect="auto",
                        extent=extent)
    axes[0, col].set_title(strategy)
    axes[1, col].imshow(spectrogram.to_3d(importance)[0], origin="lower",
                        aspect="auto", extent=extent, cmap="viridis")
    axes[2, col].imshow(spectrogram.to_3d(uncertainty)[0], origin="lower",
                        aspect="auto", extent=extent, cmap="magma")
for row, name in enumerate(("spectrogram", "importance", "uncertainty")):
    axes[row, 0].set_ylabel(f"{name}\nmel band")
for ax in axes[-1]:
    ax.set_xlabel("Time (s)")
fig.suptitle(f"RELAX on the clip {data.filenames[0].rsplit('/', 1)[-1]}")
plt.show()

# %%
# Time masks give one importance per frame (constant along frequency),
# frequency masks one per band (constant along time): each strategy answers
# a different question -- *when* and *in which band* the representation
# looks -- while random masks localise both at once, more coarsely.
