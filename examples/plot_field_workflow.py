"""
=========================================================================
From annotated recordings to evaluated detections (the field workflow)
=========================================================================

Field recordings come as long files with annotation tables, not as folders
of labelled clips, and a detector is judged by its precision, recall and
false positives per hour on recordings it never saw. This example runs the
whole workflow on the bundled Free Spoken Digit sample as a stand-in: spoken
digits planted at known times in long noisy recordings play the calls.

1. clips from annotations (``rbfm clips``),
2. a detector trained on them and saved (``rbfm experiment --save-model`` or
   :func:`~sklearn_rbfm.persistence.save_model`),
3. detection over unseen recordings (``rbfm detect``, in parallel),
4. evaluation against their annotations (``rbfm evaluate``).
"""

# %%
# Long recordings with planted calls, and their annotation tables
# ----------------------------------------------------------------
# Two training recordings from five speakers, one test recording from the
# sixth ("jackson"), each with a CSV table ``filename,start,end``.
import os
import tempfile

import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rbfm import AudioLoader
from sklearn_rbfm.baselines import LogMelStatistics
from sklearn_rbfm.datasets import (clips_from_annotations, load_fsdd_sample,
                                   read_annotations)
from sklearn_rbfm.detection import (detect_recordings, evaluate_detections,
                                    precision_recall_over_thresholds,
                                    threshold_for)
from sklearn_rbfm.persistence import load_model, save_model
from sklearn_rbfm.plotting import DetectionPrecisionRecallDisplay

sr = 8000
data = load_fsdd_sample()
loader = AudioLoader(sr=sr)
rng = np.random.default_rng(0)
folder = tempfile.mkdtemp()


def plant(name, paths, seconds):
    """Noise with the clips of ``paths`` planted 3 s apart at least."""
    signal = rng.normal(0, 0.003, seconds * sr).astype(np.float32)
    slots = np.sort(rng.choice(np.arange(1, seconds // 3 - 1), len(paths),
                               replace=False))
    rows = []
    for slot, path in zip(slots, paths):
        clip = loader.fit_transform([path])[0]
        start = slot * 3.0 + rng.uniform(0, 1)
        i = int(start * sr)
        signal[i:i + len(clip)] += clip
        rows.append(f"{name},{start:.3f},{start + len(clip) / sr:.3f}\n")
    sf.write(os.path.join(folder, name), signal, sr)
    return rows


others = data.filenames[data.groups != "jackson"]
tables = {}
for split, recs in {"train": [("train1.wav", others[::12]), ("train2.wav", others[6::12])],
                    "test": [("test.wav", data.filenames[data.groups == "jackson"][::4])]}.items():
    rows = []
    for name, paths in recs:
        rows += plant(name, paths, 120)
    tables[split] = os.path.join(folder, f"{split}.csv")
    with open(tables[split], "w") as fh:
        fh.write("filename,start,end\n")
        fh.writelines(rows)
print(open(tables["test"]).read()[:120], "...")

# %%
# 1. Training clips from the annotations
# --------------------------------------
# One 1-s clip centred on each annotation, and as many negatives drawn at
# least 0.5 s away from any annotation. ``rbfm clips`` writes the same clips
# as WAV files with a labels.csv.
train = [os.path.join(folder, n) for n in ("train1.wav", "train2.wav")]
clips = clips_from_annotations(train, tables["train"], window=1.0,
                               negatives_per_recording=20, min_gap=0.5,
                               random_state=0)
print(clips.data.shape, dict(zip(*np.unique(clips.target, return_counts=True))))

# %%
# 2. A detector, saved as a model file
# ------------------------------------
# Log-mel band statistics and a logistic regression: a pipeline that takes
# raw 1-s waveforms at 8 kHz, as model files must.
detector = make_pipeline(LogMelStatistics(sr=sr), StandardScaler(),
                         LogisticRegression(max_iter=1000)).fit(clips.data, clips.target)
model_path = os.path.join(folder, "digits.joblib")
save_model(detector, model_path, sr=sr, window=1.0, positive_class="call")

# %%
# 3. Detection over the unseen recording
# --------------------------------------
# ``detect_recordings`` is the code of ``rbfm detect``: recordings in
# parallel through joblib (a Dask backend spreads them over a cluster), each
# result kept with every window's score.
model, header = load_model(model_path)
test = [os.path.join(folder, "test.wav")]
results = detect_recordings(model, test, sr=header["sr"], window=header["window"],
                            hop=0.25, positive_index=header["classes"].index("call"),
                            n_jobs=1)
detections = {r["path"]: r["events"] for r in results}
durations = {r["path"]: r["duration_s"] for r in results}
print(f"{len(results[0]['events'])} events in {durations[test[0]]:.0f} s")

# %%
# 4. Evaluation against the annotations
# -------------------------------------
annotations = read_annotations(tables["test"])
report = evaluate_detections(detections, annotations, durations=durations)
overall = report["overall"]
print(f"precision {overall['precision']:.2f}, recall {overall['recall']:.2f}, "
      f"F1 {overall['f1']:.2f}, {overall['false_positives_per_hour']:.1f} "
      "false positives per hour")

# %%
# The precision-recall curve over thresholds, from the window scores, with
# the threshold that keeps precision at 0.95 or more.
window_scores = {r["path"]: (np.asarray(r["window_starts_s"]),
                             np.minimum(np.asarray(r["window_starts_s"]) + 1.0,
                                        r["duration_s"]),
                             np.asarray(r["window_scores"])) for r in results}
curve = precision_recall_over_thresholds(window_scores, annotations,
                                         durations=durations)
t = threshold_for(curve, precision=0.95)
print(f"threshold for precision >= 0.95: {t}")
DetectionPrecisionRecallDisplay.from_curve(
    curve, marked={} if t is None else {"precision >= 0.95": t})
