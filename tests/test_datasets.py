import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import GroupKFold

from sklearn_rbfm import AudioLoader
from sklearn_rbfm.datasets import (
    load_audio_folder,
    load_audiomnist,
    load_compare_orca,
    load_fsdd_sample,
)


def _write(path, seconds=0.1, sr=8000, channels=1, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y = (0.1 * rng.standard_normal((int(sr * seconds), channels))).astype(np.float32)
    sf.write(path, y, sr, subtype="PCM_16")
    return y


def test_fsdd_sample_is_real_and_balanced():
    data = load_fsdd_sample()
    assert len(data.filenames) == 300
    assert data.target_names.tolist() == [str(d) for d in range(10)]
    assert np.bincount(data.target).tolist() == [30] * 10
    speakers = {"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}
    assert set(data.groups) == speakers
    for speaker in speakers:
        assert np.bincount(data.target[data.groups == speaker]).tolist() == [5] * 10
    # file names carry digit and speaker: the labels match them
    for name, digit, speaker in zip(data.filenames, data.target, data.groups):
        assert Path(name).name.split("_")[:2] == [str(digit), speaker]
    assert "CC BY-SA 4.0" in data.DESCR and "free-spoken-digit-dataset" in data.DESCR
    licence = Path(data.filenames[0]).parents[1] / "LICENSE"
    assert "Attribution-ShareAlike 4.0 International" in licence.read_text()
    waves = AudioLoader(sr=data.sr, duration=0.5).fit_transform(data.filenames[:3])
    assert waves.shape == (3, 4000) and np.abs(waves).max() > 0.01
    folds = GroupKFold(n_splits=3).split(data.filenames, data.target, data.groups)
    for train, test in folds:
        assert not set(data.groups[train]) & set(data.groups[test])


def test_audio_folder_from_csv(tmp_path):
    for name in ["a.wav", "sub/b.wav", "c.wav"]:
        _write(tmp_path / name)
    (tmp_path / "labels.csv").write_text(
        "path,label,speaker\na.wav,dog,x\nsub/b.wav,cat,y\nc.wav,dog,y\n"
    )
    data = load_audio_folder(tmp_path)
    assert data.target_names.tolist() == ["cat", "dog"]
    assert data.target.tolist() == [1, 0, 1]
    assert data.groups.tolist() == ["x", "y", "y"]
    assert data.filenames[1] == str(tmp_path.resolve() / "sub" / "b.wav")


def test_audio_folder_numeric_labels_sort_numerically(tmp_path):
    for i in range(3):
        _write(tmp_path / f"{i}.wav")
    (tmp_path / "meta.csv").write_text("path,label\n0.wav,10\n1.wav,2\n2.wav,1\n")
    data = load_audio_folder(tmp_path, labels="meta.csv")
    assert data.target_names.tolist() == ["1", "2", "10"]
    assert data.target.tolist() == [2, 1, 0]
    assert data.groups.tolist() == [0, 1, 2]


def test_audio_folder_from_subfolders(tmp_path):
    _write(tmp_path / "yes" / "1.wav")
    _write(tmp_path / "yes" / "2.FLAC")
    _write(tmp_path / "no" / "3.wav")
    (tmp_path / "no" / "notes.txt").write_text("not audio")
    data = load_audio_folder(tmp_path)
    assert data.target_names.tolist() == ["no", "yes"]
    assert [Path(f).name for f in data.filenames] == ["3.wav", "1.wav", "2.FLAC"]
    assert data.target.tolist() == [0, 1, 1]


def test_audio_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="no labels.csv and no class sub-folders"):
        load_audio_folder(tmp_path)
    (tmp_path / "labels.csv").write_text("file,class\na.wav,x\n")
    with pytest.raises(ValueError, match="labels.csv: needs the columns path, label; missing path, label"):
        load_audio_folder(tmp_path)
    (tmp_path / "labels.csv").write_text("path,label\ngone.wav,x\n")
    with pytest.raises(FileNotFoundError, match="gone.wav: listed in .*labels.csv but not found"):
        load_audio_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such dataset folder"):
        load_audio_folder(tmp_path / "nowhere")


@pytest.fixture
def orca(tmp_path):
    """The ComParE 2019 Orca Activity layout, in miniature."""
    root = tmp_path / "ComParE2019_OrcaActivity"
    subsets = {
        "train": [("orca", 1), ("noise", 2), ("orca", 1)],
        "devel": [("noise", 1), ("orca", 1)],
        "test": [("?", 1), ("?", 1)],
    }
    for subset, files in subsets.items():
        lines = ["file_name,label"]
        for i, (label, channels) in enumerate(files, start=1):
            name = f"{subset}_{i:04d}.wav"
            _write(root / "wav" / name, channels=channels, seed=i)
            lines.append(f"{name},{label}")
        (root / "lab").mkdir(exist_ok=True)
        (root / "lab" / f"{subset}.csv").write_text("\n".join(lines) + "\n")
    return root


def test_compare_orca_subsets(orca):
    train = load_compare_orca(orca)
    assert [Path(f).name for f in train.filenames] == [
        "train_0001.wav", "train_0002.wav", "train_0003.wav"
    ]
    assert train.target.tolist() == [1, 0, 1]
    assert train.target_names.tolist() == ["noise", "orca"]
    assert train.groups.tolist() == [0, 1, 2]
    assert "channels" not in train
    assert load_compare_orca(orca, "devel").target.tolist() == [0, 1]
    assert load_compare_orca(orca, "test").target.tolist() == [-1, -1]


def test_compare_orca_shared_label_file(orca):
    lines = ["file_name,label"]
    for subset in ("train", "devel", "test"):
        lines += (orca / "lab" / f"{subset}.csv").read_text().splitlines()[1:]
        (orca / "lab" / f"{subset}.csv").unlink()
    (orca / "lab" / "labels.csv").write_text("\n".join(lines) + "\n")
    assert load_compare_orca(orca, "devel").target.tolist() == [0, 1]
    assert len(load_compare_orca(orca, "train").filenames) == 3


def test_compare_orca_split_channels_groups_recordings(orca):
    data = load_compare_orca(orca, split_channels=True)
    assert [Path(f).name for f in data.filenames] == [
        "train_0001.wav", "train_0002.wav", "train_0002.wav", "train_0003.wav"
    ]
    assert data.channels.tolist() == [0, 0, 1, 0]
    assert data.groups.tolist() == [0, 1, 1, 2]
    assert data.target.tolist() == [1, 0, 0, 1]
    X = np.column_stack([data.filenames, data.channels])
    waves = AudioLoader(sr=8000).fit_transform(X)
    stereo, _ = sf.read(data.filenames[1], dtype="float32")
    np.testing.assert_array_equal(waves[1], stereo[:, 0])
    np.testing.assert_array_equal(waves[2], stereo[:, 1])
    for train, test in GroupKFold(n_splits=3).split(X, data.target, data.groups):
        assert not set(data.groups[train]) & set(data.groups[test])


def test_compare_orca_errors(orca):
    with pytest.raises(ValueError, match="subset must be 'train', 'devel' or 'test'"):
        load_compare_orca(orca, "valid")
    (orca / "lab" / "devel.csv").write_text("file_name,label\ndevel_0001.wav,whale\n")
    with pytest.raises(ValueError, match=r"devel.csv, line 2 \(devel_0001.wav\): label 'whale'"):
        load_compare_orca(orca, "devel")
    (orca / "wav" / "train_0002.wav").unlink()
    with pytest.raises(FileNotFoundError, match="train_0002.wav: listed in .*train.csv"):
        load_compare_orca(orca)
    with pytest.raises(FileNotFoundError, match="no label file"):
        load_compare_orca(orca.parent)


@pytest.fixture
def audiomnist(tmp_path):
    root = tmp_path / "AudioMNIST"
    for speaker in (1, 2, 12):
        for digit in (0, 7):
            for index in (0, 1):
                _write(root / "data" / f"{speaker:02d}" / f"{digit}_{speaker:02d}_{index}.wav")
    return root


def test_audiomnist_digit_needs_no_metadata(audiomnist):
    data = load_audiomnist(audiomnist)
    assert len(data.filenames) == 12
    assert data.target_names.tolist() == [str(d) for d in range(10)]
    assert sorted(set(data.target.tolist())) == [0, 7]
    assert sorted(set(data.groups.tolist())) == [1, 2, 12]
    for name, digit, speaker in zip(data.filenames, data.target, data.groups):
        assert Path(name).name.startswith(f"{digit}_{speaker:02d}_")


def test_audiomnist_sex_reads_metadata(audiomnist):
    with pytest.raises(FileNotFoundError, match="needs AudioMNIST's speaker metadata"):
        load_audiomnist(audiomnist, target="sex")
    meta = {
        "01": {"accent": "german", "age": "30", "gender": "male"},
        "02": {"accent": "german", "age": "25", "gender": "Female"},
        "12": {"accent": "spanish", "age": "28", "gender": "male"},
    }
    (audiomnist / "data" / "audioMNIST_meta.txt").write_text(json.dumps(meta))
    data = load_audiomnist(audiomnist, target="sex")
    assert data.target_names.tolist() == ["female", "male"]
    expected = {1: 1, 2: 0, 12: 1}
    assert data.target.tolist() == [expected[s] for s in data.groups]
    del meta["12"]
    (audiomnist / "data" / "audioMNIST_meta.txt").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"speaker 12 \(of .*0_12_0.wav\) has no 'gender'"):
        load_audiomnist(audiomnist, target="sex")


