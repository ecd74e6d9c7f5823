"""The data checks that run before an experiment's heavy work."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import StratifiedKFold

from sklearn_rbfm.cli._common import CommandError
from sklearn_rbfm.cli._data import check_dataset, load_dataset
from sklearn_rbfm.datasets import load_fsdd_sample
from sklearn_rbfm.datasets._checks import check_audio_files, check_nested_cv


@pytest.fixture(scope="module")
def fsdd():
    return load_fsdd_sample()


def _copy(fsdd, folder, n_per_class, digits=("0", "1"), speaker=True):
    """``n_per_class`` real FSDD clips of each digit, with a labels.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    names = fsdd.target_names[fsdd.target]
    lines = ["path,label" + (",speaker" if speaker else "")]
    for digit in digits:
        for i in np.flatnonzero(names == digit)[:n_per_class]:
            name = Path(fsdd.filenames[i]).name
            shutil.copy(fsdd.filenames[i], folder / name)
            lines.append(f"{name},{digit}" + (f",{fsdd.groups[i]}" if speaker else ""))
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder


def _truncate(path):
    raw = Path(path).read_bytes()
    Path(path).write_bytes(raw[: len(raw) // 2])


def test_check_audio_files_gives_durations_at_any_rate(fsdd, tmp_path):
    wave, rate = sf.read(fsdd.filenames[0], dtype="float32")
    sf.write(tmp_path / "resampled.flac", np.repeat(wave, 2), 2 * rate)
    paths = [fsdd.filenames[0], fsdd.filenames[1], str(tmp_path / "resampled.flac")]
    durations = check_audio_files(paths)
    expected = [sf.info(p).frames / sf.info(p).samplerate for p in paths[:2]]
    np.testing.assert_allclose(durations, expected + [expected[0]])


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate, r"1 of 3 files are not readable audio: .*b.wav: truncated file"),
        (lambda p: Path(p).write_bytes(b""), r"1 of 3 files are not readable audio: .*b.wav: an empty file"),
        (lambda p: Path(p).write_text("notes\n" * 50), r"b.wav: not a readable audio file"),
        (lambda p: sf.write(p, np.full(800, np.nan), 8000, subtype="FLOAT"), r"b.wav contains NaN or infinite samples"),
    ],
)
def test_check_audio_files_names_the_bad_file(fsdd, tmp_path, damage, message):
    paths = [tmp_path / n for n in ("a.wav", "b.wav", "c.wav")]
    for src, dst in zip(fsdd.filenames, paths):
        shutil.copy(src, dst)
    damage(paths[1])
    with pytest.raises(ValueError, match=message):
        check_audio_files(paths)


def test_check_audio_files_counts_the_missing(fsdd, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"2 of 3 audio files do not exist, e.g. .*gone1.wav, .*gone2.wav"):
        check_audio_files([fsdd.filenames[0], tmp_path / "gone1.wav", tmp_path / "gone2.wav"])


