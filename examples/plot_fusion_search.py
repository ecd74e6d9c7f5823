"""
===========================================================
Feature-level and decision-level fusion of masked models
===========================================================

The RBFM recipe ends with two kinds of fusion:

* **feature-level fusion** ("FF"): one classifier on the concatenated
  features of all extractors -- a :class:`~sklearn.pipeline.FeatureUnion`;
* **decision-level fusion**: the average vote of a subset of models, the
  subset chosen by scoring *every* combination on a development set --
  :class:`~sklearn_rbfm.VotingFusionSearch`, whose ranking is the paper's
  Table 1 (:class:`~sklearn_rbfm.plotting.FusionRankingDisplay`).

Here on the bundled Free Spoken Digit sample: detect the digit "zero" among
all ten digits. Three spectrogram front ends play the part of the paper's
three feature extractors; each gets a base model and two relevance-masked
models (minimal, negative), and two FF models join them. Speakers are kept
apart: three train the members, two form the development set on which the
fusion is chosen, and the last one is the test set.

This is the recipe written out by hand. :class:`~sklearn_rbfm.RBFMClassifier`
is the same system as one estimator, with the fusion chosen on out-of-fold
probabilities instead of a development set:
:ref:`sphx_glr_auto_examples_plot_rbfm_classifier.py`.
"""

# %%
# Waveforms and speaker split
# ---------------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import (AudioLoader, KerasMLPClassifier, RelevanceMasker,
                          SpectrogramTransformer, VotingFusionSearch)
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.plotting import FusionRankingDisplay

data = load_fsdd_sample()
y = (data.target_names[data.target] == "0").astype(int)
waves = AudioLoader(sr=8000, duration=0.8).fit_transform(data.filenames)
train = np.isin(data.groups, ["george", "jackson", "lucas"])
dev = np.isin(data.groups, ["nicolas", "theo"])
test = data.groups == "yweweler"

# %%
# Three feature extractors, each a pipeline from waveforms
# --------------------------------------------------------
# Standardised: on 150 training clips the dense nets learn from standardised
# log-spectrograms within 20 epochs, not from [0, 1]-scaled ones.
front_ends = {
    "mel24": SpectrogramTransformer(kind="mel", sr=8000, n_fft=256,
                                    hop_length=128, n_mels=24),
    "mel48": SpectrogramTransformer(kind="mel", sr=8000, n_fft=512,
                                    hop_length=256, n_mels=48),
    "power": SpectrogramTransformer(kind="power", sr=8000, n_fft=128,
                                    hop_length=256),
}
N_KEPT = 200  # minimal masks keep as many features for every extractor


def features(name):
    return make_pipeline(clone(front_ends[name]), StandardScaler())


def mlp():
    return KerasMLPClassifier(epochs=20, random_state=0)


# %%
# Base and masked models: 3 extractors x {none, minimal, negative}
# ----------------------------------------------------------------
members, bases = [], {}
for name in front_ends:
    base = make_pipeline(features(name), mlp()).fit(waves[train], y[train])
    bases[name] = base[-1]
    members.append((name, base))
    for strategy in ("minimal", "negative"):
        masker = RelevanceMasker(base[-1], prefit=True, strategy=strategy,
                                 n_features=N_KEPT)
        model = make_pipeline(features(name), masker, mlp())
        members.append((f"{name}_{strategy[:3]}",
                        model.fit(waves[train], y[train])))

# %%
# Feature-level fusion: a FeatureUnion of the extractors
# ------------------------------------------------------
# FF concatenates the three feature sets; FF_min the three minimal-masked
# ones (600 features instead of several thousands).
for suffix, strategy in (("", None), ("_min", "minimal")):
    branches = []
    for name in front_ends:
        steps = [features(name)]
        if strategy is not None:
            steps.append(RelevanceMasker(bases[name], prefit=True,
                                         strategy=strategy, n_features=N_KEPT))
        branches.append((name, make_pipeline(*steps)))
    ff = make_pipeline(FeatureUnion(branches), mlp())
    members.append((f"FF{suffix}", ff.fit(waves[train], y[train])))

# %%
# Decision-level fusion: every subset of the 11 models on the dev set
# --------------------------------------------------------------------
# ``cv='prefit'``: the members are fitted; each predicts the development set
# once, then all 2047 subsets are scored from those predictions.
search = VotingFusionSearch(members, cv="prefit").fit(waves[dev], y[dev])
table = pd.DataFrame(search.cv_results_).sort_values("rank")
print(table[["members", "n_members", "score", "rank"]].head(8).to_string())

# %%
# The ranking with its member matrix (the paper's Table 1)
FusionRankingDisplay.from_estimator(search, n_top=15)
plt.tight_layout()
plt.show()

# %%
# Dev scores are optimistic, test scores are not
# ----------------------------------------------
# ``best_score_`` is the best of 2047 scores measured on the same dev
# predictions: part of its margin is luck. The held-out speaker tells how the
# chosen fusion really does (``cross_validate`` of the whole search gives the
# same honest view when no separate test set exists).
for name, member in members:
    print(f"{name:>12}: test AUC "
          f"{roc_auc_score(y[test], member.predict_proba(waves[test])[:, 1]):.3f}")
print(f"best fusion {search.best_members_}: dev AUC {search.best_score_:.3f}, "
      f"test AUC {roc_auc_score(y[test], search.predict_proba(waves[test])[:, 1]):.3f}")
