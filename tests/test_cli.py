"""rbfm experiment / demo: outputs, resuming, data checks, command line."""

import csv
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sklearn_rbfm.cli import build_parser, load_model, main
from sklearn_rbfm.datasets import load_fsdd_sample


@pytest.fixture(scope="module")
def sample():
    data = load_fsdd_sample()
    root = os.path.commonpath([os.path.dirname(f) for f in data.filenames])
    return data, root


def _write_labels(path, root, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "speaker"])
        for file, label, speaker in rows:
            writer.writerow([os.path.relpath(file, root), label, speaker])
    return str(path)


@pytest.fixture(scope="module")
def small_task(sample, tmp_path_factory):
    """48 clips: per speaker three 'zero' and five other digits."""
    data, root = sample
    names = data.target_names[data.target]
    rows = []
    for speaker in np.unique(data.groups):
        mine = data.groups == speaker
        zeros = np.flatnonzero(mine & (names == "0"))[:3]
        others = np.flatnonzero(mine & (names != "0"))[::9][:5]
        rows += [(data.filenames[i], names[i], speaker) for i in [*zeros, *others]]
    labels = _write_labels(tmp_path_factory.mktemp("labels") / "labels.csv",
                           root, rows)
    return root, labels


def _experiment_args(root, labels, out, *extra):
    return ["experiment", root, "--labels", labels, "--positive", "0",
            "--groups", "speaker", "--sr", "8000", "--duration", "0.5",
            "--embedders", "vggish,small_cnn", "--cv", "2", "--inner-cv", "2",
            "--epochs", "5",
            "--cnn-epochs", "2", "--n-features", "16", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def finished_run(small_task, tmp_path_factory):
    root, labels = small_task
    out = tmp_path_factory.mktemp("run")
    home = tmp_path_factory.mktemp("home")  # no pretrained weights in it
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(home))
    try:
        status = main(_experiment_args(root, labels, out, "--save-model",
                                       str(out / "model.joblib")))
    finally:
        mp.undo()
    assert status == 0
    with open(out / "results.json") as fh:
        return out, json.load(fh)


def _fold_caches(out):
    caches = sorted((out / "cache").glob("fold*-*.json"))
    return [json.loads(path.read_text()) for path in caches]


def test_results_json(finished_run, small_task):
    from sklearn.metrics import roc_auc_score

    from sklearn_rbfm.cli._data import load_dataset

    out, results = finished_run
    root, labels = small_task
    y = load_dataset(root, labels=labels, positive="0", groups="speaker")["y"] == "0"
    folds = _fold_caches(out)
    assert len(folds) == 2
    models = {m["name"]: m for m in results["models"]}
    assert list(models) == ["small_cnn", "small_cnn_min", "small_cnn_neg"]
    assert models["small_cnn_min"]["masking"] == "minimal"
    assert models["small_cnn_min"]["n_features"] == 16
    assert models["small_cnn_neg"]["n_features"] == 384  # 64-128-384 filters
    for name, m in models.items():
        assert m["embedder"] == "small_cnn"
        # each fold's AUC, recomputed from the scores the fold stored
        expected = [roc_auc_score(y[f["test_index"]], f["members"][name]["test"])
                    for f in folds]
        oof = [roc_auc_score(y[f["train_index"]], f["members"][name]["oof"])
               for f in folds]
        assert m["selection_auc"] == pytest.approx(np.mean(oof))
        np.testing.assert_allclose(m["test_auc_per_fold"], expected)
        assert m["test_auc"] == pytest.approx(np.mean(expected))
    ranking = results["fusion_ranking"]
    assert len(ranking) == 7  # every non-empty subset of three models
    assert [r["rank"] for r in ranking] == sorted(r["rank"] for r in ranking)
    assert ranking[0]["score"] == max(r["score"] for r in ranking)
    best = results["best_fusion"]
    assert set(best["members"]) <= set(models)
    assert len(best["chosen_per_fold"]) == 2
    fusion = [roc_auc_score(y[f["test_index"]], f["fusion"]["test"]) for f in folds]
    assert best["test_auc"] == pytest.approx(np.mean(fusion))
    assert best["selection_auc"] == pytest.approx(
        np.mean([f["fusion"]["best_score"] for f in folds]))
    # the protocol's single model is chosen by out-of-fold AUC, the oracle
    # by test AUC
    assert results["best_single"]["name"] == max(
        models, key=lambda n: models[n]["selection_auc"])
    assert results["oracle_single"]["name"] == max(
        models, key=lambda n: models[n]["test_auc"])
    assert len(results["run_id"]) == 12 and len(results["config_hash"]) == 12
    assert set(results["baselines"]) == {"logmel_logreg", "compare_svm"}
    config = results["config"]
    assert config["embedders"] == ["small_cnn"]
    assert "vggish_model.ckpt" in config["skipped_embedders"]["vggish"]
    assert config["n_clips"] == 48 and config["n_positive"] == 18
    assert config["cv"] == 2 and config["positive"] == "0"
    assert results["versions"]["scikit-learn"]
    assert {"check", "decode", "baseline_features", "models", "baselines"} <= set(
        results["timings_s"])


