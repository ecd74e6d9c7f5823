"""Seed robustness of the fine-tuned small CNN (``CNNEmbedder('small_cnn', fine_tune='all')``).

Usage::

    python benchmarks/bench_finetune.py run --out after.json
    python benchmarks/bench_finetune.py compare before.json after.json
    python benchmarks/bench_finetune.py table part1.json part2.json ...

``table`` prints the table of one run, possibly run in parts (for example
``run --digits`` for the demo and ``run --skip-demo --digits 3`` for one
digit). ``run`` fine-tunes the small CNN from scratch with 5 seeds on each task and
scores its embedding by the test AUC of a logistic regression
(``StandardScaler + LogisticRegression``) fitted on the embeddings of the
training clips; the embedder's own softmax head is dropped by
``CNNEmbedder`` and is not scored. Tasks (one digit against the nine others,
about 1:9, as in ``rbfm demo``), all split by speaker (``GroupKFold``, 3
folds, so 2 of the 6 speakers are unseen in each test fold):

- ``demo``: the bundled sample (:func:`sklearn_rbfm.datasets.load_fsdd_sample`,
  300 clips), "0" against the rest, clips of 1 s at 16 kHz, the front end and
  epochs (10) of ``rbfm demo``; all 3 outer folds.
- ``fsdd-<digit>``: real FSDD recordings (``../shared/data/fsdd`` from the
  repository root, or ``--root``), the first ``--takes`` takes of every
  digit and speaker, 1 s at 8 kHz, ``--epochs`` epochs; the first outer fold.
  With ``--test-takes N`` (N > ``--takes``) each fit is also scored on the
  first N takes of the test fold's speakers (``auc_test_takes``): the same
  fitted networks, a test set N / ``--takes`` times larger, so that an AUC
  moves less with a few clips (``--takes 10``: 20 positive test clips, with
  50 takes 100). Training is unchanged.

The baseline is the library the script imports: run it once with
``PYTHONPATH`` pointing at a checkout of the old code and once at the new
code, then ``compare``. Each run records wall and CPU seconds and the load
average, and, per fit, the epochs run (of all ``n_init`` networks), the
embedding's length and the first and last training loss (``history_``).
The target: in every task and fold, no seed below the mean of the 5 seeds
minus 0.03, and the mean not lower than the baseline's.
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FSDD = ROOT.parent / "shared" / "data" / "fsdd"
SEEDS = (0, 1, 2, 3, 4)


def _load(filenames, sr):
    from sklearn_rbfm import AudioLoader

    return AudioLoader(sr=sr, duration=1.0, n_jobs=1).fit_transform(filenames)


def _mel(waves, sr):
    """The small CNN's front end in ``rbfm experiment``: 25 ms windows, 10 ms hop, 64 mels."""
    from sklearn_rbfm import SpectrogramTransformer

    spec = SpectrogramTransformer(
        kind="mel", sr=sr, n_fft=512 if sr >= 16000 else 256,
        win_length=int(0.025 * sr), hop_length=int(0.010 * sr), n_mels=64,
    )
    S = spec.fit_transform(waves)
    return S.reshape(len(S), *spec.spectrogram_shape_)


def tasks(args):
    """Yield (name, spectrograms, binary labels, speakers, epochs, outer folds, larger test set).

    The larger test set is None, or ``(spectrograms, labels, speakers)`` of
    every loaded clip, whose clips of the test fold's speakers are scored
    too.
    """
    from sklearn_rbfm.datasets import load_audio_folder, load_fsdd_sample

    if not args.skip_demo:
        demo = load_fsdd_sample()
        S = _mel(_load(demo.filenames, 16000), 16000)
        y = (demo.target_names[demo.target] == "0").astype(int)
        yield "demo", S, y, demo.groups, 10, 3, None
    if not args.digits:
        return

    data = load_audio_folder(args.root)
    take = np.array([int(Path(f).stem.rsplit("_", 1)[1]) for f in data.filenames])
    loaded = take < max(args.takes, args.test_takes or 0)
    S = _mel(_load(data.filenames[loaded], 8000), 8000)
    labels = data.target_names[data.target[loaded]]
    groups = data.groups[loaded]
    # the training and test folds: the first --takes takes; the larger test
    # set: every loaded take of the test fold's speakers
    keep = take[loaded] < args.takes
    for digit in args.digits:
        y = (labels == digit).astype(int)
        larger = (S, y, groups) if args.test_takes else None
        yield f"fsdd-{digit}", S[keep], y[keep], groups[keep], args.epochs, 1, larger