def test_audiomnist_errors(audiomnist, tmp_path):
    with pytest.raises(ValueError, match="target must be 'digit' or 'sex'"):
        load_audiomnist(audiomnist, target="age")
    with pytest.raises(FileNotFoundError, match="expected AudioMNIST's layout"):
        load_audiomnist(tmp_path / "empty")
    _write(audiomnist / "data" / "01" / "stray.wav")
    with pytest.raises(ValueError, match="stray.wav: not an AudioMNIST file name"):
        load_audiomnist(audiomnist)


def _csv_task(tmp_path, text, encoding="utf-8", names=("a.wav", "b.wav", "c.wav")):
    for i, name in enumerate(names):
        _write(tmp_path / name, seed=i)
    (tmp_path / "labels.csv").write_bytes(text.encode(encoding))
    return tmp_path


@pytest.mark.parametrize(
    "text, message",
    [
        ("path,label\na.wav,dog\nb.wav,\nc.wav,cat\n", r"labels.csv, line 3: empty 'label' cell"),
        ("path,label\na.wav,dog\nb.wav,  \nc.wav,cat\n", r"labels.csv, line 3: empty 'label' cell"),
        ("path,label\na.wav,dog\n,cat\n", r"labels.csv, line 3: empty 'path' cell"),
        ("path,label,speaker\na.wav,dog,x\nb.wav,cat,\n", r"labels.csv, line 3: empty 'speaker' cell"),
        ("path,label,speaker\na.wav,dog,x\nb.wav,cat\n", r"labels.csv, line 3: 2 cells for 3 columns; no speaker"),
    ],
)
def test_audio_folder_refuses_empty_cells(tmp_path, text, message):
    _csv_task(tmp_path, text)
    with pytest.raises(ValueError, match=message):
        load_audio_folder(tmp_path)


