"""rbfm detect: streaming windows, event merging, model files, planted calls."""

import csv
import os
import warnings

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_rbfm import AudioLoader, SpectrogramTransformer
from sklearn_rbfm.cli import (CommandError, ModelVersionWarning, detect,
                              load_model, main, merge_events, save_model)
from sklearn_rbfm.cli._detect import iter_windows, split_front_end
from sklearn_rbfm.cli._features import band_statistics
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
    assert isinstance(front[0], SpectrogramTransformer) and len(front) == 1
    assert len(rest) == 3


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
    assert "real time" in capsys.readouterr().out

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
    with pytest.raises(CommandError, match=r"scikit-learn 0\.24\.2 \(saved\)"):
        load_model(other, strict=True)
    assert main(["detect", str(other), model_file, "--strict-versions"]) == 1

    payload["pipeline"] = b"not a pickle"
    joblib.dump(payload, other)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelVersionWarning)
        with pytest.raises(CommandError, match=r"could not load the model.*"
                           r"scikit-learn 0\.24\.2"):
            load_model(other)


def test_bad_inputs(model_file, tmp_path, capsys):
    assert main(["detect", model_file, str(tmp_path / "missing.wav")]) == 1
    assert "missing.wav' does not exist" in capsys.readouterr().err
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    assert main(["detect", model_file, str(not_audio)]) == 1
    assert "cannot read recording" in capsys.readouterr().err
    assert main(["detect", str(not_audio), str(not_audio)]) == 1
    assert "not a model file" in capsys.readouterr().err
    with pytest.raises(CommandError, match="window"):
        detect(None, str(not_audio), sr=SR, window=1e-6)
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
    with pytest.raises(CommandError, match=r"non-finite sample at 2\.050 s"):
        detect(_BrokenModel(), str(bad), sr=SR, window=1.0)
