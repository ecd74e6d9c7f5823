"""Results of ``rbfm experiment``: results.json, report.md and figures."""

import collections
import json
import os

import numpy as np

from ._common import installed_versions


def _auc(y, score):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def _mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std())


def summarise(experiment, folds):
    """Aggregate the per-fold results into the ``results.json`` dictionary.

    Each score is the mean over folds of the score on the fold's test part
    (with its standard deviation); fusion subsets are ranked by their mean
    development score; the best fusion's test score is the mean over folds of
    the test score of the subset each fold chose on its own development part.
    """
    from scipy.stats import rankdata

    from ._experiment import model_table

    y = experiment.y
    slices = {name: None for name in experiment.embedders}
    tests = [np.asarray(f["test_index"]) for f in folds]
    models = []
    for name, embedder, masking in model_table(slices):
        dev = [_auc(y[_dev_index(experiment, k)], f["members"][name]["dev"])
               for k, f in enumerate(folds)]
        test = [_auc(y[t], f["members"][name]["test"]) for t, f in zip(tests, folds)]
        mean, std = _mean_std(test)
        models.append({
            "name": name, "embedder": embedder, "masking": masking,
            "n_features": int(round(np.mean([f["n_features"][name] for f in folds]))),
            "dev_auc": _mean_std(dev)[0], "test_auc": mean, "test_auc_std": std,
            "test_auc_per_fold": test,
        })
    subsets = [tuple(m) for m in folds[0]["fusion"]["members"]]
    scores = np.mean([f["fusion"]["score"] for f in folds], axis=0)
    # equal scores share the lowest rank, as in VotingFusionSearch.cv_results_
    ranks = rankdata(-scores, method="min").astype(int)
    order = np.argsort(ranks, kind="stable")
    ranking = [{"members": list(subsets[i]), "score": float(scores[i]),
                "rank": int(ranks[i])} for i in order]
    chosen = [tuple(f["fusion"]["best_members"]) for f in folds]
    fusion_test = [_auc(y[t], f["fusion"]["test"]) for t, f in zip(tests, folds)]
    most_common = collections.Counter(chosen).most_common(1)[0][0]
    best_single = max(models, key=lambda m: m["dev_auc"])
    baselines = {}
    for name in folds[0]["baselines"]:
        test = [_auc(y[t], f["baselines"][name]["test"]) for t, f in zip(tests, folds)]
        baselines[name] = {
            "test_auc": _mean_std(test)[0], "test_auc_std": _mean_std(test)[1],
            "C": [f["baselines"][name]["C"] for f in folds]}
    return {
        "models": models,
        "fusion_ranking": ranking,
        "best_fusion": {
            "members": list(most_common),
            "chosen_per_fold": [list(c) for c in chosen],
            "selection_auc": _mean_std([f["fusion"]["best_score"] for f in folds])[0],
            "test_auc": _mean_std(fusion_test)[0],
            "test_auc_std": _mean_std(fusion_test)[1],
            "test_auc_per_fold": fusion_test,
        },
        "best_single": {"name": best_single["name"],
                        "dev_auc": best_single["dev_auc"],
                        "test_auc": best_single["test_auc"]},
        "baselines": {name: b["test_auc"] for name, b in baselines.items()},
        "baseline_details": baselines,
        "config": experiment.config,
        "versions": installed_versions(),
    }


def _dev_index(experiment, k):
    return experiment.splits[k]["dev"]


