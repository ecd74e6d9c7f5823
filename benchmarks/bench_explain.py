"""Input-level explanations on FSDD: accuracies, faithfulness (AOPC), RELAX cost.

1. Speaker-disjoint split of the Free Spoken Digit Dataset (the first fold of
   ``SpeakerRotationSplit(3, validation=False)``: 4 speakers train, 2 test),
   ``--per-cell`` takes per (digit, speaker). Two networks of Becker et al.
   at reduced width and few epochs (2 shared CPU cores):

   - AudioNet on 1 s waveforms at 8 kHz;
   - the AlexNet-like net on standardised log-mel spectrograms (64 x 63);
   - named baseline: logistic regression on the same standardised
     spectrograms.

2. Faithfulness: perturbation curves on ``--n-explain`` test clips, removing
   up to half of the inputs (replaced by zero: silence for waveforms, the
   training mean for the standardised spectrograms) in the order given by
   deep Taylor, LRP-epsilon and the gradient, against a random order (the
   baseline). AOPC of the mean true-class probability; higher is more
   faithful.

3. RELAX cost per clip and strategy, explaining the AlexNet-like net's
   ``dense2`` embedding with ``--n-masks`` masks.

Run: ``python benchmarks/bench_explain.py`` (``--per-cell 4 --epochs 2``
for a smoke run).
"""

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import AudioLoader, KerasCNNClassifier, SpectrogramTransformer
from sklearn_rbfm._keras import import_tensorflow, predict_batched
from sklearn_rbfm.explain import RELAX, perturbation_curve, relevance_maps
from sklearn_rbfm.model_selection import SpeakerRotationSplit

FSDD = Path(os.environ.get("FSDD_ROOT", Path(__file__).resolve().parents[2] / "shared/data/fsdd"))
METHODS = ("deep_taylor", "lrp.epsilon", "gradient")


def load(per_cell, seed):
    labels = pd.read_csv(FSDD / "labels.csv")
    rng = np.random.RandomState(seed)
    order = labels.iloc[rng.permutation(len(labels))]
    picked = order.groupby(["label", "speaker"]).head(per_cell).sort_index()
    files = [str(FSDD / p) for p in picked["path"]]
    waves = AudioLoader(8000, duration=1.0).fit_transform(files)
    return waves, picked["label"].to_numpy(), picked["speaker"].to_numpy()


def faithfulness(clf, X, y, n_explain, seed):
    rows = {}
    chosen = np.random.RandomState(seed).permutation(len(X))[:n_explain]
    X, y = X[chosen], y[chosen]
    random_aopc = []
    for method in METHODS:
        start = time.perf_counter()
        R = relevance_maps(clf, X, method=method, target=y)
        seconds = time.perf_counter() - start
        result = perturbation_curve(clf, X.reshape(len(X), -1), y, R, steps=10,
                                    max_fraction=0.5, random_state=seed)
        rows[method] = (result.aopc, seconds / len(X))
        random_aopc.append(result.random_aopc)
    rows["random"] = (float(np.mean(random_aopc)), 0.0)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-cell", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--n-explain", type=int, default=60)
    parser.add_argument("--n-masks", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    waves, y, speakers = load(args.per_cell, args.seed)
    train, test = next(SpeakerRotationSplit(3, validation=False).split(waves, y, speakers))
    print(f"FSDD: {len(train)} train clips ({sorted(set(speakers[train]))}), "
          f"{len(test)} test clips ({sorted(set(speakers[test]))})")

    spec = SpectrogramTransformer("mel", sr=8000, n_fft=256, hop_length=128, n_mels=64)
    S = spec.fit_transform(waves)
    scaler = StandardScaler().fit(S[train])
    Z = scaler.transform(S).astype(np.float32)

    results = {}
    start = time.perf_counter()
    logreg = LogisticRegression(max_iter=2000, C=0.01).fit(Z[train], y[train])
    results["logistic regression (baseline)"] = (logreg.score(Z[test], y[test]),
                                                 time.perf_counter() - start)
    common = dict(width=args.width, epochs=args.epochs, batch_size=32,
                  learning_rate=1e-3, random_state=args.seed)
    start = time.perf_counter()
    alexnet = KerasCNNClassifier("alexnet", spectrogram_shape=spec.spectrogram_shape_,
                                 **common).fit(Z[train], y[train])
    results["AlexNet-like (log-mel)"] = (alexnet.score(Z[test], y[test]),
                                         time.perf_counter() - start)
    start = time.perf_counter()
    audionet = KerasCNNClassifier("audionet", **common).fit(waves[train], y[train])
    results["AudioNet (waveform)"] = (audionet.score(waves[test], y[test]),
                                      time.perf_counter() - start)
    print("\n| model | test accuracy | fit time (s) |\n|---|---|---|")
    for name, (acc, sec) in results.items():
        print(f"| {name} | {acc:.3f} | {sec:.0f} |")

    print(f"\nAOPC over {args.n_explain} test clips, up to 50% of the inputs removed "
          "in 10 steps (true class explained)")
    print("\n| order | AudioNet AOPC | s/clip | AlexNet-like AOPC | s/clip |\n|---|---|---|---|---|")
    net_rows = [faithfulness(net, X[test], y[test], args.n_explain, args.seed)
                for net, X in ((audionet, waves), (alexnet, Z))]
    for method in METHODS + ("random",):
        a, b = net_rows[0][method], net_rows[1][method]
        print(f"| {method} | {a[0]:.4f} | {a[1]:.3f} | {b[0]:.4f} | {b[1]:.3f} |")

    tf = import_tensorflow()
    model = alexnet.model_
    embedding = tf.keras.Model(model.input, model.get_layer("dense2").output)

    def embed(rows):
        return predict_batched(embedding, rows.astype(np.float32), 256)

    clips = Z[test][:3].reshape((3,) + spec.spectrogram_shape_)
    print(f"\nRELAX, {args.n_masks} masks per clip, dense2 embedding of the AlexNet-like net"
          "\n\n| strategy | s/clip |\n|---|---|")
    for strategy in ("random", "time", "frequency", "time_frequency"):
        relax = RELAX(embed, n_masks=args.n_masks, strategy=strategy, batch_size=250,
                      random_state=args.seed)
        relax.explain(clips[:1])
        start = time.perf_counter()
        relax.explain(clips)
        print(f"| {strategy} | {(time.perf_counter() - start) / len(clips):.2f} |")
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs visible; "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


if __name__ == "__main__":
    main()
