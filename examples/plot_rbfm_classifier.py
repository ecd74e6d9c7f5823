"""
=========================================================
The whole RBFM system as one estimator: RBFMClassifier
=========================================================

:class:`~sklearn_rbfm.RBFMClassifier` builds the paper's members from a list
of embedders -- per embedding a base model, a model on the *minimal* (most
relevant) features and one on the *negatively* masked features, and, with
two or more embedders, the same three on the concatenated embeddings (FF) --
and fuses them. The fused subset is chosen on **out-of-fold** probabilities
over the whole training set (inner cross-fitting, grouped by speaker here),
not on a small development part, and the members are then refitted on all
of it. The masked members reuse the fitted base model's relevances.

Task: detect the digit "zero" among the ten digits of the bundled Free
Spoken Digit sample. Two hand-made embeddings stand in for the paper's
CNNs (they cost nothing to compute): log-mel band statistics at two
resolutions. Four speakers train, two are held out for the test.
"""

# %%
# Data and embedders
# ------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from sklearn_rbfm import AudioLoader, RBFMClassifier
from sklearn_rbfm.baselines import LogMelStatistics
from sklearn_rbfm.datasets import load_fsdd_sample

data = load_fsdd_sample()
waves = AudioLoader(sr=8000, duration=0.8).fit_transform(data.filenames)
y = (data.target_names[data.target] == "0").astype(int)
speakers = np.asarray(data.groups)
test = np.isin(speakers, np.unique(speakers)[-2:])
train = ~test

embedders = [
    ("mel40", LogMelStatistics(sr=8000, n_mels=40)),
    ("mel16", LogMelStatistics(sr=8000, n_mels=16, win_length=400, n_fft=512,
                               hop_length=160)),
]

# %%
# Fit: members, out-of-fold choice, refit
# ---------------------------------------
# ``groups`` reach the inner folds: no speaker is on both sides of an inner
# split either. ``n_features=0.5`` keeps half of each embedding for the
# minimal masking.
clf = RBFMClassifier(embedders, n_features=0.5, cv=GroupKFold(2), random_state=0)
clf.fit(waves[train], y[train], groups=speakers[train])
print("members:", list(clf.members_))
print("chosen (with weights):", dict(zip(clf.members_, clf.weights_)))
print(f"out-of-fold AUC of the chosen fusion: {clf.best_score_:.3f}")

# %%
# Test on unheard speakers
# ------------------------
# Every member's test AUC beside the fusion's. The single member the same
# out-of-fold protocol would have picked is the one with the best pooled
# out-of-fold AUC (``cv_results_`` rows with one member).
probas = clf.predict_member_proba(waves[test])
member_auc = {name: roc_auc_score(y[test], p[:, 1])
              for name, p in zip(clf.members_, probas)}
fusion_auc = roc_auc_score(y[test], clf.predict_proba(waves[test])[:, 1])
single = clf.cv_results_["n_members"] == 1
picked = clf.cv_results_["members"][single][np.argmax(clf.cv_results_["score"][single])][0]
print(f"fusion test AUC {fusion_auc:.3f}; protocol's single model {picked}: "
      f"{member_auc[picked]:.3f}")

fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(member_auc)
ax.bar(names, [member_auc[n] for n in names], color="C0", label="member")
ax.axhline(fusion_auc, color="C3", label="fusion")
ax.set_ylim(0.5, 1.0)
ax.set_ylabel("test AUC (unheard speakers)")
ax.tick_params(axis="x", rotation=45)
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
