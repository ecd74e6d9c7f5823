"""Becker et al.'s networks on FSDD, leave one speaker out: accuracy, cost, explanations.

All 3000 clips of the Free Spoken Digit Dataset (6 speakers), 6 folds of
``LeaveOneGroupOut`` over the speakers: each net trains on all 5 training
speakers with the classifier's default schedule and augmentation (new
voices by speed or frequency warps, random offsets, masks) and is tested
on the sixth.

- AudioNet on 8 kHz waveforms in a fixed 8000-sample frame, each file's
  DC offset removed (``AudioLoader(8000, duration=1.0, remove_dc=True)``;
  ``--keep-dc`` keeps it, as the runs before);
- the AlexNet-like net on 129 x 63 log power spectrograms of those
  waveforms (``SpectrogramTransformer('power', sr=8000, n_fft=256,
  hop_length=128, top_db=60)``, each floored 60 dB below its peak;
  ``--front mel``: 64 log-mel bands; ``--top-db 0``: the absolute floor of
  -100 dB, as the runs before);
- named baseline: logistic regression on the same spectrograms,
  standardised per bin (``C=0.01``).

Training runs fold by fold (``--phase train``), one process per net
(``--net``), so that both share the machine; after each fold its
accuracies, wall and CPU seconds, epochs run and the load average are
written to ``--out``/results_<net>.json and the fitted net is pickled
beside it, so that a cut-off run keeps the folds it finished.
``--phase offsets`` scores each pickled net again with ``test_offsets`` of
1, 3, 5 and 9 (its predictions averaged over that many placements of each
test clip's content) into ``--out``/offsets_<net>.json.
``--phase explain`` then reads the pickles and, per fold, on ``--n-explain``
test clips:

- Becker et al.'s input-manipulation test
  (:func:`sklearn_rbfm.explain.manipulation_test`): the relevance (LRP-
  epsilon) of the test clips' true classes names a time segment (AudioNet)
  or frequency band (AlexNet-like); the accuracy drop when it is silenced
  against the drop for a control region of equal size;
- AOPC of deep Taylor and LRP-epsilon orders against a random order
  (:func:`sklearn_rbfm.explain.perturbation_curve`, up to half of the inputs
  removed in 10 steps: waveform samples set to zero, silence; spectrogram
  bins set to the clip's minimum, its floor), true class explained.

Run (as measured in RESULTS.md; ``--folds`` splits a net's folds over
processes; without ``--epochs`` each net trains for its default number of
epochs, 100 for the AlexNet-like net, 30 for AudioNet; ``--params`` passes
further classifier parameters, e.g. ``'{"channel_db": 10, "n_networks":
3}'``)::

    nice -n 5 python benchmarks/bench_becker.py --net alexnet --width 0.25
    nice -n 5 python benchmarks/bench_becker.py --net audionet --width 0.25
    nice -n 5 python benchmarks/bench_becker.py --phase explain --net alexnet --n-explain 30
    nice -n 5 python benchmarks/bench_becker.py --phase explain --net audionet --n-explain 30
    python benchmarks/bench_becker.py --phase report
"""

import argparse
import json
import os
import pickle
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import AudioLoader, KerasCNNClassifier, SpectrogramTransformer

FSDD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd"
NETS = ("audionet", "alexnet")
OFFSETS = (1, 3, 5, 9)


def load(remove_dc=True):
    labels = pd.read_csv(FSDD / "labels.csv")
    files = [str(FSDD / p) for p in labels["path"]]
    waves = AudioLoader(8000, duration=1.0, remove_dc=remove_dc).fit_transform(files)
    return waves, labels["label"].to_numpy(), labels["speaker"].to_numpy()


def spectrograms(waves, kind="power", top_db=60.0):
    spec = SpectrogramTransformer(kind, sr=8000, n_fft=256, hop_length=128,
                                  top_db=top_db or None,
                                  **({"n_mels": 64} if kind == "mel" else {}))
    return spec.fit_transform(waves), spec.spectrogram_shape_


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def results_file(args, net, phase="train"):
    # the phases write separate files: a training run still going must not
    # overwrite the explanations of the folds it finished
    return Path(args.out) / f"{'results' if phase == 'train' else 'explain'}_{net}.json"


def read(path):
    return json.loads(Path(path).read_text()) if Path(path).exists() else {}


def write(path, results):
    Path(path).write_text(json.dumps(results, indent=1))