def test_audio_folder_strips_cells(tmp_path):
    _csv_task(tmp_path, "path , label\n a.wav ,dog\nb.wav, dog \nc.wav,cat\n")
    data = load_audio_folder(tmp_path)
    assert data.target_names.tolist() == ["cat", "dog"]
    assert data.target.tolist() == [1, 1, 0]


def test_audio_folder_reads_a_byte_order_mark(tmp_path):
    _csv_task(tmp_path, "path,label,speaker\na.wav,dög,x\nb.wav,cat,y\n", "utf-8-sig")
    assert (tmp_path / "labels.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    data = load_audio_folder(tmp_path)
    assert data.target_names.tolist() == ["cat", "dög"]
    assert data.groups.tolist() == ["x", "y"]


def test_audio_folder_refuses_latin1(tmp_path):
    _csv_task(tmp_path, "path,label\na.wav,dog\nb.wav,café\n", "latin-1")
    with pytest.raises(ValueError, match=r"labels.csv: not UTF-8 text \(byte 0xe9 on line 3\); save the label file as UTF-8"):
        load_audio_folder(tmp_path)


@pytest.mark.parametrize(
    "second, label, message",
    [
        ("a.wav", "cat", r"line 2 \(a.wav\) and line 4 \(a.wav\) are the same audio file \(labels 'dog' and 'cat'\)"),
        ("./sub/../a.wav", "cat", r"line 2 \(a.wav\) and line 4 \(./sub/../a.wav\) are the same audio file \(labels 'dog' and 'cat'\)"),
        ("link.wav", "dog", r"line 2 \(a.wav\) and line 4 \(link.wav\) are the same audio file \(label 'dog' both times\)"),
    ],
)
def test_audio_folder_refuses_a_file_listed_twice(tmp_path, second, label, message):
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.wav").symlink_to(_csv_task(tmp_path, "") / "a.wav")
    (tmp_path / "labels.csv").write_text(f"path,label\na.wav,dog\nb.wav,cat\n{second},{label}\n")
    with pytest.raises(ValueError, match=r"labels.csv: " + message + ".*remove one of the rows"):
        load_audio_folder(tmp_path)


def test_audio_folder_refuses_one_file_in_two_class_folders(tmp_path):
    _write(tmp_path / "dog" / "a.wav")
    _write(tmp_path / "dog" / "b.wav", seed=1)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.wav").symlink_to(tmp_path / "dog" / "a.wav")
    with pytest.raises(ValueError, match=r"cat/a.wav and dog/a.wav are the same audio file \(labels 'cat' and 'dog'\)"):
        load_audio_folder(tmp_path)


def test_audio_folder_named_label_file_must_exist(tmp_path):
    _write(tmp_path / "dog" / "a.wav")
    _write(tmp_path / "cat" / "b.wav")
    assert load_audio_folder(tmp_path).target_names.tolist() == ["cat", "dog"]
    with pytest.raises(FileNotFoundError, match=r"meta.csv: no such label file"):
        load_audio_folder(tmp_path, labels="meta.csv")


def test_compare_orca_label_file_traps(orca):
    lab = orca / "lab" / "devel.csv"
    lab.write_bytes("file_name,label\ndevel_0001.wav,noise\ndevel_0002.wav,orca\n".encode("utf-8-sig"))
    assert load_compare_orca(orca, "devel").target.tolist() == [0, 1]
    lab.write_text("file_name,label\ndevel_0001.wav,noise\ndevel_0001.wav,orca\n")
    with pytest.raises(ValueError, match=r"devel.csv: line 2 \(devel_0001.wav\) and line 3 \(devel_0001.wav\) are the same audio file \(labels 'noise' and 'orca'\)"):
        load_compare_orca(orca, "devel")
    lab.write_text("file_name,label\n,noise\n")
    with pytest.raises(ValueError, match=r"devel.csv, line 2: empty 'file_name' cell"):
        load_compare_orca(orca, "devel")
    lab.write_text("file_name,label\ndevel_0001.wav,\n")
    with pytest.raises(ValueError, match=r"devel.csv, line 2 \(devel_0001.wav\): label '' is none of"):
        load_compare_orca(orca, "devel")
    lab.write_bytes("file_name,label\ndevel_0001.wav,orca\n# r\xe9sum\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"devel.csv: not UTF-8 text \(byte 0xe9 on line 3\)"):
        load_compare_orca(orca, "devel")


def test_audiomnist_metadata_traps(audiomnist):
    meta_path = audiomnist / "data" / "audioMNIST_meta.txt"
    meta = {s: {"gender": g} for s, g in (("01", "male"), ("02", "female"), ("12", "male"))}
    meta_path.write_bytes(json.dumps(meta).encode("utf-8-sig"))
    assert sorted(set(load_audiomnist(audiomnist, target="sex").target.tolist())) == [0, 1]
    for content, message in [
        (b'{"01": {"gender": "male"},}', r"audioMNIST_meta.txt: not UTF-8 JSON \(Expecting property name"),
        ('{"01": {"origin": "K\xf6ln"}}'.encode("latin-1"), r"audioMNIST_meta.txt: not UTF-8 JSON \('utf-8' codec can't decode byte 0xf6"),
        (b'["01", "02"]', r"audioMNIST_meta.txt: holds a JSON list"),
        (b'{"01": "male", "02": "female", "12": "male"}', r"speaker 01 \(of .*0_01_0.wav\) has no 'gender'"),
    ]:
        meta_path.write_bytes(content)
        with pytest.raises(ValueError, match=message):
            load_audiomnist(audiomnist, target="sex")


def test_audiomnist_refuses_a_linked_copy(audiomnist):
    (audiomnist / "data" / "02" / "7_02_5.wav").symlink_to(audiomnist / "data" / "02" / "7_02_0.wav")
    with pytest.raises(ValueError, match=r"02/7_02_0.wav and 02/7_02_5.wav are the same audio file \(label '7' both times\)"):
        load_audiomnist(audiomnist)
