"""Detection: streaming windows, event merging, model files, planted calls, rbfm detect."""

import csv
import json
import os
import re
import warnings

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_rbfm import AudioLoader, SpectrogramTransformer
from sklearn_rbfm import cli
from sklearn_rbfm.cli import main
from sklearn_rbfm.baselines import band_statistics
from sklearn_rbfm.detection import (detect, detect_recordings, iter_windows,
                                    merge_events, split_front_end)
from sklearn_rbfm.persistence import ModelVersionWarning, load_model, save_model
from sklearn_rbfm.datasets import load_fsdd_sample

SR = 8000
LONG_SR = 16000
PLANTED_AT = [4.0, 13.3, 22.1, 33.7, 45.2, 54.9]


def _background(rng, n):
    noise = rng.normal(0, rng.choice([1e-4, 3e-3, 1e-2]), n).astype(np.float32)
    if rng.random() < 0.3:
        noise[rng.integers(0, n):] = 0
    return noise


@pytest.fixture(scope="module")
def fsdd():
    data = load_fsdd_sample()
    return data, data.groups == "jackson"


@pytest.fixture(scope="module")
def detector(fsdd):
    """Spoken digit (any) against background, trained without 'jackson'."""
    data, held_out = fsdd
    rng = np.random.default_rng(0)
    n = SR
    X, y = [], []
    for path in data.filenames[~held_out][::2]:
        clip, rate = sf.read(path, dtype="float32")
        assert rate == SR
        clip = clip[:n]
        window = _background(rng, n) * 0.5
        offset = rng.integers(0, n - len(clip) + 1)
        window[offset:offset + len(clip)] += clip
        X += [window, _background(rng, n)]
        y += [1, 0]
    return make_pipeline(
        SpectrogramTransformer(kind="mel", sr=SR, n_fft=256, win_length=200,
                               hop_length=80, n_mels=32),
        FunctionTransformer(band_statistics, kw_args={"n_bands": 32}),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    ).fit(np.stack(X), np.array(y))


@pytest.fixture(scope="module")
def recording(fsdd, tmp_path_factory):
    """One minute at 16 kHz: noise, a silent passage, six held-out clips."""
    data, held_out = fsdd
    rng = np.random.default_rng(1)
    signal = rng.normal(0, 0.004, 60 * LONG_SR).astype(np.float32)
    signal[20 * LONG_SR:30 * LONG_SR] = 0
    loader = AudioLoader(sr=LONG_SR)
    planted = []
    for start, path in zip(PLANTED_AT, data.filenames[held_out][::8]):
        clip = loader.fit_transform([path])[0]
        i = int(start * LONG_SR)
        signal[i:i + len(clip)] += clip
        planted.append((start, start + len(clip) / LONG_SR))
    path = tmp_path_factory.mktemp("long") / "recording.wav"
    sf.write(path, signal, LONG_SR)
    return str(path), planted


