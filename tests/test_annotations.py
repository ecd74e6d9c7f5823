"""Annotation tables (CSV, Raven) and training clips cut from long recordings."""

import csv
import os

import numpy as np
import pytest
import soundfile as sf

from sklearn_rbfm.cli import main
from sklearn_rbfm.datasets import (clips_from_annotations, load_audio_folder,
                                   load_fsdd_sample, read_annotations)

SR = 8000
CALLS = [(2.0, 2.4), (7.5, 8.1), (13.0, 13.3)]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Two 20 s recordings (one with digits planted at CALLS) and a quiet one."""
    root = tmp_path_factory.mktemp("recs")
    data = load_fsdd_sample()
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 0.003, 20 * SR).astype(np.float32)
    for (start, _), path in zip(CALLS, data.filenames[::40]):
        clip, _ = sf.read(path, dtype="float32")
        i = int(start * SR)
        signal[i:i + len(clip)] += clip
    sf.write(root / "site1.wav", signal, SR)
    sf.write(root / "quiet.wav", rng.normal(0, 0.003, 10 * SR).astype(np.float32), SR)
    return root, [str(root / "site1.wav"), str(root / "quiet.wav")]


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_csv_with_column_variants_and_labels(tmp_path):
    table = _write(tmp_path / "a.csv", "File,Begin,Stop,Class\n"
                   "site1.wav,2.0,2.4,digit\nsite1.wav,7.5,8.1,digit\n")
    rows = read_annotations(table)
    assert [(r["recording"], r["start_s"], r["end_s"], r["label"]) for r in rows] == [
        ("site1.wav", 2.0, 2.4, "digit"), ("site1.wav", 7.5, 8.1, "digit")]
    assert rows[1]["source"].endswith("a.csv, line 3")
    # MERIDIAN / ketos style, no label column: every annotation is a 'call'
    table = _write(tmp_path / "b.csv", "filename,start,end\nsite1.wav,1,2\n")
    assert read_annotations(table)[0]["label"] == "call"


def test_raven_tables_per_recording_and_with_begin_file(tmp_path, recordings):
    _, paths = recordings
    header = ("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\t"
              "Low Freq (Hz)\tHigh Freq (Hz)\tAnnotation\n")
    # Raven lists each selection once per view: counted once
    per_recording = _write(tmp_path / "site1.Table.1.selections.txt", header
                           + "1\tWaveform 1\t1\t2.0\t2.4\t0\t4000\tdigit\n"
                           + "1\tSpectrogram 1\t1\t2.0\t2.4\t0\t4000\tdigit\n"
                           + "2\tSpectrogram 1\t1\t7.5\t8.1\t0\t4000\tdigit\n")
    rows = read_annotations(per_recording, recordings=paths)
    assert [(r["recording"], r["start_s"], r["label"]) for r in rows] == [
        ("site1.wav", 2.0, "digit"), ("site1.wav", 7.5, "digit")]
    # several files: times relative to the file set; File Offset is per file
    multi = _write(tmp_path / "all.selections.txt",
                   "Selection\tBegin Time (s)\tEnd Time (s)\tBegin File\tFile Offset (s)\n"
                   "1\t2.0\t2.4\tsite1.wav\t2.0\n1\t2.0\t2.4\tsite1.wav\t2.0\n"
                   "2\t33.0\t33.5\tquiet.wav\t3.0\n")
    rows = read_annotations(multi)
    assert [(r["recording"], r["start_s"], r["end_s"]) for r in rows] == [
        ("site1.wav", 2.0, 2.4), ("quiet.wav", 3.0, 3.5)]
    with pytest.raises(ValueError, match="belongs to one recording"):
        read_annotations(_write(tmp_path / "other.selections.txt",
                                header + "1\tSpectrogram 1\t1\t2\t3\t0\t1\tx\n"),
                         recordings=paths)


@pytest.mark.parametrize("text, message", [
    ("filename,start,end\nsite1.wav,3.0,3.0\n", r"bad.csv, line 2: end \(3 s\) is not after start"),
    ("filename,start,end\nsite1.wav,1,2\nsite1.wav,abc,2\n", r"bad.csv, line 3: column 'start' holds 'abc'"),
    ("name,when\nsite1.wav,3\n", r"bad.csv: neither a CSV of filename,start,end nor a Raven"),
    ("filename,start,end\nnowhere.wav,1,2\n", r"bad.csv, line 2: unknown file 'nowhere.wav'"),
    ("filename,start,end\nsite1.wav,19.5,21\n", r"bad.csv, line 2: annotation 19.5-21 s ends after "
     r"its recording .*site1.wav' \(20.000 s\)"),
])
def test_bad_tables_name_the_file_and_line(tmp_path, recordings, text, message):
    _, paths = recordings
    table = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=message):
        clips_from_annotations(paths, table, window=1.0, negatives_per_recording=1)


def test_clips_are_centred_and_negatives_keep_their_distance(tmp_path, recordings):
    _, paths = recordings
    table = _write(tmp_path / "a.csv", "filename,start,end\n"
                   + "".join(f"site1.wav,{s},{e}\n" for s, e in CALLS))
    clips = clips_from_annotations(paths, table, window=1.0,
                                   negatives_per_recording=5, min_gap=0.5,
                                   random_state=0)
    assert clips.data.shape == (3 + 10, SR) and clips.sr == SR
    positive = clips.target == "call"
    np.testing.assert_allclose(clips.start_s[positive],
                               [(s + e) / 2 - 0.5 for s, e in CALLS])
    whole, _ = sf.read(paths[0], dtype="float32")
    i = int(round(clips.start_s[0] * SR))
    np.testing.assert_allclose(clips.data[0], whole[i:i + SR], atol=1e-7)
    negatives = clips.start_s[~positive & (clips.recording == paths[0])]
    assert len(negatives) == 5
    for start in negatives:
        for s, e in CALLS:
            assert start + 1.0 <= s - 0.5 + 1e-9 or start >= e + 0.5 - 1e-9
    # the quiet recording has no annotation: negatives only, anywhere in it
    quiet = clips.recording == paths[1]
    assert quiet.sum() == 5 and set(clips.target[quiet]) == {"noise"}
    again = clips_from_annotations(paths, table, window=1.0, negatives_per_recording=5,
                                   min_gap=0.5, random_state=0)
    np.testing.assert_array_equal(again.start_s, clips.start_s)
    other = clips_from_annotations(paths, table, window=1.0, negatives_per_recording=5,
                                   min_gap=0.5, random_state=1)
    assert not np.array_equal(other.start_s, clips.start_s)


def test_rbfm_clips_writes_wavs_and_labels_atomically(tmp_path, recordings, capsys):
    root, _ = recordings
    table = _write(tmp_path / "a.csv", "filename,start,end,label\n"
                   + "".join(f"site1.wav,{s},{e},digit\n" for s, e in CALLS))
    out = tmp_path / "clips"
    assert main(["clips", str(root), "--annotations", table, "--window", "1",
                 "--negatives", "2", "--out", str(out)]) == 0
    assert "7 clips of 1 s from 2 recordings (3 digit, 4 noise)" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "labels.csv")))
    assert list(rows[0]) == ["path", "label", "recording", "start_s"]
    assert [r["label"] for r in rows].count("digit") == 3
    wave, rate = sf.read(out / rows[0]["path"])
    assert rate == SR and wave.shape == (SR,)
    data = load_audio_folder(out)
    assert len(data.filenames) == 7 and sorted(data.target_names) == ["digit", "noise"]
    # an existing folder is not overwritten; a bad table leaves nothing behind
    assert main(["clips", str(root), "--annotations", table, "--out", str(out)]) == 1
    bad = _write(tmp_path / "bad.csv", "filename,start,end\nsite1.wav,5,4\n")
    assert main(["clips", str(root), "--annotations", bad, "--out",
                 str(tmp_path / "new")]) == 1
    assert "bad.csv, line 2: end (4 s) is not after start" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "bad.csv", "clips"]
