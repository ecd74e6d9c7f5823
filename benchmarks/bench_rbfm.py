"""RBFMClassifier on all 3000 FSDD clips: does the fusion beat the single models?

Ten one-vs-rest tasks (is the clip digit d?) on the Free Spoken Digit
Dataset, outer cross-validation by speaker (``GroupKFold``, no speaker in
both the training and the test part). Embeddings: log-mel statistics
(80-d) and BirdNET (1024-d), computed ONCE and cached to an ``.npz``
(``--cache``); both are label-free, so RBFMClassifier takes them as two
column blocks (its embedders select the columns).

Per task and outer fold, one ``RBFMClassifier`` with its default base model
(2 embedders: 9 members) is fitted with speaker-grouped inner folds; beside
it, a logistic regression tuned by the same inner folds (C in 0.01, 0.1, 1 on
standardised input) on each embedding. Reported on the outer test parts:

- fusion test AUC for each selection rule (same fitted members, so the
  rules differ only in the choice),
- the *same-protocol* best single member (best pooled out-of-fold AUC) and
  the *oracle* best single member (best test AUC),
- the base MLP against the tuned logistic regression on the same
  embedding (the base model must hold its own),
- the selection-to-test drop (``best_score_`` minus test AUC), wall and CPU
  time, load average.

Run: ``nice -n 5 python benchmarks/bench_rbfm.py`` (``--tasks 0,1`` and
``--outer 2`` for a quick run). ``--base-models`` runs only the comparison
of base-model recipes (the former default, the default, the default without
its linear path, the default with 300 epochs) against the tuned logistic
regression on each standardised embedding, on the same tasks and folds.
``--extra-lr`` adds a logistic regression per embedding (standardised, C in
0.01, 0.1, 1 by stratified folds) to the members as ``extra_members``. The data are located from the repository
root (``../shared/data/fsdd``) unless ``--fsdd`` is given.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

FSDD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd"
RULES = ("greedy", "exhaustive", "one_se", "holdout", "average")


def embed(fsdd, cache):
    """Log-mel statistics and BirdNET embeddings of every clip, cached."""
    if os.path.exists(cache):
        data = np.load(cache, allow_pickle=False)
        return {k: data[k] for k in data.files}
    from sklearn_rbfm import AudioLoader, CNNEmbedder
    from sklearn_rbfm.baselines import LogMelStatistics
    from sklearn_rbfm.datasets import load_audio_folder

    data = load_audio_folder(str(fsdd))
    start = time.perf_counter()
    waves = AudioLoader(sr=8000, duration=1.0).fit_transform(data.filenames)
    logmel = LogMelStatistics(sr=8000).fit_transform(waves)
    birdnet = CNNEmbedder("birdnet", sr=8000, batch_size=16).fit(waves).transform(waves)
    out = {"logmel": logmel, "birdnet": birdnet, "y": np.asarray(data.target),
           "groups": np.asarray(data.groups),
           "embed_seconds": np.float64(time.perf_counter() - start)}
    np.savez(cache + ".tmp.npz", **out)
    os.replace(cache + ".tmp.npz", cache)
    return out


def make_classifier(widths, seed, n_jobs, inner, extra_lr=False):
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import GroupKFold

    from sklearn_rbfm import RBFMClassifier

    embedders, start = [], 0
    for name, width in widths:
        embedders.append((name, ColumnTransformer(
            [(name, "passthrough", slice(start, start + width))])))
        start += width
    extra = None
    if extra_lr:
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        # an extra member's fit gets no groups: C is chosen by stratified folds
        extra = [("lr", make_pipeline(StandardScaler(), LogisticRegressionCV(
            Cs=[0.01, 0.1, 1.0], cv=3, scoring="roc_auc", class_weight="balanced",
            max_iter=500, tol=1e-3)))]
    return RBFMClassifier(embedders, n_features=0.5, cv=GroupKFold(inner),
                          extra_members=extra, n_jobs=n_jobs, random_state=seed)


def tuned_lr_auc(Z_train, y_train, groups, Z_test, y_test, inner):
    """Test AUC of a logistic regression whose C the inner folds chose."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(
        class_weight="balanced", max_iter=500, tol=1e-3))
    grid = GridSearchCV(model, {"logisticregression__C": [0.01, 0.1, 1.0]},
                        cv=GroupKFold(inner), scoring="roc_auc")
    grid.fit(Z_train, y_train, groups=groups)
    return float(roc_auc_score(y_test, grid.decision_function(Z_test)))


