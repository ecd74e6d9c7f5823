import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_rbfm import AudioLoader, SpectrogramTransformer
from sklearn_rbfm._loader import SkippedFilesWarning
from sklearn_rbfm.datasets import load_fsdd_sample


def _tone(freq, sr, seconds, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def _peak_hz(y, sr):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.argmax(spectrum) * sr / len(y)


@pytest.fixture
def formats(tmp_path):
    """A 440 Hz tone in each format, at a different rate and sample type."""
    specs = [
        ("tone.wav", 8000, "PCM_16"),
        ("tone.flac", 22050, "PCM_24"),
        ("tone.ogg", 44100, "VORBIS"),
        ("tone.aiff", 16000, "FLOAT"),
    ]
    paths = []
    for name, sr, subtype in specs:
        path = tmp_path / name
        sf.write(path, _tone(440.0, sr, 0.6), sr, subtype=subtype)
        paths.append(str(path))
    return paths


@pytest.fixture
def stereo(tmp_path):
    left, right = _tone(300.0, 16000, 0.25), _tone(1200.0, 16000, 0.25, amp=0.25)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    return str(path), left, right


@pytest.fixture
def bad_files(tmp_path):
    good = _tone(440.0, 8000, 0.5)
    sf.write(tmp_path / "good.wav", good, 8000, subtype="PCM_16")
    raw = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "truncated.wav").write_bytes(raw[: len(raw) // 2])
    for fmt in ("aiff", "flac"):
        sf.write(tmp_path / f"whole.{fmt}", good, 8000, subtype="PCM_16")
        raw = (tmp_path / f"whole.{fmt}").read_bytes()
        (tmp_path / f"truncated.{fmt}").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("these are notes, not audio\n" * 20)
    with_nan = good.copy()
    with_nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", with_nan, 8000, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32), 8000)
    return tmp_path


def test_reads_every_format_and_rate(formats):
    loader = AudioLoader(sr=16000, duration=0.5).fit(formats)
    waves = loader.transform(formats)
    assert waves.shape == (4, 8000) and waves.dtype == np.float32
    for path, wave in zip(formats, waves):
        assert abs(_peak_hz(wave, 16000) - 440.0) < 4.0, path
        assert 0.45 < np.abs(wave[1000:7000]).max() < 0.56, path


def test_integer_pcm_is_scaled_to_unit_range(tmp_path):
    ints = np.array([0, 16384, -32768, 32767, 1000], dtype=np.int16)
    sf.write(tmp_path / "ints.wav", ints, 16000, subtype="PCM_16")
    wave = AudioLoader().fit_transform([tmp_path / "ints.wav"])
    np.testing.assert_allclose(wave[0], ints / 32768.0)


def test_real_fsdd_files_match_soundfile():
    paths = load_fsdd_sample().filenames[:5]
    waves = AudioLoader(sr=8000, duration=1.0).fit_transform(paths)
    for path, wave in zip(paths, waves):
        ref, sr = sf.read(path, dtype="float32")
        assert sr == 8000
        n = min(len(ref), 8000)
        np.testing.assert_array_equal(wave[:n], ref[:n])
        assert not wave[n:].any()


def test_channel_policies(stereo):
    path, left, right = stereo
    for channels, expected in [
        ("first", left),
        (0, left),
        (1, right),
        (-1, right),
        ("mean", (left + right) / 2),
    ]:
        wave = AudioLoader(channels=channels).fit_transform([path])[0]
        np.testing.assert_allclose(wave, expected, atol=1e-7, err_msg=str(channels))
    with pytest.raises(ValueError, match=r"stereo.wav: channels=2 is out of range .*2 channel\(s\)"):
        AudioLoader(channels=2).fit_transform([path])


def test_second_column_picks_the_channel_per_row(stereo):
    path, left, right = stereo
    X = np.array([[path, 1], [path, 0]], dtype=object)
    waves = AudioLoader(channels="mean").fit(X).transform(X)
    np.testing.assert_allclose(waves, np.stack([right, left]), atol=1e-7)
    with pytest.raises(ValueError, match=r"row 0 \(.*stereo.wav\) has 'left'. Use an int"):
        AudioLoader().fit([[path, "left"]])
    with pytest.raises(ValueError, match="stereo.wav: channels=5 is out of range"):
        AudioLoader().fit([[path, 5]]).transform([[path, 5]])


def test_duration_pads_and_crops_at_start_or_centre(tmp_path):
    ramp = np.arange(1, 11, dtype=np.float32) / 10
    sf.write(tmp_path / "ramp.wav", ramp, 10, subtype="FLOAT")
    path = [tmp_path / "ramp.wav"]
    cases = [
        ("start", 0.4, ramp[:4]),
        ("center", 0.4, ramp[3:7]),
        ("start", 1.3, np.r_[ramp, 0, 0, 0]),
        ("center", 1.3, np.r_[0, ramp, 0, 0]),
    ]
    for align, duration, expected in cases:
        wave = AudioLoader(sr=10, duration=duration, align=align).fit_transform(path)
        np.testing.assert_allclose(wave[0], expected, err_msg=f"{align} {duration}")


def test_remove_dc_subtracts_the_files_mean_and_keeps_the_padding_silent(tmp_path):
    tone = _tone(400, 8000, 0.25, amp=0.3)
    sf.write(tmp_path / "offset.wav", tone + 0.2, 8000, subtype="FLOAT")
    path = [tmp_path / "offset.wav"]
    kept = AudioLoader(sr=8000, duration=0.5).fit_transform(path)[0]
    removed = AudioLoader(sr=8000, duration=0.5, remove_dc=True).fit_transform(path)[0]
    # 100 whole periods: the tone's own mean is zero, the offset is all of it
    np.testing.assert_allclose(kept[:2000], tone + 0.2, atol=1e-6)
    np.testing.assert_allclose(removed[:2000], tone, atol=1e-6)
    assert not removed[2000:].any()
    # the mean of the whole file, also when the clip keeps only part of it
    cropped = AudioLoader(sr=8000, duration=0.01, remove_dc=True).fit_transform(path)[0]
    np.testing.assert_allclose(cropped, tone[:80], atol=1e-6)


def test_unequal_lengths_need_duration(tmp_path):
    sf.write(tmp_path / "short.wav", _tone(200.0, 8000, 0.25), 8000)
    sf.write(tmp_path / "long.wav", _tone(200.0, 8000, 0.5), 8000)
    paths = [tmp_path / "short.wav", tmp_path / "long.wav"]
    with pytest.raises(ValueError, match="short.wav: 2000 samples and .*long.wav: 4000 samples.*set duration"):
        AudioLoader(sr=8000).fit_transform(paths)
    assert AudioLoader(sr=8000, duration=0.5).fit_transform(paths).shape == (2, 4000)
    same = AudioLoader(sr=8000).fit_transform([paths[1], paths[1]])
    assert same.shape == (2, 4000)


@pytest.mark.parametrize(
    "name, error, message",
    [
        ("missing.wav", FileNotFoundError, "missing.wav: no such audio file"),
        ("empty.wav", ValueError, "empty.wav: an empty file"),
        ("truncated.wav", ValueError, "truncated.wav: truncated file"),
        ("truncated.aiff", ValueError, "truncated.aiff: truncated file"),
        ("truncated.flac", ValueError, "truncated.flac: not a readable audio file"),
        ("notes.wav", ValueError, "notes.wav: not a readable audio file"),
        ("nan.wav", ValueError, r"nan.wav contains NaN or infinite samples \(first at sample 100\)"),
        ("silent.wav", ValueError, "silent.wav: zero-length clip"),
    ],
)
def test_bad_file_errors_name_the_file(bad_files, name, error, message):
    paths = [bad_files / "good.wav", bad_files / name]
    with pytest.raises(error, match=message):
        AudioLoader(sr=8000).fit(paths).transform(paths)


def test_skip_reports_skipped_files_and_kept_rows_in_the_warning(bad_files):
    names = ["good.wav", "missing.wav", "truncated.wav", "good.wav", "nan.wav"]
    paths = [str(bad_files / n) for n in names]
    loader = AudioLoader(sr=8000, duration=0.5, on_error="skip").fit(paths)
    state = dict(loader.__dict__)
    with pytest.warns(SkippedFilesWarning, match="Skipped 3 of 5 files: .*missing.wav") as record:
        waves = loader.transform(paths)
    # transform sets no attribute, even when it skips files
    assert loader.__dict__ == state
    warning = record[0].message
    assert waves.shape == (2, 4000)
    assert warning.kept.tolist() == [0, 3]
    assert [(i, Path(p).name) for i, p, _ in warning.skipped] == [
        (1, "missing.wav"), (2, "truncated.wav"), (4, "nan.wav")
    ]
    assert "truncated file" in warning.skipped[1][2]
    good = AudioLoader(sr=8000, duration=0.5).fit_transform(paths[:1])
    np.testing.assert_array_equal(waves, np.vstack([good, good]))
    y = np.array(["a", "b", "c", "d", "e"])
    assert y[warning.kept].tolist() == ["a", "d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loader.transform(paths[:1])


def test_one_path_string_or_a_folder_is_a_clear_error(formats, tmp_path):
    with pytest.raises(ValueError, match=r"single path .*tone.wav.*pass \[path\]"):
        AudioLoader().fit(formats[0])
    loader = AudioLoader().fit(formats)
    with pytest.raises(ValueError, match=r"single path"):
        loader.transform(Path(formats[0]))
    with pytest.raises(IsADirectoryError, match="is a folder, not an audio file"):
        loader.transform([str(tmp_path)])


def test_verbose_prints_joblib_progress(formats, capfd):
    AudioLoader(duration=0.1, verbose=10, n_jobs=1).fit_transform(formats)
    assert "Done" in capfd.readouterr().err


def test_x_must_be_one_column_of_paths(formats):
    with pytest.raises(ValueError, match="row 1 is 3 of type int"):
        AudioLoader().fit([formats[0], 3])
    with pytest.raises(ValueError, match="one column of file paths, or paths and channel indices; got 3 columns"):
        AudioLoader().fit(np.array([formats[:3], formats[1:]]))
    with pytest.raises(NotFittedError):
        AudioLoader().transform(formats)


def test_parallel_decoding_matches_serial(formats):
    serial = AudioLoader(duration=0.5, n_jobs=1).fit_transform(formats * 3)
    parallel = AudioLoader(duration=0.5, n_jobs=2).fit_transform(formats * 3)
    np.testing.assert_array_equal(serial, parallel)


def test_estimator_properties_on_real_files(formats, tmp_path):
    loader = AudioLoader(duration=0.5).fit(formats)
    assert loader.n_features_in_ == 1
    state = dict(loader.__dict__)
    out = loader.transform(formats)
    assert loader.__dict__ == state
    # idempotent fit, subset and order invariance
    np.testing.assert_array_equal(loader.fit(formats).transform(formats), out)
    np.testing.assert_array_equal(loader.transform(formats[1:3]), out[1:3])
    np.testing.assert_array_equal(loader.transform(formats[::-1]), out[::-1])
    # clone, pickle, joblib
    np.testing.assert_array_equal(clone(loader).fit_transform(formats), out)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(loader)).transform(formats), out)
    joblib.dump(loader, tmp_path / "loader.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "loader.joblib").transform(formats), out)
    # read-only input
    ro = np.asarray(formats, dtype=object)
    ro.flags.writeable = False
    np.testing.assert_array_equal(loader.transform(ro), out)
    names = loader.get_feature_names_out()
    assert len(names) == 8000 and names[0] == "t0" and names[-1] == "t7999"
    with pytest.raises(ValueError, match="set duration"):
        AudioLoader().fit(formats).get_feature_names_out()


def test_in_pipeline_and_column_transformer(formats):
    pd = pytest.importorskip("pandas")
    pipe = make_pipeline(AudioLoader(duration=0.5), SpectrogramTransformer())
    spec = pipe.fit_transform(formats)
    assert spec.shape == (4, 64 * 48)
    frame = pd.DataFrame({"path": formats, "other": range(4)})
    ct = ColumnTransformer([("audio", AudioLoader(duration=0.5), ["path"])])
    waves = ct.fit_transform(frame)
    assert waves.shape == (4, 8000)
    assert ct.named_transformers_["audio"].feature_names_in_.tolist() == ["path"]
    out = AudioLoader(duration=0.001).set_output(transform="pandas").fit_transform(frame[["path"]])
    assert list(out.columns) == [f"t{j}" for j in range(16)]