def fit_and_score(S, y, train, test, epochs, seed, n_init=None, extra_test=None):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_rbfm import CNNEmbedder

    # n_init only when asked, so that the script runs on libraries without it
    extra = {} if n_init is None else {"n_init": n_init}
    emb = CNNEmbedder(
        "small_cnn", weights=None, fine_tune="all", epochs=epochs, random_state=seed, **extra
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emb.fit(S[train], y[train])
    E_train, E_test = emb.transform(S[train]), emb.transform(S[test])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(E_train, y[train])
    history = emb.history_ or {}
    loss = history.get("loss", [])
    scores = {}
    if extra_test is not None:
        S_more, y_more = extra_test
        scores["auc_test_takes"] = float(
            roc_auc_score(y_more, clf.decision_function(emb.transform(S_more)))
        )
        scores["n_test_takes"] = len(y_more)
    return {
        **scores,
        "auc": float(roc_auc_score(y[test], clf.decision_function(E_test))),
        "epochs": len(loss),
        "embedding_dim": int(emb.embedding_dim_),
        "loss_first": loss[0] if loss else None,
        "loss_last": loss[-1] if loss else None,
        "warnings": sorted({type(w.message).__name__ for w in caught
                            if "FineTuning" in type(w.message).__name__}),
    }


def run(args):
    from sklearn.model_selection import GroupKFold

    import sklearn_rbfm

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    rows = []
    for name, S, y, groups, epochs, n_folds, larger in tasks(args):
        folds = list(GroupKFold(n_splits=3).split(S, y, groups))[:n_folds]
        for fold, (train, test) in enumerate(folds):
            extra_test = None
            if larger is not None:
                S_all, y_all, groups_all = larger
                unseen = np.isin(groups_all, np.unique(groups[test]))
                extra_test = (S_all[unseen], y_all[unseen])
            for seed in SEEDS:
                t0, c0 = time.perf_counter(), time.process_time()
                row = fit_and_score(S, y, train, test, epochs, seed, args.n_init, extra_test)
                row.update(task=name, fold=fold, seed=seed, n_train=len(train),
                           n_test=len(test), wall_s=time.perf_counter() - t0,
                           cpu_s=time.process_time() - c0, load=os.getloadavg()[0])
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {
        "library": os.path.dirname(sklearn_rbfm.__file__),
        "argv": sys.argv,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "wall_s": time.perf_counter() - start_wall,
        "cpu_s": time.process_time() - start_cpu,
        "load_end": os.getloadavg(),
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wall {result['wall_s']:.0f} s, CPU {result['cpu_s']:.0f} s, "
          f"load {result['load_end'][0]:.2f}; written to {args.out}")


def summary(rows, key="auc"):
    """(task, fold) -> AUCs over seeds, in seed order; rows without ``key`` left out."""
    out = {}
    for row in sorted(rows, key=lambda r: r["seed"]):
        if key in row:
            out.setdefault((row["task"], row["fold"]), []).append(row[key])
    return out


HEADER = ("| task | fold | code | AUC per seed 0-4 | mean | min | spread (max-min) "
          "| mean - min | target met |\n|---|---:|---|---|---:|---:|---:|---:|---|")


def _line(key, label, aucs):
    auc = np.asarray(aucs)
    met = auc.min() >= auc.mean() - 0.03
    return (f"| {key[0]} | {key[1]} | {label} | "
            f"{' '.join(f'{a:.3f}' for a in auc)} | {auc.mean():.3f} | "
            f"{auc.min():.3f} | {auc.max() - auc.min():.3f} | "
            f"{auc.mean() - auc.min():.3f} | {'yes' if met else 'no'} |")


def compare(args):
    runs = [json.loads(Path(p).read_text()) for p in (args.before, args.after)]
    tables = [summary(r["rows"]) for r in runs]
    print(HEADER)
    for key in tables[0]:
        for label, table in zip(("before", "after"), tables):
            if key in table:
                print(_line(key, label, table[key]))
    for label, run_ in zip(("before", "after"), runs):
        auc = np.array([r["auc"] for r in run_["rows"]])
        collapsed = sum(bool(r["warnings"]) for r in run_["rows"])
        print(f"{label}: {len(auc)} fits, mean AUC {auc.mean():.3f}, min {auc.min():.3f}, "
              f"fits warned {collapsed}, wall {run_['wall_s']:.0f} s, CPU "
              f"{run_['cpu_s']:.0f} s, load at end {run_['load_end'][0]:.2f}, {run_['date']}")


def table(args):
    parts = [json.loads(Path(p).read_text()) for p in args.parts]
    rows = [row for part in parts for row in part["rows"]]
    print(HEADER)
    for key, aucs in summary(rows).items():
        print(_line(key, args.label, aucs))
    for key, aucs in summary(rows, "auc_test_takes").items():
        print(_line(key, f"{args.label}, test speakers' first {args.test_takes} takes", aucs))
    auc = np.array([r["auc"] for r in rows])
    warned = sum(bool(r["warnings"]) for r in rows)

    def each(key, fmt):
        return " + ".join(format(part[key], fmt) for part in parts)

    loads = ", ".join(f"{part['load_end'][0]:.1f}" for part in parts)
    print(f"{len(auc)} fits, mean AUC {auc.mean():.3f}, min {auc.min():.3f}, fits "
          f"warned {warned}, wall {each('wall_s', '.0f')} s, CPU {each('cpu_s', '.0f')} s, "
          f"load at the ends {loads}, {parts[0]['date']} to {parts[-1]['date']}")

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--out", required=True)
    p.add_argument("--root", default=str(FSDD))
    p.add_argument("--takes", type=int, default=10)
    p.add_argument("--digits", nargs="*", default=["0", "3", "7"])
    p.add_argument("--skip-demo", action="store_true")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--test-takes", type=int, default=None,
                   help="also score each fit on this many takes of the test speakers")
    p.add_argument("--n-init", type=int, default=None,
                   help="CNNEmbedder's n_init (default: the library's default)")
    p.set_defaults(fn=run)
    p = sub.add_parser("compare")
    p.add_argument("before")
    p.add_argument("after")
    p.set_defaults(fn=compare)
    p = sub.add_parser("table")
    p.add_argument("parts", nargs="+")
    p.add_argument("--label", default="after")
    p.add_argument("--test-takes", type=int, default=50,
                   help="the runs' --test-takes, for the table's labels")
    p.set_defaults(fn=table)
    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