def run_task(digit, data, outer, inner, seed, n_jobs, extra_lr=False, proba=None):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    X = np.hstack([data["logmel"], data["birdnet"]]).astype(np.float32)
    widths = [("logmel", data["logmel"].shape[1]), ("birdnet", data["birdnet"].shape[1])]
    y = (data["y"] == digit).astype(int)
    groups = data["groups"]
    rows = []
    for k, (train, test) in enumerate(GroupKFold(outer).split(X, y, groups)):
        start, cpu = time.perf_counter(), time.process_time()
        clf = make_classifier(widths, seed, n_jobs, inner, extra_lr)
        clf.fit(X[train], y[train], groups=groups[train])
        fit_s = time.perf_counter() - start
        names = list(clf.members_)
        Z = clf._embed(X[test])
        test_proba = np.stack([m.predict_proba(Z) for m in clf.members_.values()])
        member_test = {n: float(roc_auc_score(y[test], p[:, 1]))
                       for n, p in zip(names, test_proba)}
        y_enc = clf._le.transform(y[train])
        single = clf.cv_results_["n_members"] == 1
        pooled = {clf.cv_results_["members"][i][0]: float(clf.cv_results_["score"][i])
                  for i in np.flatnonzero(single)}
        row = {"digit": int(digit), "fold": k, "fit_s": fit_s,
               "cpu_s": time.process_time() - cpu, "member_test": member_test,
               "member_oof": pooled,
               "same_protocol_single": max(pooled, key=pooled.get),
               "oracle_single": max(member_test, key=member_test.get), "rules": {},
               "tuned_lr": {}}
        for name, sl in clf._slices.items():
            row["tuned_lr"][name] = tuned_lr_auc(
                X[train][:, sl], y[train], groups[train], X[test][:, sl], y[test], inner)
        for rule in RULES:
            weights, _ = clf._select(rule, y_enc)
            fused_test = np.tensordot(weights / weights.sum(), test_proba, axes=1)
            fused_oof = np.tensordot(weights / weights.sum(), clf.oof_proba_, axes=1)
            row["rules"][rule] = {
                "weights": dict(zip(names, weights.tolist())),
                "selection": float(roc_auc_score(y_enc, fused_oof[:, 1])),
                "test": float(roc_auc_score(y[test], fused_test[:, 1]))}
        rows.append(row)
        if proba is not None:
            # every member's out-of-fold and test probabilities, so that new
            # selection rules can be scored offline on the same fitted members
            inner_fold = np.full(len(train), -1)
            for j, part in enumerate(clf._splits_test):
                inner_fold[part] = j
            key = f"d{digit}_f{k}"
            proba.update({f"{key}_oof": clf.oof_proba_[:, :, 1].astype(np.float32),
                          f"{key}_test": test_proba[:, :, 1].astype(np.float32),
                          f"{key}_y_train": y_enc.astype(np.int8),
                          f"{key}_y_test": y[test].astype(np.int8),
                          f"{key}_inner_fold": inner_fold.astype(np.int8),
                          f"{key}_members": np.array(names)})
        print(f"digit {digit} fold {k}: fit {fit_s:.0f} s; greedy test "
              f"{row['rules']['greedy']['test']:.4f}; same-protocol single "
              f"{row['same_protocol_single']} {member_test[row['same_protocol_single']]:.4f}",
              flush=True)
    return rows


def base_model_recipes(seed):
    """Base-model recipes compared with the tuned logistic regression."""
    from sklearn_rbfm import KerasMLPClassifier
    from sklearn_rbfm._rbfm import default_base_estimator

    default = default_base_estimator(random_state=seed)
    return {
        "former default (64 ReLU, alpha 1e-3, batch 128, early stopping on 20%)":
            KerasMLPClassifier((64,), alpha=1e-3, epochs=40, batch_size=128,
                               learning_rate=3e-3, validation_fraction=0.2,
                               random_state=seed),
        "default (wide, alpha 3e-2, full batch, 150 epochs)": default,
        "default without the linear path (wide=False)": clone_with(default, wide=False),
        "default with 300 epochs": clone_with(default, epochs=300),
    }


def clone_with(estimator, **params):
    from sklearn.base import clone

    return clone(estimator).set_params(**params)


