"""Faithfulness of deep Taylor relevance, and the paper's masking finding, on FSDD.

Real data: the Free Spoken Digit Dataset (3000 recordings, 10 digits,
6 speakers, 8 kHz). Features: statistics (mean, std, min, max over time) of
64-band log-mel spectrograms = 256 features per clip, standardised. Splits:
speaker-grouped 3-fold CV (GroupKFold), so test speakers are never seen.

1. Faithfulness (pixel flipping). Per test sample, zero (set to the training
   mean) its k most relevant features under the base model's deep Taylor
   relevance, versus k random features (baseline); accuracy drop per k.
2. The paper's finding. A fresh base model trained on the features masked by
   RelevanceMasker: no mask, 'minimal' (n_features = 64 and 32) and
   'negative'. The paper reports that 'minimal' keeps the score with far
   fewer features and 'negative' alone loses a little.

Run: ``python benchmarks/bench_relevance_faithfulness.py [path/to/fsdd]``
"""

import os
import sys
import time

import numpy as np

# the data set sits beside the repository: ../shared/data/fsdd
FSDD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "shared", "data", "fsdd")
KS = (4, 16, 64)


def features(folder):
    import librosa
    import pandas as pd

    table = pd.read_csv(os.path.join(folder, "labels.csv"))
    rows = []
    for path in table["path"]:
        audio, sr = librosa.load(os.path.join(folder, path), sr=8000)
        mel = librosa.feature.melspectrogram(
            y=audio, sr=sr, n_fft=256, hop_length=80, n_mels=64, fmax=4000
        )
        log_mel = np.log(mel + 1e-6)
        rows.append(np.concatenate(
            [log_mel.mean(1), log_mel.std(1), log_mel.min(1), log_mel.max(1)]
        ))
    return (
        np.asarray(rows, dtype=np.float32),
        table["label"].to_numpy(),
        table["speaker"].to_numpy(),
    )


def base_model(seed=0):
    from sklearn_rbfm import KerasMLPClassifier

    return KerasMLPClassifier(epochs=60, batch_size=64, learning_rate=1e-3, random_state=seed)


def main():
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_rbfm import RelevanceMasker
    from sklearn_rbfm._relevance import compute_relevance

    start = time.perf_counter()
    X, y, speakers = features(FSDD)
    print(f"features {X.shape} from {len(np.unique(speakers))} speakers in "
          f"{time.perf_counter() - start:.1f} s")
    rng = np.random.RandomState(0)
    flips = {k: ([], []) for k in KS}
    clean = []
    scores = {"none": [], "minimal n=64": [], "minimal n=32": [], "negative": []}
    for fold, (train, test) in enumerate(GroupKFold(3).split(X, y, speakers)):
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        clf = base_model().fit(X_train, y[train])
        clean.append(clf.score(X_test, y[test]))
        relevance = compute_relevance(clf.model_, X_test)
        order = np.argsort(-relevance, axis=1)
        for k in KS:
            top = X_test.copy()
            np.put_along_axis(top, order[:, :k], 0.0, axis=1)
            random = X_test.copy()
            picks = np.argsort(rng.rand(*X_test.shape), axis=1)[:, :k]
            np.put_along_axis(random, picks, 0.0, axis=1)
            flips[k][0].append(clf.score(top, y[test]))
            flips[k][1].append(clf.score(random, y[test]))
        maskers = {
            "none": None,
            "minimal n=64": RelevanceMasker(base_model(), n_features=64),
            "minimal n=32": RelevanceMasker(base_model(), n_features=32),
            "negative": RelevanceMasker(base_model(), strategy="negative"),
        }
        for name, masker in maskers.items():
            steps = [StandardScaler()] + ([masker] if masker else []) + [base_model(1)]
            pipe = make_pipeline(*steps).fit(X[train], y[train])
            scores[name].append(pipe.score(X[test], y[test]))
        print(f"fold {fold}: test speakers {sorted(set(speakers[test]))}, "
              f"base accuracy {clean[-1]:.3f}, {time.perf_counter() - start:.0f} s")

    print(f"\n## faithfulness (accuracy, mean over 3 speaker-grouped folds; "
          f"base model {np.mean(clean):.3f})")
    print("k zeroed | top-k relevant | k random | drop top-k | drop random")
    for k in KS:
        top, random = np.mean(flips[k][0]), np.mean(flips[k][1])
        print(f"{k:>8} | {top:14.3f} | {random:8.3f} | {np.mean(clean) - top:10.3f} | "
              f"{np.mean(clean) - random:11.3f}")
    print("\n## models trained on masked features (accuracy per fold, mean)")
    for name, values in scores.items():
        print(f"{name:<14} {' '.join(f'{v:.3f}' for v in values)}  mean {np.mean(values):.3f}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
