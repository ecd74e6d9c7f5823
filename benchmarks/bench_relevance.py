"""Cost of the relevance engine's process isolation.

Compares, on 20,000 x 2048 features and the paper's base model (one hidden
layer of 256 ReLU units):

- baseline: iNNvestigate's deep Taylor ``analyze`` called directly in a
  process that runs in graph mode (no worker, no data transfer, no
  softmax stripping by JSON); the analyzer build is timed separately;
- ``compute_relevance`` through the worker: first call (worker start, TF
  import, analyzer build), a call with a refitted model of the same
  architecture (weights reloaded into the cached analyzer), a repeated call;
- ``RelevanceMasker.fit`` with ``prefit=True`` (relevance of the whole
  training set + mean) and with training;
- ``RelevanceMasker(strategy="negative").transform`` latency on 1, 100 and
  10,000 samples (median of repeats), against the base model's ``predict``.

Run: ``python benchmarks/bench_relevance.py``
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

N_SAMPLES, N_FEATURES = 20_000, 2048

RAW = r"""
import json, sys, time, numpy as np, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
import innvestigate
folder = sys.argv[1]
X = np.load(os.path.join(folder, "X.npy"))
state = np.load(os.path.join(folder, "weights.npz"))
with open(os.path.join(folder, "model.json")) as f:
    model = tf.keras.models.model_from_json(f.read())
model.set_weights([state[f"arr_{i}"] for i in range(len(state.files))])
t0 = time.perf_counter()
analyzer = innvestigate.create_analyzer("deep_taylor", model, neuron_selection_mode="max_activation")
analyzer.analyze(X[:256])
t1 = time.perf_counter()
relevance = np.concatenate([analyzer.analyze(X[i:i + 256]) for i in range(0, len(X), 256)])
t2 = time.perf_counter()
np.save(os.path.join(folder, "raw.npy"), relevance)
print(json.dumps({"build": t1 - t0, "analyze": t2 - t1}))
"""


def _timed(func, repeat=1):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def main():
    from sklearn.datasets import make_classification

    from sklearn_rbfm import KerasMLPClassifier, RelevanceMasker
    from sklearn_rbfm._relevance import compute_relevance

    X, y = make_classification(
        n_samples=N_SAMPLES, n_features=N_FEATURES, n_informative=64,
        weights=[0.8, 0.2], random_state=0,
    )
    X = X.astype(np.float32)
    base = KerasMLPClassifier(epochs=3, batch_size=256, early_stopping=False, random_state=0)
    fit_s, clf = _timed(lambda: base.fit(X, y))
    refit = KerasMLPClassifier(epochs=1, batch_size=256, early_stopping=False, random_state=1).fit(X, y)
    results = {"base model fit (3 epochs)": fit_s}

    with tempfile.TemporaryDirectory() as folder:
        # The baseline analyses the linear-output model, as the engine does.
        config = json.loads(clf.model_.to_json())
        for entry in config["config"]["layers"]:
            if entry["config"]["name"] == "output":
                entry["config"]["activation"] = "linear"
        with open(os.path.join(folder, "model.json"), "w") as f:
            f.write(json.dumps(config))
        np.savez(os.path.join(folder, "weights.npz"), *clf.model_.get_weights())
        np.save(os.path.join(folder, "X.npy"), X)
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", RAW, folder], capture_output=True, text=True, check=True
        )
        raw_total = time.perf_counter() - start
        raw = json.loads(out.stdout.strip().splitlines()[-1])
        raw_relevance = np.load(os.path.join(folder, "raw.npy"))
    results["baseline: raw analyzer build (graph-mode process)"] = raw["build"]
    results["baseline: raw analyzer analyze 20k x 2048"] = raw["analyze"]
    results["baseline: whole raw process (TF import, load, build, analyze)"] = raw_total

    first_s, relevance = _timed(lambda: compute_relevance(clf.model_, X))
    results["engine: first call (worker start + build + analyze)"] = first_s
    results["engine: refitted model, same architecture"], _ = _timed(
        lambda: compute_relevance(refit.model_, X)
    )
    results["engine: repeated call, cached analyzer"], _ = _timed(
        lambda: compute_relevance(clf.model_, X), repeat=3
    )
    max_diff = float(np.abs(relevance - raw_relevance).max())

    results["RelevanceMasker.fit, prefit=True"], _ = _timed(
        lambda: RelevanceMasker(clf, prefit=True, n_features=512).fit(X, y)
    )
    results["RelevanceMasker.fit with training (3 epochs)"], _ = _timed(
        lambda: RelevanceMasker(base, n_features=512).fit(X, y)
    )

    negative = RelevanceMasker(clf, prefit=True, strategy="negative").fit(X[:1000], y[:1000])
    latency = {}
    for n, repeat in ((1, 20), (100, 10), (10_000, 3)):
        rows = X[:n]
        negative.transform(rows)
        latency[n] = (
            _timed(lambda: negative.transform(rows), repeat)[0],
            _timed(lambda: clf.predict_proba(rows), repeat)[0],
        )

    print(f"## relevance engine, {N_SAMPLES} x {N_FEATURES}, deep Taylor, MLP 2048-256-2")
    for name, seconds in results.items():
        print(f"{name:<66} {seconds:8.2f} s")
    print(f"max |engine - raw analyzer| relevance: {max_diff:.2e}")
    print("negative transform latency (median):")
    for n, (masker_s, predict_s) in latency.items():
        print(f"  {n:>6} samples: transform {masker_s * 1e3:9.1f} ms   "
              f"(baseline predict_proba {predict_s * 1e3:7.1f} ms)")


if __name__ == "__main__":
    main()