def compare_base_models(data, tasks, outer, inner, seed):
    """Test AUC of each recipe and of the tuned LR; CPU seconds per fit."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    groups, rows = data["groups"], []
    for name in ("logmel", "birdnet"):
        X = data[name].astype(np.float32)
        for digit in tasks:
            y = (data["y"] == digit).astype(int)
            for k, (train, test) in enumerate(GroupKFold(outer).split(X, y, groups)):
                row = {"embedding": name, "digit": digit, "fold": k, "auc": {}, "cpu_s": {}}
                cpu = time.process_time()
                row["auc"]["tuned LR"] = tuned_lr_auc(
                    X[train], y[train], groups[train], X[test], y[test], inner)
                row["cpu_s"]["tuned LR"] = time.process_time() - cpu
                for recipe, model in base_model_recipes(seed + 1000 * digit + k).items():
                    cpu = time.process_time()
                    model = make_pipeline(StandardScaler(), model).fit(X[train], y[train])
                    row["auc"][recipe] = float(roc_auc_score(
                        y[test], model.predict_proba(X[test])[:, 1]))
                    row["cpu_s"][recipe] = time.process_time() - cpu
                rows.append(row)
                print(name, digit, k, {r: round(a, 4) for r, a in row["auc"].items()},
                      flush=True)
    lines = ["| embedding | recipe | mean test AUC | vs tuned LR | wins (>=) / splits "
             "| CPU s per fit |", "|---|---|---:|---:|---:|---:|"]
    for name in ("logmel", "birdnet"):
        part = [r for r in rows if r["embedding"] == name]
        lr = np.array([r["auc"]["tuned LR"] for r in part])
        for recipe in part[0]["auc"]:
            auc = np.array([r["auc"][recipe] for r in part])
            lines.append(f"| {name} | {recipe} | {auc.mean():.4f} | {np.mean(auc - lr):+.4f} "
                         f"| {int(np.sum(auc >= lr))}/{len(part)} "
                         f"| {np.mean([r['cpu_s'][recipe] for r in part]):.1f} |")
    return rows, "\n".join(lines)


def summarise(rows, tasks):
    def per_task(fn):
        return np.array([np.mean([fn(r) for r in rows if r["digit"] == d]) for d in tasks])

    single = per_task(lambda r: r["member_test"][r["same_protocol_single"]])
    oracle = per_task(lambda r: r["member_test"][r["oracle_single"]])
    lines = ["| rule | mean test AUC | gain vs same-protocol single | wins (>=) / tasks "
             "| mean selection AUC | mean selection-to-test drop |",
             "|---|---:|---:|---:|---:|---:|"]
    for rule in RULES:
        test = per_task(lambda r: r["rules"][rule]["test"])
        sel = per_task(lambda r: r["rules"][rule]["selection"])
        lines.append(f"| {rule} | {test.mean():.4f} | {np.mean(test - single):+.4f} | "
                     f"{int(np.sum(test >= single))}/{len(tasks)} | {sel.mean():.4f} | "
                     f"{np.mean(sel - test):+.4f} |")
    lines.append(f"| same-protocol best single | {single.mean():.4f} | – | – | – | – |")
    lines.append(f"| oracle best single | {oracle.mean():.4f} | – | – | – | – |")
    lines += ["", "| member | mean test AUC |", "|---|---:|"]
    for name in rows[0]["member_test"]:
        lines.append(f"| {name} | {per_task(lambda r: r['member_test'][name]).mean():.4f} |")
    for name in rows[0]["tuned_lr"]:
        lines.append(f"| tuned logistic regression on {name} | "
                     f"{per_task(lambda r: r['tuned_lr'][name]).mean():.4f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd", default=str(FSDD))
    parser.add_argument("--cache", default=os.path.join(
        tempfile.gettempdir(), "rbfm_fsdd_embeddings.npz"))
    parser.add_argument("--tasks", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--outer", type=int, default=2)
    parser.add_argument("--inner", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--json", default=None, help="write every row here")
    parser.add_argument("--proba", default=None,
                        help="write every member's out-of-fold and test probabilities "
                        "here (.npz)")
    parser.add_argument("--extra-lr", action="store_true",
                        help="add a logistic regression per embedding as extra_members")
    parser.add_argument("--base-models", action="store_true",
                        help="only compare base-model recipes with the tuned LR")
    args = parser.parse_args()
    tasks = [int(t) for t in args.tasks.split(",")]
    data = embed(args.fsdd, args.cache)
    start, cpu = time.perf_counter(), time.process_time()
    if args.base_models:
        rows, table = compare_base_models(data, tasks, args.outer, args.inner, args.seed)
        print(f"\n{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; wall "
              f"{time.perf_counter() - start:.0f} s, CPU {time.process_time() - cpu:.0f} s\n")
        print(table)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(rows, fh, indent=1)
        return
    rows, proba = [], {} if args.proba else None
    for digit in tasks:
        rows += run_task(digit, data, args.outer, args.inner, args.seed, args.n_jobs,
                         args.extra_lr, proba)
        if args.proba:
            np.savez(args.proba + ".tmp.npz", **proba)
            os.replace(args.proba + ".tmp.npz", args.proba)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; {len(data['y'])} clips, tasks {tasks}, "
          f"{args.outer} outer and {args.inner} inner folds by speaker; wall {wall:.0f} s, CPU {cpu:.0f} s (this process)\n")
    print(summarise(rows, tasks))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
