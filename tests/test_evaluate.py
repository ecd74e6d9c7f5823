"""Detections against annotations, and the field workflow end to end."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import AudioLoader
from sklearn_rbfm.cli import main
from sklearn_rbfm.baselines import LogMelStatistics
from sklearn_rbfm.datasets import load_audio_folder, load_fsdd_sample
from sklearn_rbfm.detection import (evaluate_detections, merge_events,
                                    precision_recall_over_thresholds,
                                    threshold_for)
from sklearn_rbfm.persistence import load_model, save_model
from sklearn_rbfm.plotting import DetectionPrecisionRecallDisplay

SR = 8000


def _ann(recording, start, end, line=2):
    return {"recording": recording, "start_s": start, "end_s": end,
            "label": "call", "source": f"t.csv, line {line}"}


def test_scores_per_recording_and_overall():
    annotations = [_ann("a.wav", 10, 11), _ann("a.wav", 20, 21, 3),
                   _ann("dir/b.wav", 5, 6, 4), _ann("c.wav", 1, 2, 5)]
    detections = {"x/a.wav": [(10.8, 12.0, 0.9), (40, 41, 0.7)],
                  "b.wav": [(5.5, 5.9, 0.8)]}
    durations = {"x/a.wav": 1800.0, "b.wav": 1800.0}
    report = evaluate_detections(detections, annotations, durations=durations)
    a, b = report["recordings"]["x/a.wav"], report["recordings"]["b.wav"]
    assert (a["true_positives"], a["false_positives"], a["found"], a["missed"]) == (1, 1, 1, 1)
    assert a["precision"] == 0.5 and a["recall"] == 0.5 and a["f1"] == 0.5
    assert a["false_positives_per_hour"] == 2.0
    assert b["precision"] == 1.0 and b["recall"] == 1.0
    overall = report["overall"]
    assert overall["precision"] == pytest.approx(2 / 3)
    assert overall["recall"] == pytest.approx(2 / 3)
    assert overall["false_positives_per_hour"] == 1.0 and overall["hours"] == 1.0
    # c.wav was not part of the run
    assert report["annotations_outside"] == 1
    # 0.2 s shared with the first call is not enough for min_overlap=0.3
    strict = evaluate_detections(detections, annotations, durations=durations,
                                 min_overlap=0.3)
    assert strict["recordings"]["x/a.wav"]["true_positives"] == 0
    assert strict["recordings"]["b.wav"]["true_positives"] == 1
    with pytest.raises(ValueError, match=r"t.csv, line 2: annotation 10-11 s ends after"):
        evaluate_detections({}, annotations[:1], durations={"a.wav": 10.5})


def test_curve_matches_merged_events_at_each_threshold():
    rng = np.random.default_rng(0)
    starts = np.arange(0, 100, 0.5)
    scores = rng.random(len(starts))
    annotations = [_ann("a.wav", s, s + 0.6, i) for i, s in enumerate([3, 20, 41, 77])]
    window_scores = {"a.wav": (starts, starts + 1.0, scores)}
    thresholds = [0.2, 0.5, 0.9]
    curve = precision_recall_over_thresholds(window_scores, annotations,
                                             durations={"a.wav": 100.0},
                                             thresholds=thresholds)
    for t, p, r in zip(thresholds, curve["precision"], curve["recall"]):
        events = merge_events(starts, scores, window=1.0, threshold=t)
        o = evaluate_detections({"a.wav": events}, annotations,
                                durations={"a.wav": 100.0})["overall"]
        assert (p, r) == (o["precision"], o["recall"])
    assert curve["recall"][0] >= curve["recall"][-1]
    default = precision_recall_over_thresholds(window_scores, annotations,
                                               durations={"a.wav": 100.0})
    assert 10 < len(default["thresholds"]) <= 200
    assert np.all(np.diff(default["thresholds"]) > 0)
    t = threshold_for(default, recall=1.0)
    assert default["recall"][default["thresholds"] == t][0] == 1.0
    display = DetectionPrecisionRecallDisplay.from_curve(
        default, marked={"r=1": t}, ax=Figure().subplots())
    np.testing.assert_array_equal(display.line_.get_xdata(), default["recall"])
    with pytest.raises(ValueError, match="exactly one target"):
        threshold_for(default)


def _long_recording(path, clips, rng, seconds, sr=SR):
    """Noise with ``clips`` planted at random places, 3 s apart at least."""
    signal = rng.normal(0, 0.003, int(seconds * sr)).astype(np.float32)
    slots = rng.choice(np.arange(1, int(seconds / 3) - 1), len(clips), replace=False)
    calls = []
    for slot, clip in zip(sorted(slots), clips):
        start = slot * 3.0 + rng.uniform(0, 1)
        i = int(start * sr)
        signal[i:i + len(clip)] += clip
        calls.append((round(start, 3), round(start + len(clip) / sr, 3)))
    sf.write(path, signal, sr)
    return calls


def test_field_workflow_end_to_end(tmp_path, capsys):
    """Planted calls -> rbfm clips -> train, save_model -> rbfm detect -> rbfm evaluate."""
    data = load_fsdd_sample()
    loader = AudioLoader(sr=SR)
    rng = np.random.default_rng(0)
    train_clips = [loader.fit_transform([p])[0]
                   for p in data.filenames[data.groups != "jackson"][::6]]
    test_clips = [loader.fit_transform([p])[0]
                  for p in data.filenames[data.groups == "jackson"][::4]]
    train_calls = _long_recording(tmp_path / "train.wav", train_clips, rng, 150)
    test_calls = _long_recording(tmp_path / "test.wav", test_clips, rng, 120)
    for name, calls in (("train", train_calls), ("test", test_calls)):
        with open(tmp_path / f"{name}.csv", "w") as fh:
            fh.write("filename,start,end\n")
            fh.writelines(f"{name}.wav,{s},{e}\n" for s, e in calls)
    assert main(["clips", str(tmp_path / "train.wav"), "--annotations",
                 str(tmp_path / "train.csv"), "--window", "1", "--negatives",
                 str(len(train_calls)), "--out", str(tmp_path / "clips")]) == 0

    clips = load_audio_folder(tmp_path / "clips")
    X = AudioLoader(sr=SR, duration=1.0).fit_transform(clips.filenames)
    y = clips.target_names[clips.target]
    model = make_pipeline(LogMelStatistics(sr=SR), StandardScaler(),
                          LogisticRegression(max_iter=1000)).fit(X, y)
    save_model(model, tmp_path / "model.joblib", sr=SR, window=1.0,
               positive_class="call")

    assert main(["detect", str(tmp_path / "model.joblib"), str(tmp_path / "test.wav"),
                 "--hop", "0.25", "--out", str(tmp_path / "d.csv"), "--scores",
                 str(tmp_path / "s.csv"), "--no-progress"]) == 0
    assert main(["evaluate", str(tmp_path / "d.csv"), str(tmp_path / "test.csv"),
                 "--scores", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out
    assert "overall" in out and "precision-recall plot" in out
    report = json.loads((tmp_path / "d.evaluation.json").read_text())
    overall = report["overall"]
    assert overall["n_annotations"] == len(test_calls) == 13
    assert overall["recall"] >= 0.9 and overall["precision"] >= 0.9
    assert len(report["curve"]["thresholds"]) > 10
    assert (tmp_path / "d.evaluation.pr.png").stat().st_size > 1000
    rows = list(csv.DictReader(open(tmp_path / "d.csv")))
    assert len(rows) == overall["n_detections"]


def test_evaluate_needs_the_run_record(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("file,start_s,end_s,score,n_windows\na.wav,1,2,0.9,1\n")
    (tmp_path / "t.csv").write_text("filename,start,end\na.wav,1,2\n")
    assert main(["evaluate", str(tmp_path / "d.csv"), str(tmp_path / "t.csv")]) == 1
    assert "no run record" in capsys.readouterr().err
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    assert main(["evaluate", str(tmp_path / "x.csv"), str(tmp_path / "t.csv")]) == 1
    assert "not a detections file of rbfm detect" in capsys.readouterr().err


@pytest.mark.slow
def test_experiment_model_through_the_field_workflow(tmp_path, capsys):
    """rbfm clips -> rbfm experiment --groups recording --save-model -> rbfm detect
    -> rbfm evaluate, on planted FSDD calls."""
    data = load_fsdd_sample()
    loader = AudioLoader(sr=SR)
    rng = np.random.default_rng(1)
    others = data.filenames[data.groups != "jackson"]
    rows, recordings = ["filename,start,end"], []
    for r in range(4):
        clips = [loader.fit_transform([p])[0] for p in others[r::12][:5]]
        calls = _long_recording(tmp_path / f"r{r}.wav", clips, rng, 30)
        rows += [f"r{r}.wav,{s},{e}" for s, e in calls]
        recordings.append(str(tmp_path / f"r{r}.wav"))
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    test_clips = [loader.fit_transform([p])[0]
                  for p in data.filenames[data.groups == "jackson"][::10]]
    test_calls = _long_recording(tmp_path / "test.wav", test_clips, rng, 60)
    (tmp_path / "test.csv").write_text(
        "filename,start,end\n" + "".join(f"test.wav,{s},{e}\n" for s, e in test_calls))

    clips_dir, out, model = tmp_path / "clips", tmp_path / "run", tmp_path / "m.joblib"
    assert main(["clips", *recordings, "--annotations", str(tmp_path / "train.csv"),
                 "--window", "1", "--negatives", "5", "--out", str(clips_dir)]) == 0
    labels = list(csv.DictReader(open(clips_dir / "labels.csv")))
    assert len(labels) == 40 and len({r["recording"] for r in labels}) == 4
    assert main(["experiment", str(clips_dir), "--groups", "recording",
                 "--positive", "call", "--sr", str(SR), "--embedders", "small_cnn",
                 "--cv", "2", "--inner-cv", "2", "--epochs", "5", "--cnn-epochs", "2",
                 "--n-features", "16", "--no-opensmile", "--out", str(out),
                 "--save-model", str(model)]) == 0
    saved, header = load_model(model)
    assert type(saved).__name__ == "RBFMClassifier"
    assert header["positive_class"] in saved.classes_

    assert main(["detect", str(model), str(tmp_path / "test.wav"), "--hop", "0.5",
                 "--out", str(tmp_path / "d.csv"), "--scores", str(tmp_path / "s.csv"),
                 "--no-progress"]) == 0
    scores = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert len(scores) == int((60 - 1) / 0.5) + 1  # every window of the minute scored
    assert main(["evaluate", str(tmp_path / "d.csv"), str(tmp_path / "test.csv"),
                 "--scores", str(tmp_path / "s.csv")]) == 0
    report = json.loads((tmp_path / "d.evaluation.json").read_text())
    overall = report["overall"]
    detections = list(csv.DictReader(open(tmp_path / "d.csv")))
    assert overall["n_annotations"] == len(test_calls) == 5
    assert overall["n_detections"] == len(detections)
    # recall recomputed from the detections: an annotation is found when a
    # detection overlaps it
    found = sum(any(float(d["start_s"]) < e and float(d["end_s"]) > s for d in detections)
                for s, e in test_calls)
    assert overall["recall"] == pytest.approx(found / len(test_calls))