def test_report_and_figures(finished_run):
    out, results = finished_run
    report = (out / "report.md").read_text()
    for heading in ("Table 2", "Table 1", "Table 3", "Time per stage"):
        assert heading in report
    if importlib.util.find_spec("opensmile") is not None:  # the [opensmile] extra
        assert "openSMILE ComParE_2016 + linear SVM" in report
    assert f"{results['best_fusion']['test_auc']:.3f}" in report
    for name in ("roc.png", "relevance.png", "fusion_ranking.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saved_model_scores_waveforms(finished_run):
    out, results = finished_run
    model, header = load_model(out / "model.joblib")
    assert header["sr"] == 8000 and header["window"] == 0.5
    assert header["positive_class"] == 1
    waves = np.random.default_rng(0).normal(0, 0.01, (3, 4000)).astype(np.float32)
    proba = model.predict_proba(waves)
    # the weighted vote of the saved members, computed here member by member
    from sklearn_rbfm import RBFMClassifier

    assert isinstance(model, RBFMClassifier)
    Z = np.hstack([e.transform(waves) for _, e in model.embedders_])
    votes = [w * m.predict_proba(Z) for m, w in zip(model.members_.values(),
                                                     model.weights_)]
    np.testing.assert_allclose(proba, np.sum(votes, axis=0) / model.weights_.sum(),
                               rtol=1e-6)
    assert list(model.best_members_) == results["saved_model"]["members"]
    assert results["run_id"] in header["description"]


def test_rerun_resumes_from_cache(finished_run, small_task, capsys):
    out, results = finished_run
    root, labels = small_task
    capsys.readouterr()
    assert main(_experiment_args(root, labels, out, "--embedders", "small_cnn")) == 0
    err = capsys.readouterr().err
    assert err.count("finished before, from the cache") == 2
    assert "waveforms from the cache" in err
    with open(out / "results.json") as fh:
        again = json.load(fh)
    assert [m["test_auc"] for m in again["models"]] == [
        m["test_auc"] for m in results["models"]]
    # the folds' stage times are those of the run that computed them
    assert again["timings_s"]["models"] == results["timings_s"]["models"] > 0


@pytest.mark.parametrize("problem, expected", [
    ("missing", "nope.wav: listed in"),
    ("unreadable", "not readable audio"),
    ("single_class", "single class"),
    ("too_few", "too few for 10 outer folds"),
    ("multiclass", "choose the positive class with --positive"),
    ("unknown_positive", "--positive '7' is not a label"),
    ("unknown_embedder", "unknown embedder"),
])
def test_bad_data_stops_before_work(problem, expected, sample, tmp_path, capsys):
    data, root = sample
    names = data.target_names[data.target]
    rows = [(data.filenames[i], names[i], data.groups[i]) for i in range(0, 300, 3)]
    args = ["--positive", "0"]
    if problem == "missing":
        rows.append((os.path.join(root, "recordings", "nope.wav"), "1", "x"))
    elif problem == "unreadable":
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"RIFF\x00\x00")
        rows.append((str(bad), "1", "x"))
        root = os.path.commonpath([root, str(tmp_path)])
    elif problem == "single_class":
        rows = [r for r in rows if r[1] == "0"]
        args = []
    elif problem == "too_few":
        args += ["--cv", "10"]
    elif problem == "multiclass":
        args = []
    elif problem == "unknown_positive":
        rows = [r for r in rows if r[1] != "7"]
        args = ["--positive", "7"]
    elif problem == "unknown_embedder":
        args += ["--embedders", "resnet"]
    labels = _write_labels(tmp_path / "labels.csv", root, rows)
    out = tmp_path / "out"
    assert main(["experiment", root, "--labels", labels, "--out", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert not (out / "cache").exists() or not any(
        n.startswith("embeddings") for n in os.listdir(out / "cache"))


def test_rerun_removes_the_outputs_of_an_earlier_run(finished_run, small_task,
                                                     tmp_path, capsys, monkeypatch):
    """A rerun into a finished run's folder never leaves a stale result."""
    import shutil

    from sklearn_rbfm.cli._common import CommandError
    from sklearn_rbfm.cli._experiment import Experiment

    out, _ = finished_run
    root, labels = small_task
    again = tmp_path / "again"
    shutil.copytree(out, again)
    model = again / "model.joblib"
    outputs = ("results.json", "report.md", "roc.png", "model.joblib")
    args = _experiment_args(root, labels, again, "--embedders", "small_cnn",
                            "--save-model", str(model))
    # an explicit --n-features is never replaced by a smaller one; refused
    # before the run starts, so the earlier run's outputs stay as they were
    assert main(args + ["--n-features", "1000"]) == 1
    err = capsys.readouterr().err
    assert "--n-features 1000 is larger than the 384-d embedding of 'small_cnn'" in err
    assert all((again / name).exists() for name in outputs)

    # a run that starts and then fails leaves none of the old outputs
    def fail(self):
        raise CommandError("decoding failed")

    monkeypatch.setattr(Experiment, "waveforms", fail)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "removed the outputs of an earlier run" in err and "decoding failed" in err
    for name in outputs:
        assert not (again / name).exists()


@pytest.mark.parametrize("problem, expected", [
    ("n_jobs_zero", "--n-jobs 0 runs nothing"),
    ("out_under_a_file", "cannot be created"),
    ("save_model_missing_dir", "does not exist; create it first"),
    ("save_model_is_a_folder", "is a folder; give a file path"),
])
def test_bad_outputs_stop_before_any_work(problem, expected, small_task, tmp_path,
                                          capsys):
    root, labels = small_task
    out = tmp_path / "out"
    extra = []
    if problem == "n_jobs_zero":
        extra = ["--n-jobs", "0"]
    elif problem == "out_under_a_file":
        (tmp_path / "file").write_text("not a folder")
        out = tmp_path / "file" / "out"
    elif problem == "save_model_missing_dir":
        extra = ["--save-model", str(tmp_path / "missing" / "m.joblib")]
    else:
        (tmp_path / "models").mkdir()
        extra = ["--save-model", str(tmp_path / "models")]
    assert main(_experiment_args(root, labels, out, *extra)) == 1
    assert expected in capsys.readouterr().err
    # nothing was decoded nor embedded
    assert not (out / "cache").exists() or not os.listdir(out / "cache")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may write anywhere")
def test_unwritable_out_is_refused(small_task, tmp_path, capsys):
    root, labels = small_task
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(_experiment_args(root, labels, locked)) == 1
    assert "is not writable" in capsys.readouterr().err


def test_missing_label_file(tmp_path, capsys):
    assert main(["experiment", str(tmp_path), "--labels", "none.csv"]) == 1
    assert "none.csv' does not exist" in capsys.readouterr().err


def test_parser_and_module_entry_point():
    parser = build_parser()
    args = parser.parse_args(["detect", "m.joblib", "a.wav", "b.wav",
                              "--format", "raven"])
    assert args.recordings == ["a.wav", "b.wav"] and args.hop is None
    demo = parser.parse_args(["demo"])
    assert (demo.positive, demo.groups, demo.cv, demo.out) == (
        "0", "speaker", 3, "demo_output")
    with pytest.raises(SystemExit):
        parser.parse_args(["experiment", "d", "--cv", "3", "--dev-split", "x"])
    code = ("import sys; from sklearn_rbfm.cli import build_parser; "
            "build_parser(); print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "False"
    version = subprocess.run([sys.executable, "-m", "sklearn_rbfm", "--version"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("sklearn_rbfm ")


def test_dev_split_column_gives_the_roles(sample, tmp_path, capsys):
    from sklearn_rbfm.cli._data import load_dataset
    from sklearn_rbfm.cli._splits import make_splits

    data, root = sample
    names = data.target_names[data.target]
    roles = np.array(["train", "dev", "test"])[np.arange(300) % 3]
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "speaker", "role"])
        for f, label, speaker, role in zip(data.filenames, names, data.groups, roles):
            writer.writerow([os.path.relpath(f, root), label, speaker, role])
    loaded = load_dataset(root, labels=str(labels), dev_split="role", positive="3")
    assert set(loaded["y"]) == {"3", "rest"} and (loaded["y"] == "3").sum() == 30
    (split,) = make_splits(loaded["y"], None, loaded["roles"], 5, 0)
    np.testing.assert_array_equal(split["fit"], np.arange(0, 300, 3))
    np.testing.assert_array_equal(split["dev"], np.arange(1, 300, 3))
    np.testing.assert_array_equal(split["test"], np.arange(2, 300, 3))

    text = labels.read_text().replace(",test\n", ",holdout\n")
    labels.write_text(text)
    assert main(["experiment", root, "--labels", str(labels), "--dev-split",
                 "role", "--positive", "3", "--out", str(tmp_path / "o")]) == 1
    assert "each clip's role must be train, devel or test" in capsys.readouterr().err
    assert main(["experiment", root, "--labels", str(labels), "--dev-split",
                 "fold", "--positive", "3", "--out", str(tmp_path / "o")]) == 1
    assert "has no column 'fold'" in capsys.readouterr().err


def test_compare_orca_layout_without_test_labels(sample, tmp_path):
    import soundfile as sf

    from sklearn_rbfm.cli._data import load_dataset

    data, _ = sample
    (tmp_path / "wav").mkdir()
    (tmp_path / "lab").mkdir()
    names = data.target_names[data.target]
    for subset, count in (("train", 16), ("devel", 8), ("test", 4)):
        rows = ["file_name,label"]
        for i in range(count):
            wave, rate = sf.read(data.filenames[i * 7], dtype="float32")
            sf.write(tmp_path / "wav" / f"{subset}_{i:04d}.wav", wave, rate)
            label = "?" if subset == "test" else (
                "orca" if names[i * 7] == "0" or i % 3 == 0 else "noise")
            rows.append(f"{subset}_{i:04d}.wav,{label}")
        (tmp_path / "lab" / f"{subset}.csv").write_text("\n".join(rows) + "\n")
    loaded = load_dataset(str(tmp_path))
    assert "devel used as test" in loaded["source"]
    assert set(loaded["y"]) == {"orca", "noise"}
    roles = loaded["roles"]
    assert (roles == "test").sum() == 8  # the labelled devel files
    assert (roles == "devel").sum() + (roles == "train").sum() == 16
    assert 0 < (roles == "devel").sum() < 8
    assert not any("test_" in os.path.basename(f) for f in loaded["filenames"])