@pytest.fixture(scope="module")
def model_file(detector, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "digits.joblib"
    save_model(detector, path, sr=SR, window=1.0, description="test")
    return str(path)


def test_planted_calls_found_at_their_times(detector, recording):
    path, planted = recording
    events, info = detect(detector, path, sr=SR, window=1.0, hop=0.25)
    assert info["duration_s"] == pytest.approx(60.0)
    # windows start every 0.25 s; the last one starts before the end
    assert info["n_windows"] == 237
    assert len(events) == len(planted)
    for (start, end, score, n_windows), (t0, t1) in zip(events, planted):
        # the event covers the clip and extends at most one window beyond it
        assert start <= t0 and end >= t1
        assert t0 - start <= 1.0 and end - t1 <= 1.0
        assert score > 0.9 and n_windows >= 3


def test_streaming_is_independent_of_block_size(detector, recording):
    path, _ = recording
    kwargs = dict(sr=SR, window=SR, hop=SR // 4, batch_size=50)
    small = list(iter_windows(path, block_seconds=0.7, **kwargs))
    large = list(iter_windows(path, block_seconds=60.0, **kwargs))
    starts_small = np.concatenate([s for s, _ in small])
    starts_large = np.concatenate([s for s, _ in large])
    np.testing.assert_array_equal(starts_small, starts_large)
    np.testing.assert_array_equal(starts_small, np.arange(237) * (SR // 4))
    windows_small = np.concatenate([w for _, w in small])
    windows_large = np.concatenate([w for _, w in large])
    assert windows_small.shape == (237, SR)
    np.testing.assert_allclose(windows_small, windows_large, atol=1e-5)
    # the recording is resampled 16 kHz -> 8 kHz on the fly
    reference = AudioLoader(sr=SR).fit_transform([path])[0]
    np.testing.assert_allclose(windows_small[40], reference[40 * SR // 4:][:SR],
                               atol=2e-3)


def test_short_file_gives_one_padded_window(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, np.full(300, 0.5, np.float32), SR)
    (starts, windows), = iter_windows(str(path), sr=SR, window=800, hop=400,
                                      batch_size=8)
    assert starts.tolist() == [0]
    assert windows.shape == (1, 800)
    assert np.allclose(windows[0, :300], 0.5) and not windows[0, 300:].any()


def test_front_end_runs_in_the_producer(detector):
    front, rest = split_front_end(detector)
    # every step before the final estimator is numpy work: all run ahead
    assert front.steps == ["spectrogramtransformer", "functiontransformer",
                           "standardscaler"]
    assert rest.steps == ["logisticregression"]
    X = np.random.default_rng(0).normal(0, 0.05, (5, SR)).astype(np.float32)
    np.testing.assert_array_equal(rest(front(X)), detector.predict_proba(X))


class _Heavy(FunctionTransformer):
    """Stands for a Keras embedder: the split must stop before it."""


_Heavy.__module__ = "sklearn_rbfm._embedder"


def test_front_end_reaches_inside_feature_union_branches(detector):
    """A FeatureUnion of pipelines, as 'rbfm experiment --save-model' writes."""
    spectrogram = detector[0]
    X = np.random.default_rng(1).normal(0, 0.05, (30, SR)).astype(np.float32)
    y = np.arange(30) % 2
    union = FeatureUnion([
        ("cnn", make_pipeline(spectrogram, _Heavy(lambda Z: Z[:, ::50]),
                              StandardScaler())),
        ("stats", make_pipeline(spectrogram, FunctionTransformer(
            band_statistics, kw_args={"n_bands": 32}))),
    ], transformer_weights={"stats": 2.0})
    model = make_pipeline(union, LogisticRegression(max_iter=500)).fit(X, y)
    front, rest = split_front_end(model)
    assert front.steps == [
        "featureunion/cnn/spectrogramtransformer",
        "featureunion/stats/spectrogramtransformer",
        "featureunion/stats/functiontransformer"]
    assert rest.steps == ["featureunion/cnn/_heavy",
                          "featureunion/cnn/standardscaler", "logisticregression"]
    np.testing.assert_allclose(rest(front(X)), model.predict_proba(X), rtol=1e-12)
    # a union of light branches runs ahead whole, followed by light steps
    light = make_pipeline(FeatureUnion([("a", make_pipeline(spectrogram, StandardScaler())),
                                        ("b", FunctionTransformer(np.abs))]),
                          StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    front, rest = split_front_end(light)
    assert front.steps == ["featureunion/a/spectrogramtransformer",
                           "featureunion/a/standardscaler", "featureunion/b",
                           "standardscaler"]
    np.testing.assert_allclose(rest(front(X)), light.predict_proba(X), rtol=1e-12)


def test_merge_events_rules():
    assert merge_events([0, 1, 2, 3, 6], [0.9, 0.7, 0.1, 0.8, 0.95],
                        window=2, threshold=0.5) == [(0.0, 5.0, 0.9, 3),
                                                     (6.0, 8.0, 0.95, 1)]
    assert merge_events([0, 5], [0.2, 0.4], window=1, threshold=0.5) == []
    # a window exactly at the threshold counts
    assert merge_events([0], [0.5], window=1, threshold=0.5) == [(0.0, 1.0, 0.5, 1)]


def test_cli_csv_and_raven(model_file, recording, tmp_path, capsys):
    path, planted = recording
    out = tmp_path / "events.csv"
    assert main(["detect", model_file, path, "--hop", "0.25", "--out", str(out)]) == 0
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(planted)
    assert [r["file"] for r in rows] == [path] * len(planted)
    assert float(rows[0]["start_s"]) <= planted[0][0] <= float(rows[0]["end_s"])
    captured = capsys.readouterr()
    assert "real time" in captured.out
    # the progress bar counts hours of audio and recordings
    assert "0.02/0.02 h" in captured.err and "1/1 recordings" in captured.err

    raven = tmp_path / "events.selections.txt"
    assert main(["detect", model_file, path, "--hop", "0.25", "--format", "raven",
                 "--out", str(raven)]) == 0
    lines = raven.read_text().splitlines()
    assert lines[0].split("\t") == [
        "Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
        "Low Freq (Hz)", "High Freq (Hz)", "Score"]
    first = lines[1].split("\t")
    assert first[:3] == ["1", "Spectrogram 1", "1"]
    assert float(first[3]) <= planted[0][0] and float(first[6]) == LONG_SR / 2
    assert len(lines) == 1 + len(planted)


def test_model_file_records_versions(model_file, detector):
    model, header = load_model(model_file)
    assert header["sr"] == SR and header["window"] == 1.0
    assert header["positive_class"] == 1 and header["classes"] == [0, 1]
    assert header["versions"]["scikit-learn"] and header["versions"]["sklearn_rbfm"]
    X = np.random.default_rng(0).normal(0, 0.01, (3, SR)).astype(np.float32)
    np.testing.assert_array_equal(model.predict_proba(X), detector.predict_proba(X))


def test_other_versions_warn_or_fail(model_file, tmp_path):
    payload = joblib.load(model_file)
    payload["versions"] = dict(payload["versions"], **{"scikit-learn": "0.24.2"})
    other = tmp_path / "old.joblib"
    joblib.dump(payload, other)
    with pytest.warns(ModelVersionWarning,
                      match=r"scikit-learn 0\.24\.2 \(saved\) vs 1\.\d+"):
        load_model(other)
    with pytest.raises(ValueError, match=r"scikit-learn 0\.24\.2 \(saved\)"):
        load_model(other, strict=True)
    assert main(["detect", str(other), model_file, "--strict-versions"]) == 1

    payload["pipeline"] = b"not a pickle"
    joblib.dump(payload, other)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelVersionWarning)
        with pytest.raises(ValueError, match=r"could not load the model.*"
                           r"scikit-learn 0\.24\.2"):
            load_model(other)


def test_bad_inputs(model_file, tmp_path, capsys):
    assert main(["detect", model_file, str(tmp_path / "missing.wav")]) == 1
    assert "missing.wav' does not exist" in capsys.readouterr().err
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    assert main(["detect", model_file, str(not_audio), "--out",
                 str(tmp_path / "d.csv")]) == 1
    assert "notes.wav: not a readable audio file" in capsys.readouterr().err
    assert main(["detect", str(not_audio), str(not_audio)]) == 1
    assert "not a model file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="window"):
        detect(_BrokenModel(), str(not_audio), sr=SR, window=1e-6)
    with pytest.raises(ValueError, match="'model' parameter of detect must be an "
                       "object implementing 'predict_proba'"):
        detect(None, str(not_audio), sr=SR, window=1.0)
    good = tmp_path / "ok.wav"
    sf.write(good, np.zeros(SR, np.float32), SR)
    assert main(["detect", model_file, str(good), "--window", "2"]) == 1
    assert "scores 1.0 s windows" in capsys.readouterr().err
    assert main(["detect", model_file, str(good), "--threshold", "2"]) == 1
    with pytest.raises(ValueError, match="fitted classifier"):
        save_model(StandardScaler(), tmp_path / "x.joblib", sr=SR, window=1.0)
    assert not os.path.exists(tmp_path / "x.joblib")


class _BrokenModel:
    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        raise RuntimeError("broken model")


def test_errors_on_either_side_stop_both_threads(recording, tmp_path):
    path, _ = recording
    # the model fails while the producer is still filling a small queue
    with pytest.raises(RuntimeError, match="broken model"):
        detect(_BrokenModel(), path, sr=SR, window=0.1, hop=0.05, batch_size=2,
               prefetch=1)
    signal = np.zeros(3 * SR, np.float32)
    signal[2 * SR + 400] = np.nan
    bad = tmp_path / "nan.wav"
    sf.write(bad, signal, SR, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan.wav contains NaN or infinite "
                       r"samples \(first at sample 16400, 2\.050 s\)"):
        detect(_BrokenModel(), str(bad), sr=SR, window=1.0)


def test_cli_keeps_reexporting_the_library_functions():
    from sklearn_rbfm import detection, persistence

    assert cli.detect is detection.detect
    assert cli.merge_events is detection.merge_events
    assert cli.save_model is persistence.save_model
    assert cli.load_model is persistence.load_model
    from sklearn_rbfm.cli._model_file import save_model as shim

    assert shim is persistence.save_model


def _write_wav(path, seconds, sr=SR, value=0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    signal = np.random.default_rng(3).normal(0, 0.004, int(seconds * sr)).astype(np.float32)
    sf.write(path, signal + value, sr)
    return str(path)


def test_bad_recordings_do_not_stop_the_run(model_file, recording, tmp_path, capsys):
    path, planted = recording
    text = tmp_path / "text.wav"
    text.write_text("these are notes, not audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    quiet = _write_wav(tmp_path / "quiet.wav", 3)
    out = tmp_path / "d.csv"
    out.write_text("file,start_s,end_s,score,n_windows\nold.wav,1,2,0.9,1\n")
    code = main(["detect", model_file, path, str(text), str(empty), quiet,
                 "--hop", "0.25", "--out", str(out), "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert "2 of 4 recordings failed" in captured.err
    assert "text.wav: not a readable audio file" in captured.err
    assert "empty.wav: an empty file" in captured.err
    assert "quiet.wav: 0 events" in captured.out
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == len(planted) and {r["file"] for r in rows} == {path}
    record = json.loads((tmp_path / "d.csv.run.json").read_text())
    assert [r["path"] for r in record["recordings"]] == [path, quiet]
    assert [os.path.basename(r["path"]) for r in record["failed"]] == [
        "text.wav", "empty.wav"]
    assert len(record["run_id"]) == 12 and record["model"].endswith("digits.joblib")
    # the finished recordings are kept for --resume
    assert len(os.listdir(tmp_path / "d.csv.parts")) == 2


def test_failed_run_leaves_no_stale_output(model_file, tmp_path, capsys):
    out = tmp_path / "d.csv"
    out.write_text("file,start_s,end_s,score,n_windows\nold.wav,1,2,0.9,1\n")
    (tmp_path / "d.csv.run.json").write_text('{"run_id": "old"}')
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    assert main(["detect", model_file, str(text), "--out", str(out),
                 "--no-progress"]) == 1
    assert out.read_text().splitlines() == ["file,start_s,end_s,score,n_windows"]
    record = json.loads((tmp_path / "d.csv.run.json").read_text())
    assert record["run_id"] != "old" and record["recordings"] == []


def test_output_locations_are_checked_before_any_work(model_file, recording,
                                                      tmp_path, capsys):
    path, _ = recording
    for fmt in ("csv", "raven"):
        out = tmp_path / "missing_dir" / "x.csv"
        assert main(["detect", model_file, path, "--format", fmt, "--out",
                     str(out), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert "--out" in err and "missing_dir' does not exist; create it first" in err
    assert main(["detect", model_file, path, "--scores",
                 str(tmp_path / "nope" / "s.csv"), "--out", str(tmp_path / "d.csv")]) == 1
    assert "--scores" in capsys.readouterr().err
    assert not (tmp_path / "d.csv.parts").exists()


def test_hop_longer_than_the_window_is_refused(model_file, recording, tmp_path, capsys):
    path, _ = recording
    assert main(["detect", model_file, path, "--hop", "1.5", "--out",
                 str(tmp_path / "d.csv")]) == 1
    assert "0.5 s of audio after every window would never be scored" in \
        capsys.readouterr().err
    with pytest.raises(ValueError, match="hop=1.5 s is longer than the window"):
        detect(_BrokenModel(), path, sr=SR, window=1.0, hop=1.5)


def test_folder_glob_and_raven_names_stay_apart(model_file, tmp_path, capsys):
    a = _write_wav(tmp_path / "site_a" / "rec.wav", 2)
    b = _write_wav(tmp_path / "site_b" / "rec.wav", 3)
    c = _write_wav(tmp_path / "site_b" / "other.flac", 2)
    out = tmp_path / "tables" / "sel.txt"
    out.parent.mkdir()
    assert main(["detect", model_file, str(tmp_path / "site_a"),
                 str(tmp_path / "site_b" / "*.*"), "--format", "raven",
                 "--out", str(out), "--no-progress"]) == 0
    tables = sorted(p.name for p in out.parent.iterdir() if p.suffix == ".txt")
    assert len(tables) == 3 and "sel.other.txt" in tables
    assert sum(t.startswith("sel.rec-") for t in tables) == 2
    record = json.loads((out.parent / "sel.txt.run.json").read_text())
    assert [r["path"] for r in record["recordings"]] == [a, c, b]
    assert [r["duration_s"] for r in record["recordings"]] == [2.0, 2.0, 3.0]


def test_truncated_wav_is_refused_like_the_loader_does(tmp_path):
    good = _write_wav(tmp_path / "good.wav", 2)
    raw = open(good, "rb").read()
    (tmp_path / "cut.wav").write_bytes(raw[: len(raw) // 2])
    cut = str(tmp_path / "cut.wav")
    with pytest.raises(ValueError, match="cut.wav: truncated file"):
        AudioLoader(sr=SR).fit_transform([cut])
    with pytest.raises(ValueError, match="cut.wav: truncated file"):
        detect(_BrokenModel(), cut, sr=SR, window=1.0)


def test_channel_policy_is_honoured(tmp_path):
    t = np.arange(SR) / SR
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), np.zeros(SR)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1).astype(np.float32), SR,
             subtype="FLOAT")
    kwargs = dict(sr=SR, window=SR, hop=SR, batch_size=4)
    (_, mean), = iter_windows(str(path), **kwargs)
    (_, first), = iter_windows(str(path), channels="first", **kwargs)
    (_, second), = iter_windows(str(path), channels=1, **kwargs)
    np.testing.assert_allclose(first[0], left, atol=1e-6)
    np.testing.assert_allclose(mean[0], left / 2, atol=1e-6)
    assert not second.any()
    with pytest.raises(ValueError, match="channels=2 is out of range"):
        list(iter_windows(str(path), channels=2, **kwargs))


def test_save_model_refuses_a_window_of_the_wrong_width(detector, tmp_path):
    with pytest.raises(ValueError, match=r"inputs of 8000 values, but sr=8000 x "
                       r"window=2 s gives windows of 16000 samples"):
        save_model(detector, tmp_path / "m.joblib", sr=SR, window=2.0)
    with pytest.raises(FileNotFoundError, match="does not exist; create it"):
        save_model(detector, tmp_path / "no" / "m.joblib", sr=SR, window=1.0)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_parallel_and_resumed_runs_give_identical_events(detector, recording, tmp_path):
    path, _ = recording
    other = _write_wav(tmp_path / "quiet.wav", 5)
    kwargs = dict(sr=SR, window=1.0, hop=0.5, fingerprint="f1")
    serial = detect_recordings(detector, [path, other], n_jobs=1,
                               parts_dir=str(tmp_path / "parts"), **kwargs)
    parallel = detect_recordings(detector, [path, other], n_jobs=2, **kwargs)
    assert [r["events"] for r in serial] == [r["events"] for r in parallel]
    assert len(serial[0]["events"]) == 6 and serial[1]["events"] == []
    resumed = detect_recordings(_BrokenModel(), [path, other], resume=True,
                                parts_dir=str(tmp_path / "parts"), **kwargs)
    assert [r["resumed"] for r in resumed] == [True, True]
    assert [r["events"] for r in resumed] == [r["events"] for r in serial]
    # other settings: the saved results are not reused
    with pytest.raises(RuntimeError, match="broken model"):
        detect_recordings(_BrokenModel(), [path], resume=True,
                          parts_dir=str(tmp_path / "parts"),
                          **dict(kwargs, fingerprint="f2"))


def test_scores_file_has_every_window(model_file, recording, tmp_path):
    path, _ = recording
    scores = tmp_path / "scores.csv"
    assert main(["detect", model_file, path, "--hop", "0.25", "--out",
                 str(tmp_path / "d.csv"), "--scores", str(scores),
                 "--no-progress"]) == 0
    rows = list(csv.DictReader(open(scores)))
    assert len(rows) == 237
    assert float(rows[1]["start_s"]) == 0.25 and float(rows[1]["end_s"]) == 1.25
    assert float(rows[-1]["end_s"]) == 60.0
    # no failure: the per-recording parts are cleaned up
    assert not (tmp_path / "d.csv.parts").exists()


def test_dask_backend_gives_the_same_events(detector, model_file, recording, tmp_path):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    path, _ = recording
    other = _write_wav(tmp_path / "quiet.wav", 4)
    kwargs = dict(sr=SR, window=1.0, hop=0.5)
    expected = detect_recordings(detector, [path, other], n_jobs=1, **kwargs)
    # one in-process worker, over TCP on the loopback interface
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2,
                                  processes=False, protocol="tcp",
                                  host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with parallel_config(backend="dask"), \
                distributed.get_task_stream(client) as tasks:
            got = detect_recordings(detector, [path, other], n_jobs=2, **kwargs)
    # the recordings ran as tasks of the cluster
    assert len(tasks.data) >= 2
    # the command line reaches the same cluster by its scheduler's address
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2,
                                  processes=False, protocol="tcp",
                                  host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None) as cluster:
        out = str(tmp_path / "d.csv")
        assert main(["detect", model_file, path, other, "--hop", "0.5", "--out", out,
                     "--n-jobs", "-1", "--scheduler", cluster.scheduler_address,
                     "--no-progress"]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [(float(r["start_s"]), float(r["end_s"])) for r in rows] == [
        tuple(e[:2]) for r in expected for e in r["events"]]
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    assert [r["events"] for r in got] == [r["events"] for r in expected]
    assert len(got[0]["events"]) == 6


def test_resume_after_fixing_a_bad_recording(model_file, tmp_path, capsys):
    good = _write_wav(tmp_path / "good.wav", 3)
    bad = tmp_path / "bad.wav"
    bad.write_text("not yet audio")
    out = str(tmp_path / "d.csv")
    args = ["detect", model_file, good, str(bad), "--out", out, "--no-progress"]
    assert main(args) == 1
    capsys.readouterr()
    _write_wav(bad, 2)
    assert main(args + ["--resume"]) == 0
    printed = capsys.readouterr().out
    assert "good.wav: 0 events in 3.0 s of audio (5 windows, resumed)" in printed
    # the fixed recording is scored now
    assert re.search(r"bad.wav: 0 events in 2.0 s of audio \(3 windows, "
                     r"[\d.]+x real time\)", printed)
    record = json.loads(open(out + ".run.json").read())
    assert [r["duration_s"] for r in record["recordings"]] == [3.0, 2.0]
    assert record["failed"] == [] and not os.path.exists(out + ".parts")


def test_front_end_of_an_experiment_model_reaches_its_spectrograms():
    """The FeatureUnion of extractors that 'rbfm experiment --save-model' writes."""
    from sklearn.pipeline import Pipeline

    from sklearn_rbfm.cli._extractors import make_extractor

    extractors = [(name, make_extractor(name, sr=SR, n_samples=SR, playback_rate=1,
                                        seed=0)) for name in ("small_cnn", "birdnet")]
    model = Pipeline([("embeddings", FeatureUnion(extractors)),
                      ("fusion", LogisticRegression())])
    front, rest = split_front_end(model)
    assert front.steps == ["embeddings/small_cnn/spectrogram"]
    assert rest.steps == ["embeddings/small_cnn/embedder", "embeddings/birdnet", "fusion"]


def test_front_end_of_an_rbfm_classifier_reaches_inside_its_embedders():
    """'rbfm experiment --save-model' writes an RBFMClassifier."""
    from sklearn.preprocessing import FunctionTransformer

    from sklearn_rbfm import RBFMClassifier, SpectrogramTransformer
    from sklearn_rbfm.baselines import band_statistics

    rng = np.random.RandomState(0)
    X = rng.normal(scale=0.1, size=(40, 800)).astype(np.float32)
    y = np.arange(40) % 2
    X[y == 1, ::8] += 0.5  # a tone the classes differ by
    mel = make_pipeline(
        SpectrogramTransformer(kind="mel", sr=SR, n_fft=128, hop_length=64, n_mels=8),
        FunctionTransformer(band_statistics, kw_args={"n_bands": 8}))
    model = RBFMClassifier([("mel", mel), ("raw", FunctionTransformer(np.abs))],
                           base_estimator=LogisticRegression(), maskings=("none",),
                           cv=2, random_state=0).fit(X, y)
    front, rest = split_front_end(model)
    assert front.steps == ["embedders/mel/spectrogramtransformer",
                           "embedders/mel/functiontransformer", "embedders/raw"]
    assert rest.steps == ["RBFMClassifier"]
    np.testing.assert_allclose(rest(front(X)), model.predict_proba(X), rtol=1e-6)
