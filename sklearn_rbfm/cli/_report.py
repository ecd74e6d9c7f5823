"""Results of ``rbfm experiment``: results.json, report.md and figures."""

import json
import os

import numpy as np


def bag(members):
    """A fusion's members with their weights, e.g. ``birdnet x3 + FF``.

    Examples
    --------
    >>> from sklearn_rbfm.cli._report import bag
    >>> bag(["birdnet", "birdnet", "FF"])
    'birdnet x2 + FF'
    """
    counts = {}
    for name in members:
        counts[name] = counts.get(name, 0) + 1
    return " + ".join(name if n == 1 else f"{name} x{n}" for name, n in counts.items())


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
    lines = ["| rank | " + " | ".join(names) + " | out-of-fold AUC |",
             "|---" * (len(names) + 2) + "|"]
    for row in results["fusion_ranking"][:top]:
        marks = ["✓" if n in row["members"] else "" for n in names]
        lines.append(f"| {row['rank']} | " + " | ".join(marks)
                     + f" | {row['score']:.3f} |")
    return "\n".join(lines)


def _table3(results):
    bf, bs = results["best_fusion"], results["best_single"]
    lines = ["| system | selection (out-of-fold) AUC | test AUC |", "|---|---|---|",
             f"| best fusion ({bag(bf['members'])}) | "
             f"{bf['selection_auc']:.3f} | {bf['test_auc']:.3f} ± "
             f"{bf['test_auc_std']:.3f} |",
             f"| best single model by the same protocol ({bs['name']}) | "
             f"{bs['selection_auc']:.3f} | "
             f"{bs['test_auc']:.3f} |"]
    oracle = results["oracle_single"]
    lines.append(f"| oracle single model, chosen on the test parts ({oracle['name']}; "
                 f"not a result) | – | {oracle['test_auc']:.3f} |")
    labels = {"logmel_logreg": "log-mel statistics + logistic regression",
              "compare_svm": "openSMILE ComParE_2016 + linear SVM"}
    for name, detail in results["baseline_details"].items():
        lines.append(f"| {labels.get(name, name)} | – | {detail['test_auc']:.3f} "
                     f"± {detail['test_auc_std']:.3f} |")
    return "\n".join(lines)


def write_report(path, results, figures):
    config = results["config"]
    names = [m["name"] for m in results["models"]]
    skipped = "".join(f"\n- {name}: {why}" for name, why in
                      config["skipped_embedders"].items())
    timings = "\n".join(f"| {stage} | {seconds:.1f} |"
                        for stage, seconds in results["timings_s"].items())
    chosen = "; ".join(bag(c) for c in results["best_fusion"]["chosen_per_fold"])
    text = f"""# RBFM experiment report

Run `{results['run_id']}` (configuration hash `{results['config_hash']}`).

Data: {config['n_clips']} clips from `{config['data_dir']}`,
{config['n_positive']} of class `{config['positive']}` (positive) against the
rest; clips of {config['duration']:g} s at {config['sr']:g} Hz, playback rate
{config['playback_rate']:g}. Protocol: {config['protocol']}{
'' if not config['groups'] else f", groups from column `{config['groups']}`"}.
In each outer fold one RBFMClassifier is fitted on the training part: its
members are cross-fitted by inner folds, the fusion is chosen on their
out-of-fold probabilities, and the members are refitted on the whole training
part. All scores below are ROC AUC on test data that nothing was fitted or
chosen on (mean ± standard deviation over folds).

Embedders: {', '.join(config['embedders'])}.{
' Skipped:' + skipped if skipped else ''}

Command: `{config['command']}`

## Table 2: models by masking (test AUC, number of input features)

{_table2(results, config['embedders'])}

## Table 1: decision-level fusion ranking (mean inner out-of-fold AUC, top 10 of {len(results['fusion_ranking'])})

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
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)


def _save(fig, path):
    """Write a figure atomically: a reader never sees half a file."""
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def plot_roc(path, y_true, curves):
    """ROC curves of ``curves`` ({label: scores}) against ``y_true``."""
    from matplotlib.figure import Figure
    from sklearn.metrics import RocCurveDisplay

    fig = Figure(figsize=(5.5, 5), layout="tight")
    ax = fig.add_subplot()
    for label, score in curves.items():
        RocCurveDisplay.from_predictions(y_true, score, name=label, ax=ax)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set_title("ROC on the test parts (pooled over folds)")
    _save(fig, path)


def plot_relevance(path, profiles):
    """Mean relevance profiles ({name: {feature_relevance, support}})."""
    from matplotlib.figure import Figure

    from ..plotting import RelevanceDisplay

    fig = Figure(figsize=(4.5 * max(1, len(profiles)), 3.6), layout="tight")
    axes = fig.subplots(1, max(1, len(profiles)), squeeze=False)
    for ax, (name, profile) in zip(axes[0], profiles.items()):
        RelevanceDisplay(np.asarray(profile["feature_relevance"]),
                         support=np.asarray(profile["support"])).plot(ax=ax)
        ax.set_title(f"{name}: mean deep Taylor relevance")
    _save(fig, path)


def plot_fusion(path, results, top=15):
    """The top of the fusion ranking: members and scores."""
    from matplotlib.figure import Figure

    names = [m["name"] for m in results["models"]]
    rows = results["fusion_ranking"][:top]
    fig = Figure(figsize=(0.45 * len(names) + 4, 0.32 * len(rows) + 1.6),
                 layout="tight")
    ax_m, ax_s = fig.subplots(1, 2, gridspec_kw={"width_ratios": [len(names), 6]},
                              sharey=True)
    grid = np.array([[n in r["members"] for n in names] for r in rows])
    ax_m.imshow(grid, cmap="Greys", aspect="auto", vmin=0, vmax=1.4)
    ax_m.set_xticks(range(len(names)), names, rotation=90)
    ax_m.set_yticks(range(len(rows)), [f"#{r['rank']}" for r in rows])
    ax_s.barh(range(len(rows)), [r["score"] for r in rows], color="C0")
    low = min(r["score"] for r in rows)
    ax_s.set_xlim(max(0.0, low - 0.05), 1.0)
    ax_s.set_xlabel("mean out-of-fold AUC")
    ax_m.set_title("members")
    _save(fig, path)


OUTPUTS = ("results.json", "report.md", "roc.png", "relevance.png",
           "fusion_ranking.png")


def write_outputs(out, results, y_true, curves, profiles):
    """Write results.json, report.md and the figures into ``out``.

    Parameters
    ----------
    out : str
        Output folder.
    results : dict
        The ``results.json`` content (plain data, with its ``run_id``).
    y_true : ndarray
        Labels of the pooled test clips of ``curves``.
    curves : dict
        ROC curve label -> scores of those clips.
    profiles : dict
        Minimal-masking model name -> ``feature_relevance`` and ``support``.
    """
    figures = [("ROC curves", os.path.join(out, "roc.png")),
               ("Relevance profiles", os.path.join(out, "relevance.png")),
               ("Fusion ranking", os.path.join(out, "fusion_ranking.png"))]
    plot_roc(figures[0][1], y_true, curves)
    if profiles:
        plot_relevance(figures[1][1], profiles)
    else:
        figures.pop(1)
    plot_fusion(figures[-1][1], results)
    paths = {"results": os.path.join(out, "results.json"),
             "report": os.path.join(out, "report.md")}
    with open(paths["results"] + ".tmp", "w") as fh:
        json.dump(results, fh, indent=1)
    os.replace(paths["results"] + ".tmp", paths["results"])
    write_report(paths["report"], results, figures)
    return paths