def train(args, waves, S, shape, y, speakers):
    # one process per net, so that two can share the machine; the baseline
    # runs beside the spectrogram net, on the same spectrograms
    out = results_file(args, args.net)
    folds = list(LeaveOneGroupOut().split(waves, y, speakers))
    for k, (tr, te) in enumerate(folds):
        if args.folds and k not in args.folds:
            continue
        speaker = str(speakers[te][0])
        row = {"speaker": speaker, "n_train": int(len(tr)), "n_test": int(len(te)),
               "top_db": args.top_db}
        if args.net == "alexnet":
            scaler = StandardScaler().fit(S[tr])
            logreg, wall, cpu = timed(lambda: LogisticRegression(
                max_iter=2000, C=0.01).fit(scaler.transform(S[tr]), y[tr]))
            row["logreg"] = {"accuracy": logreg.score(scaler.transform(S[te]), y[te]),
                             "wall_s": wall, "cpu_s": cpu}
        net = args.net
        X = waves if net == "audionet" else S
        params = json.loads(args.params)
        clf = KerasCNNClassifier(
            net, spectrogram_shape=None if net == "audionet" else shape,
            width=args.width, epochs=args.epochs, random_state=args.seed, **params)
        clf, wall, cpu = timed(lambda: clf.fit(X[tr], y[tr], groups=speakers[tr]))
        row[net] = {"accuracy": clf.score(X[te], y[te]), "wall_s": wall, "cpu_s": cpu,
                    "epochs_run": len(clf.history_["loss"]), "width": args.width,
                    "max_epochs": args.epochs, "params": params,
                    "final_loss": clf.history_["loss"][-1]}
        with open(Path(args.out) / f"fold{k}_{net}.pkl", "wb") as f:
            pickle.dump(clf, f)
        row["load_average"] = os.getloadavg()
        # read again: another process may have written its folds meanwhile
        results = read(out)
        results[str(k)] = {**results.get(str(k), {}), **row}
        write(out, results)
        print(f"fold {k} ({speaker}): " + ", ".join(
            f"{m} {row[m]['accuracy']:.3f} ({row[m]['wall_s']:.0f} s)"
            for m in row if isinstance(row[m], dict)), flush=True)


def explain(args, waves, S, shape, y, speakers):
    from sklearn_rbfm.explain import manipulation_test, perturbation_curve, relevance_maps

    net = args.net
    out = results_file(args, net, "explain")
    folds = list(LeaveOneGroupOut().split(waves, y, speakers))
    for k, (_, te) in enumerate(folds):
        path = Path(args.out) / f"fold{k}_{net}.pkl"
        if not path.exists():
            continue
        if args.folds and k not in args.folds:
            continue
        chosen = np.random.RandomState(args.seed).permutation(te)[: args.n_explain]
        with open(path, "rb") as f:
            clf = pickle.load(f)
        # set directly: the nets pickled before test_offsets lack it
        clf.test_offsets = args.test_offsets
        X = waves if net == "audionet" else S
        Xe, ye = X[chosen], y[chosen]
        axis = "time" if net == "audionet" else "frequency"
        test, wall, _ = timed(lambda: manipulation_test(
            clf, Xe, ye, axis=axis, method="lrp.epsilon",
            region_fraction=args.region_fraction, random_state=args.seed))
        entry = {"manipulation": {
            "axis": axis, "classes": [int(c) for c in test.classes],
            "regions": test.regions.tolist(), "accuracy": test.accuracy,
            "relevant_drop": test.relevant_drop, "control_drop": test.control_drop,
            "seconds": wall}}
        aopc, random_aopc = {}, []
        for method in ("deep_taylor", "lrp.epsilon"):
            R = relevance_maps(clf, Xe, method=method, target=ye)
            curve = perturbation_curve(clf, Xe, ye, R.reshape(len(Xe), -1),
                                       steps=10, max_fraction=0.5,
                                       fill="zero" if net == "audionet" else "min",
                                       random_state=args.seed)
            aopc[method] = curve.aopc
            random_aopc.append(curve.random_aopc)
        aopc["random"] = float(np.mean(random_aopc))
        entry["aopc"] = aopc
        results = read(out)
        results[str(k)] = entry
        write(out, results)
        print(f"fold {k} {net}: drop relevant {test.relevant_drop:.3f} vs control "
              f"{test.control_drop:.3f}; AOPC {aopc}", flush=True)


def offsets(args, waves, S, shape, y, speakers):
    # test-time placements: each fitted net's accuracy when predict_proba
    # averages 1, 3, 5 or 9 placements of each test clip's content
    net = args.net
    X = waves if net == "audionet" else S
    results = {}
    for k, (_, te) in enumerate(LeaveOneGroupOut().split(waves, y, speakers)):
        path = Path(args.out) / f"fold{k}_{net}.pkl"
        if not path.exists() or (args.folds and k not in args.folds):
            continue
        with open(path, "rb") as f:
            clf = pickle.load(f)
        row = {"speaker": str(speakers[te][0])}
        for n in OFFSETS:
            # set directly: the nets pickled before test_offsets lack it
            clf.test_offsets = n
            score, wall, cpu = timed(lambda: clf.score(X[te], y[te]))
            row[str(n)] = {"accuracy": score, "wall_s": wall, "cpu_s": cpu}
        results[str(k)] = row
        print(f"fold {k} ({row['speaker']}): " + ", ".join(
            f"{n} placements {row[str(n)]['accuracy']:.3f} ({row[str(n)]['cpu_s']:.1f} CPU s)"
            for n in OFFSETS), flush=True)
    write(Path(args.out) / f"offsets_{net}.json", results)
    for n in OFFSETS:
        print(f"mean, {n} placements: "
              f"{np.mean([r[str(n)]['accuracy'] for r in results.values()]):.3f}")