def _protocol_runs(y, n_folds, inner_folds):
    """Whether outer stratified folds, each with a stratified inner split,
    work on ``y`` without sklearn's warnings and keep both classes in every
    part (what the experiment needs)."""
    index = np.arange(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            for train, test in StratifiedKFold(n_folds).split(index, y):
                fit, dev = next(StratifiedKFold(inner_folds).split(train, y[train]))
                if any(len(set(y[part])) < 2 for part in (train[fit], train[dev], test)):
                    return False
        except (ValueError, UserWarning):
            return False
    return True


@pytest.mark.parametrize("n_folds", [2, 3, 4, 5, 10])
def test_nested_cv_rule_is_exact(n_folds):
    # the rule accepts exactly the class sizes the nested protocol can use
    for n in range(2, 14):
        y = np.array(["a"] * n + ["b"] * 20)
        try:
            check_nested_cv(y, n_folds=n_folds, inner_folds=4)
            accepted = True
        except ValueError as exc:
            assert f"class 'a' has {n} clips, too few for {n_folds} outer folds" in str(exc)
            accepted = False
        assert accepted == _protocol_runs(y, n_folds, 4), n


def test_nested_cv_with_groups():
    y = np.tile(["a", "b"], 30)
    speakers = np.repeat(np.arange(6), 10)
    check_nested_cv(y, speakers, n_folds=5, inner_folds=4)
    with pytest.raises(ValueError, match=r"the data holds 3 group\(s\), too few for 5 outer folds .* at least 5"):
        check_nested_cv(y, speakers % 3, n_folds=5, inner_folds=4)
    # class 'a' spoken by 3 of 6 speakers only
    y = np.where((speakers < 3) | (np.arange(60) % 2 == 1), y, "b")
    with pytest.raises(ValueError, match=r"class 'a' occurs in 3 group\(s\), too few for 5 outer folds.*at least 5 groups"):
        check_nested_cv(y, speakers, n_folds=5, inner_folds=4)


def test_experiment_refuses_five_clips_per_class_with_two_folds(fsdd, tmp_path):
    root = _copy(fsdd, tmp_path / "task", 5, speaker=False)
    data = load_dataset(str(root))
    with pytest.raises(CommandError, match=r"--cv 2: class '0' has 5 clips, too few for 2 outer folds and an inner split in 4: each class needs at least 8 .* Lower --cv or add data"):
        check_dataset(data, n_folds=2)
    durations = check_dataset(data, n_folds=5)
    expected = [sf.info(f).duration for f in data["filenames"]]
    np.testing.assert_allclose(durations, expected)
    # all five takes of a digit come from one speaker: grouped folds cannot work
    data = load_dataset(str(_copy(fsdd, tmp_path / "grouped", 5)))
    with pytest.raises(CommandError, match=r"--cv 5: the data holds 1 group\(s\), too few for 5 outer folds"):
        check_dataset(data, n_folds=5)


def test_experiment_refuses_a_truncated_clip(fsdd, tmp_path):
    root = _copy(fsdd, tmp_path / "task", 8)
    data = load_dataset(str(root))
    _truncate(data["filenames"][3])
    with pytest.raises(CommandError, match=rf"{Path(data['filenames'][3]).name}: truncated file"):
        check_dataset(data, n_folds=2)


def test_experiment_refuses_a_clip_listed_twice(fsdd, tmp_path):
    root = _copy(fsdd, tmp_path / "task", 8)
    labels = root / "labels.csv"
    first = labels.read_text().splitlines()[1]
    name, _, speaker = first.split(",")
    labels.write_text(labels.read_text() + f"{name},1,{speaker}\n")
    with pytest.raises(CommandError, match=rf"line 2 \({name}\) and line 18 \({name}\) are the same audio file \(labels '0' and '1'\)"):
        load_dataset(str(root))


def test_experiment_columns_read_like_the_labels(fsdd, tmp_path):
    root = _copy(fsdd, tmp_path / "task", 8)
    labels = root / "labels.csv"
    lines = labels.read_text().splitlines()
    roles = ["train", "dev", "test", "Test"] * 4
    text = "\n".join([lines[0] + ",role"] + [f"{line},{r}" for line, r in zip(lines[1:], roles)])
    labels.write_bytes(("\ufeff" + text + "\n").encode("utf-8"))
    data = load_dataset(str(root), dev_split="role", groups="speaker")
    assert data["roles"].tolist() == [{"dev": "devel"}.get(r.lower(), r.lower()) for r in roles]
    assert data["groups"].tolist() == [line.split(",")[2] for line in lines[1:]]
    labels.write_text(text.replace(",dev\n", ",\n", 1) + "\n")
    with pytest.raises(CommandError, match=r"labels.csv, line 3: empty 'role' cell"):
        load_dataset(str(root), dev_split="role")