def _table2(results, embedders):
    by_name = {m["name"]: m for m in results["models"]}
    lines = ["| features | no mask | minimal | negative |", "|---|---|---|---|"]
    for embedder in embedders + (["FF"] if len(embedders) > 1 else []):
        cells = []
        for suffix in ("", "_min", "_neg"):
            m = by_name[embedder + suffix]
            cells.append(f"{m['test_auc']:.3f} ± {m['test_auc_std']:.3f} "
                         f"({m['n_features']})")
        lines.append(f"| {embedder} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _table1(results, names, top=10):
    lines = ["| rank | " + " | ".join(names) + " | dev AUC |",
             "|---" * (len(names) + 2) + "|"]
    for row in results["fusion_ranking"][:top]:
        marks = ["✓" if n in row["members"] else "" for n in names]
        lines.append(f"| {row['rank']} | " + " | ".join(marks)
                     + f" | {row['score']:.3f} |")
    return "\n".join(lines)


def _table3(results):
    bf, bs = results["best_fusion"], results["best_single"]
    lines = ["| system | selection (dev) AUC | test AUC |", "|---|---|---|",
             f"| best fusion ({' + '.join(bf['members'])}) | "
             f"{bf['selection_auc']:.3f} | {bf['test_auc']:.3f} ± "
             f"{bf['test_auc_std']:.3f} |",
             f"| best single model ({bs['name']}) | {bs['dev_auc']:.3f} | "
             f"{bs['test_auc']:.3f} |"]
    labels = {"logmel_logreg": "log-mel statistics + logistic regression",
              "compare_svm": "openSMILE ComParE_2016 + linear SVM"}
    for name, detail in results["baseline_details"].items():
        lines.append(f"| {labels.get(name, name)} | – | {detail['test_auc']:.3f} "
                     f"± {detail['test_auc_std']:.3f} |")
    return "\n".join(lines)


def write_report(path, experiment, results, figures):
    config = results["config"]
    names = [m["name"] for m in results["models"]]
    skipped = "".join(f"\n- {name}: {why}" for name, why in
                      config["skipped_embedders"].items())
    timings = "\n".join(f"| {stage} | {seconds:.1f} |"
                        for stage, seconds in results["timings_s"].items())
    chosen = "; ".join(" + ".join(c) for c in results["best_fusion"]["chosen_per_fold"])
    text = f"""# RBFM experiment report

Data: {config['n_clips']} clips from `{config['data_dir']}`,
{config['n_positive']} of class `{config['positive']}` (positive) against the
rest; clips of {config['duration']:g} s at {config['sr']:g} Hz, playback rate
{config['playback_rate']:g}. Protocol: {config['protocol']}{
'' if not config['groups'] else f", groups from column `{config['groups']}`"}.
Every model is fitted on the fit part, the fusion is chosen on the
development part, and all scores below are ROC AUC on test data that nothing
was fitted or chosen on (mean ± standard deviation over folds).

Embedders: {', '.join(config['embedders'])}.{
' Skipped:' + skipped if skipped else ''}

Command: `{config['command']}`

## Table 2: models by masking (test AUC, number of input features)

{_table2(results, config['embedders'])}

## Table 1: decision-level fusion ranking (mean development AUC, top 10 of {len(results['fusion_ranking'])})

{_table1(results, names)}

Subset chosen in each fold: {chosen}.

## Table 3: best fusion against the best single model and the baselines

{_table3(results)}

## Figures

""" + "\n".join(f"![{title}]({os.path.basename(p)})" for title, p in figures) + f"""

## Time per stage (s)

| stage | seconds |
|---|---|
{timings}
"""
    with open(path, "w") as fh:
        fh.write(text)


def plot_roc(path, experiment, results, folds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import RocCurveDisplay

    y = experiment.y
    test = np.concatenate([f["test_index"] for f in folds])
    curves = [("fusion chosen in each fold",
               np.concatenate([f["fusion"]["test"] for f in folds]))]
    best = results["best_single"]["name"]
    curves.append((best, np.concatenate([f["members"][best]["test"] for f in folds])))
    for name in folds[0]["baselines"]:
        curves.append((name, np.concatenate([f["baselines"][name]["test"]
                                             for f in folds])))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for label, score in curves:
        RocCurveDisplay.from_predictions(y[test], score, name=label, ax=ax)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set_title("ROC on the test parts (pooled over folds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_relevance(path, folds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plotting import RelevanceDisplay

    profiles = folds[0]["relevance"]
    fig, axes = plt.subplots(1, len(profiles), figsize=(4.5 * len(profiles), 3.6),
                             squeeze=False)
    for ax, (name, profile) in zip(axes[0], profiles.items()):
        RelevanceDisplay(np.asarray(profile["feature_relevance"]),
                         support=np.asarray(profile["support"])).plot(ax=ax)
        ax.set_title(f"{name}: mean deep Taylor relevance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fusion(path, results, top=15):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m["name"] for m in results["models"]]
    rows = results["fusion_ranking"][:top]
    fig, (ax_m, ax_s) = plt.subplots(
        1, 2, figsize=(0.45 * len(names) + 4, 0.32 * len(rows) + 1.6),
        gridspec_kw={"width_ratios": [len(names), 6]}, sharey=True)
    grid = np.array([[n in r["members"] for n in names] for r in rows])
    ax_m.imshow(grid, cmap="Greys", aspect="auto", vmin=0, vmax=1.4)
    ax_m.set_xticks(range(len(names)), names, rotation=90)
    ax_m.set_yticks(range(len(rows)), [f"#{r['rank']}" for r in rows])
    ax_s.barh(range(len(rows)), [r["score"] for r in rows], color="C0")
    low = min(r["score"] for r in rows)
    ax_s.set_xlim(max(0.0, low - 0.05), 1.0)
    ax_s.set_xlabel("mean development AUC")
    ax_m.set_title("members")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(experiment, results, folds):
    """Write results.json, report.md and the figures into ``experiment.out``."""
    out = experiment.out
    figures = [("ROC curves", os.path.join(out, "roc.png")),
               ("Relevance profiles", os.path.join(out, "relevance.png")),
               ("Fusion ranking", os.path.join(out, "fusion_ranking.png"))]
    plot_roc(figures[0][1], experiment, results, folds)
    plot_relevance(figures[1][1], folds)
    plot_fusion(figures[2][1], results)
    paths = {"results": os.path.join(out, "results.json"),
             "report": os.path.join(out, "report.md")}
    with open(paths["results"], "w") as fh:
        json.dump(results, fh, indent=1)
    write_report(paths["report"], experiment, results, figures)
    return paths
