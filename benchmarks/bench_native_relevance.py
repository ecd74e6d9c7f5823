"""The native relevance engine against the iNNvestigate engine, and its floor.

Three measurements, each against a baseline measured in the same run:

1. 20,000 x 2048 deep Taylor on the paper's base model (2048-256-2 MLP):
   ``compute_relevance(engine="native")`` against
   ``compute_relevance(engine="innvestigate")`` (worker already started and
   analyzer cached, i.e. its best case), timed round-robin; CPU seconds of
   the caller and, for iNNvestigate, of its worker process.
2. Per-method cost on 5,000 x 2048 against one forward + backward pass of
   the same model (the gradient of the explained logit by one
   ``tf.GradientTape``, same batches): the physical floor of any
   backward-propagation explanation.
3. ``keras.applications.InceptionV3(weights=None)`` at 299 x 299 x 3 with a
   10-class head: heatmaps for 4 inputs per method, against the same
   forward + backward floor; each batch size in a fresh process, so that its
   peak resident memory shows that memory is bounded by ``batch_size``.

Run: ``nice -n 5 python benchmarks/bench_native_relevance.py``
"""

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_SAMPLES, N_FEATURES = 20_000, 2048
N_METHOD_SAMPLES = 5_000
REPEATS = 3

INCEPTION = r"""
import json, os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf
from sklearn_rbfm.explain import compute_relevance
batch_size = int(sys.argv[1])
tf.keras.utils.set_random_seed(0)
model = tf.keras.applications.InceptionV3(
    weights=None, input_shape=(299, 299, 3), classes=10)
X = np.random.RandomState(0).rand(4, 299, 299, 3).astype(np.float32)
logits = tf.keras.Model(model.input, model.layers[-1].input)
head = model.layers[-1]

def floor():
    for start in range(0, 4, batch_size):
        x = tf.constant(X[start:start + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = head.kernel.value()
            score = tf.reduce_max(tf.matmul(logits(x), z) + head.bias, axis=1)
        tape.gradient(score, x)

out = {}
floor()
for name, call in [("forward+backward", floor)] + [
    (m, lambda m=m: compute_relevance(model, X, m, batch_size=batch_size))
    for m in ("deep_taylor", "lrp.epsilon", "lrp.alpha_2_beta_1", "gradient")
]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    out[name] = (time.perf_counter() - wall, time.process_time() - cpu)
    if result is not None:
        assert result.shape == X.shape and np.isfinite(result).all()
        assert np.abs(result).reshape(4, -1).sum(axis=1).min() > 0
out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def _clock(func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _worker_cpu():
    from sklearn_rbfm._relevance import _submit

    times = _submit(os.times)
    return times.user + times.system


def engines(clf, X):
    from sklearn_rbfm.explain import compute_relevance

    native = lambda: compute_relevance(clf.model_, X, "deep_taylor", batch_size=256)  # noqa: E731
    reference = lambda: compute_relevance(  # noqa: E731
        clf.model_, X, "deep_taylor", batch_size=256, engine="innvestigate"
    )
    first_wall, _, ref = _clock(reference)
    native()
    rows = {"native": [], "innvestigate": []}
    for _ in range(REPEATS):
        wall, cpu, nat = _clock(native)
        rows["native"].append((wall, cpu))
        before = _worker_cpu()
        wall, cpu, ref = _clock(reference)
        rows["innvestigate"].append((wall, cpu + _worker_cpu() - before))
    scale = float(np.abs(ref).max())
    diff = float(np.abs(nat - ref).max()) / scale
    print(f"## deep Taylor, {N_SAMPLES} x {N_FEATURES}, MLP 2048-256-2, batch_size=256")
    print(f"innvestigate engine first call (worker start + build + analyze): {first_wall:.2f} s")
    for name, values in rows.items():
        wall = np.median([v[0] for v in values])
        cpu = np.median([v[1] for v in values])
        print(f"{name:<14} wall {wall:6.2f} s (runs {', '.join(f'{v[0]:.2f}' for v in values)})"
              f"   CPU {cpu:6.2f} s")
    speedup = np.median([v[0] for v in rows["innvestigate"]]) / np.median(
        [v[0] for v in rows["native"]]
    )
    print(f"speed-up native vs innvestigate engine: {speedup:.2f}x")
    print(f"max |native - innvestigate| / max |relevance|: {diff:.1e}")


def methods(clf, X):
    import tensorflow as tf

    from sklearn_rbfm.explain import compute_relevance

    model = clf.model_
    # the logits: the output layer's kernel on the last hidden layer
    hidden = tf.keras.Model(model.input, model.get_layer("output").input)
    kernel, bias = model.get_layer("output").kernel, model.get_layer("output").bias

    def floor():
        for start in range(0, len(X), 256):
            x = tf.constant(X[start:start + 256])
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.reduce_max(tf.matmul(hidden(x), kernel) + bias, axis=1)
            tape.gradient(score, x)

    calls = {"forward+backward (floor)": floor}
    for method, kwargs in [
        ("deep_taylor", {}), ("lrp.z", {}), ("lrp.epsilon", {"epsilon": 0.01}),
        ("lrp.alpha_2_beta_1", {}), ("gradient", {}), ("input_t_gradient", {}),
        ("integrated_gradients", {"steps": 16}),
        ("smoothgrad", {"augment_by_n": 16, "random_state": 0}),
    ]:
        calls[method] = (
            lambda method=method, kwargs=kwargs:
            compute_relevance(model, X, method, batch_size=256, **kwargs)
        )
    times = {name: [] for name in calls}
    for call in calls.values():
        call()
    for _ in range(REPEATS):
        for name, call in calls.items():
            wall, cpu, _ = _clock(call)
            times[name].append((wall, cpu))
    floor = times["forward+backward (floor)"]
    floor_wall, floor_cpu = (np.median([v[i] for v in floor]) for i in (0, 1))
    print(f"## per method, {len(X)} x {N_FEATURES}, MLP 2048-256-2, batch_size=256 "
          f"(median of {REPEATS}, round-robin)")
    for name, values in times.items():
        wall = np.median([v[0] for v in values])
        cpu = np.median([v[1] for v in values])
        print(f"{name:<26} wall {wall:6.3f} s  CPU {cpu:6.3f} s  "
              f"x floor: wall {wall / floor_wall:5.1f}  CPU {cpu / floor_cpu:5.1f}")


def inception():
    print("## InceptionV3(weights=None), 299 x 299 x 3, 10 classes, 4 inputs")
    for batch_size in (1, 4):
        out = subprocess.run(
            [sys.executable, "-c", INCEPTION, str(batch_size)],
            capture_output=True, text=True, check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"batch_size={batch_size}: peak RSS {result.pop('peak_rss_gib'):.2f} GiB")
        for name, (wall, cpu) in result.items():
            print(f"  {name:<22} wall {wall:6.2f} s  CPU {cpu:6.2f} s")


def main():
    from sklearn.datasets import make_classification

    from sklearn_rbfm import KerasMLPClassifier
    from sklearn_rbfm._relevance import shutdown_worker

    print(f"load average before: {os.getloadavg()}")
    X, y = make_classification(
        n_samples=N_SAMPLES, n_features=N_FEATURES, n_informative=64,
        weights=[0.8, 0.2], random_state=0,
    )
    X = X.astype(np.float32)
    clf = KerasMLPClassifier(epochs=1, batch_size=256, early_stopping=False,
                             random_state=0).fit(X, y)
    engines(clf, X)
    shutdown_worker()
    methods(clf, X[:N_METHOD_SAMPLES])
    inception()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of the MLP part: {rss:.2f} GiB; load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