def report(args):
    results = {}
    for net in NETS:
        for k, row in read(results_file(args, net)).items():
            results.setdefault(k, {}).update(row)
        for k, entry in read(results_file(args, net, "explain")).items():
            if net in results.get(k, {}):
                results[k][net].update(entry)
    folds = sorted(results, key=int)

    def cell(k, model, fmt):
        return fmt(results[k][model]) if model in results[k] else "-"

    print("| fold (test speaker) | logistic regression | AlexNet-like | AudioNet | "
          "AlexNet-like fit s (CPU s) | AudioNet fit s (CPU s) | load |")
    print("|---|---|---|---|---|---|---|")
    for k in folds:
        acc = lambda r: f"{r['accuracy']:.3f}"
        cost = lambda r: f"{r['wall_s']:.0f} ({r['cpu_s']:.0f})"
        print(f"| {k} ({results[k]['speaker']}) | {cell(k, 'logreg', acc)} | "
              f"{cell(k, 'alexnet', acc)} | {cell(k, 'audionet', acc)} | "
              f"{cell(k, 'alexnet', cost)} | {cell(k, 'audionet', cost)} | "
              f"{results[k]['load_average'][0]:.1f} |")
    means = []
    for model in ("logreg", "alexnet", "audionet"):
        done = [k for k in folds if model in results[k]]
        means.append(f"{np.mean([results[k][model]['accuracy'] for k in done]):.3f} "
                     f"({len(done)} folds)" if done else "-")
    print(f"| mean of the folds run | {' | '.join(means)} | | | |")
    rows = [(k, net) for k in folds for net in NETS
            if "manipulation" in results[k].get(net, {})]
    if rows:
        print("\n| fold | net | axis: relevant region per digit | accuracy | "
              "drop relevant | drop control | AOPC deep Taylor | AOPC LRP-eps | "
              "AOPC random |")
        print("|---|---|---|---|---|---|---|---|---|")
        for k, net in rows:
            m, a = results[k][net]["manipulation"], results[k][net]["aopc"]
            regions = " ".join(f"{c}:{r[0]}-{r[1]}" for c, r in zip(m["classes"], m["regions"]))
            print(f"| {k} | {net} | {m['axis']}: {regions} | {m['accuracy']:.3f} | "
                  f"{m['relevant_drop']:.3f} | {m['control_drop']:.3f} | "
                  f"{a['deep_taylor']:.4f} | {a['lrp.epsilon']:.4f} | {a['random']:.4f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("train", "explain", "offsets", "report"),
                        default="train")
    parser.add_argument("--net", choices=NETS, default="alexnet")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "bench_becker"),
                        help="folder of the per-net JSON results and fitted nets")
    parser.add_argument("--folds", type=int, nargs="*", default=None)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the classifier's own)")
    parser.add_argument("--params", default="{}",
                        help="further KerasCNNClassifier parameters, as JSON")
    parser.add_argument("--n-explain", type=int, default=60)
    parser.add_argument("--region-fraction", type=float, default=0.2)
    parser.add_argument("--test-offsets", type=lambda v: v if v == "auto" else int(v),
                        default="auto",
                        help="explain phase: the classifiers' test_offsets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-dc", action="store_true",
                        help="keep the files' DC offsets (the runs before remove_dc)")
    parser.add_argument("--front", choices=("power", "mel"), default="power",
                        help="spectrograms: 129 log power bins, or 64 log-mel bands")
    parser.add_argument("--top-db", type=float, default=60.0,
                        help="floor each spectrogram this many dB below its peak; "
                             "0: the absolute -100 dB floor of the runs before")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.phase == "report":
        report(args)
        return
    waves, y, speakers = load(not args.keep_dc)
    S, shape = spectrograms(waves, args.front, args.top_db)
    print(f"FSDD: {len(y)} clips, speakers {sorted(set(speakers))}, spectrograms {shape}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    phases = {"train": train, "explain": explain, "offsets": offsets}
    phases[args.phase](args, waves, S, shape, y, speakers)


if __name__ == "__main__":
    main()
