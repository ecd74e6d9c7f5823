"""CNNEmbedder benchmarks: transform overhead, peak memory, FSDD speaker-grouped CV.

Usage::

    python benchmarks/bench_embedder.py overhead
    python benchmarks/bench_embedder.py birdnet [--birdnet-clips 64] [--threads 1] [--batch-size 32]
    python benchmarks/bench_embedder.py memory
    python benchmarks/bench_embedder.py cv [--takes 5]

- ``overhead``: ``transform`` against the raw network on the same batches in
  the same run: the Keras model's ``predict`` for the small CNN, the TFLite
  interpreter for BirdNET. Best of 5 runs each, timed round-robin.
- ``birdnet``: ``BirdNETEmbedder.transform`` (resampling and windowing
  included) against one batched raw ``tf.lite.Interpreter`` call on the same,
  precomputed 48 kHz windows, same thread count: real FSDD clips at 2 kHz,
  2 s, replayed x8 (4,000 samples -> 12,000 at 48 kHz, padded to 144,000).
  Round-robin, best of 5, wall and CPU seconds, load average.
- ``memory``: peak RSS added by ``transform`` for 500 and 5,000 clips (one
  fresh process each), small CNN, batch_size=32.
- ``cv``: real FSDD recordings (``../shared/data/fsdd`` beside the repository or ``--root``),
  leave-one-speaker-out CV (GroupKFold, 6 speakers) of a logistic regression
  on the embeddings of each architecture; baseline: the same logistic
  regression on the flat mel spectrogram.
"""

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np

FSDD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                    "shared", "data", "fsdd")


def load_fsdd(root, takes):
    """FSDD waveforms (1 s at 8 kHz), digits, speakers; ``takes`` takes per digit and speaker."""
    from sklearn_rbfm import AudioLoader
    from sklearn_rbfm.datasets import load_audio_folder

    data = load_audio_folder(root)
    take = np.array([int(os.path.basename(f).rsplit("_", 1)[1].split(".")[0])
                     for f in data.filenames])
    keep = take < takes
    waves = AudioLoader(sr=8000, duration=1.0, n_jobs=2).fit_transform(data.filenames[keep])
    return waves, data.target[keep], data.groups[keep]


def mel(waves):
    from sklearn_rbfm import SpectrogramTransformer

    spec = SpectrogramTransformer(kind="mel", sr=8000, n_fft=256, hop_length=250, n_mels=64)
    S = spec.fit_transform(waves)
    return S.reshape(len(S), *spec.spectrogram_shape_)


def vggish_logmel(waves):
    from sklearn_rbfm import SpectrogramTransformer

    spec = SpectrogramTransformer(kind="vggish", sr=8000)
    S = spec.fit_transform(waves)
    return S.reshape(len(S), *spec.spectrogram_shape_)


def best_of_cpu(first, second, repeats=5):
    """Best wall and CPU seconds of two functions timed round-robin."""
    wall, cpu = ([], []), ([], [])
    for _ in range(repeats):
        for k, fn in enumerate((first, second)):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[k].append(time.perf_counter() - start)
            cpu[k].append(time.process_time() - start_cpu)
    return [min(w) for w in wall], [min(c) for c in cpu]


def birdnet(args):
    from sklearn_rbfm import AudioLoader, BirdNETEmbedder
    from sklearn_rbfm import _birdnet
    from sklearn_rbfm._keras import import_tensorflow
    from sklearn_rbfm.datasets import load_audio_folder

    tf = import_tensorflow()
    data = load_audio_folder(args.root)
    n = args.birdnet_clips
    files = data.filenames[:: max(1, len(data.filenames) // n)][:n]
    clips = AudioLoader(sr=2000, duration=2.0).fit_transform(files)
    emb = BirdNETEmbedder(sr=2000, playback_rate=8.0, batch_size=args.batch_size,
                          n_jobs=args.threads).fit(clips)
    windows, _ = _birdnet.to_windows(clips, 2000 * 8.0)
    interpreter = tf.lite.Interpreter(model_path=_birdnet.default_model_path(),
                                      num_threads=args.threads)
    index = interpreter.get_input_details()[0]["index"]
    embedding = interpreter.get_output_details()[0]["index"] - 1
    interpreter.resize_tensor_input(index, [len(windows), _birdnet.WINDOW])
    interpreter.allocate_tensors()

    def raw():
        interpreter.set_tensor(index, windows)
        interpreter.invoke()
        return interpreter.get_tensor(embedding)

    ours = emb.transform(clips)
    reference = raw()
    assert np.allclose(ours, reference, rtol=1e-4, atol=1e-5), "embeddings differ"
    (t_ours, t_raw), (c_ours, c_raw) = best_of_cpu(lambda: emb.transform(clips), raw)
    load = os.getloadavg()
    print(f"birdnet, {n} FSDD clips at 2 kHz, 2 s, playback x8, {args.threads} thread(s), "
          f"batch_size={args.batch_size}, "
          f"load average {load[0]:.1f}: BirdNETEmbedder.transform {t_ours:.2f} s wall "
          f"({c_ours:.2f} CPU s), raw interpreter, one batched call {t_raw:.2f} s wall "
          f"({c_raw:.2f} CPU s); throughput ratio wall {t_raw / t_ours:.3f}, "
          f"CPU {c_raw / c_ours:.3f}")


def best_of(first, second, repeats=5):
    """Best times of two functions timed round-robin, so that both share the load alike."""
    times = ([], [])
    for _ in range(repeats):
        for fn, record in zip((first, second), times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def overhead(args):
    from sklearn_rbfm import CNNEmbedder
    from sklearn_rbfm import _birdnet
    from sklearn_rbfm._keras import import_tensorflow

    tf = import_tensorflow()
    waves, _, _ = load_fsdd(args.root, takes=args.takes)
    S = mel(waves)
    emb = CNNEmbedder("small_cnn", batch_size=32, random_state=0).fit(S)
    emb.transform(S[:64])
    units = S[..., np.newaxis]
    emb.model_.predict(units[:64], batch_size=32, verbose=0)
    t_transform, t_predict = best_of(
        lambda: emb.transform(S),
        lambda: emb.model_.predict(units, batch_size=32, verbose=0),
    )
    print(f"small_cnn, {len(S)} clips of {S.shape[1:]}: transform {t_transform:.3f} s, "
          f"model.predict {t_predict:.3f} s, overhead {100 * (t_transform / t_predict - 1):+.1f}%")

    n = args.birdnet_clips
    clips = waves[:n]
    bird = CNNEmbedder("birdnet", sr=8000, batch_size=16).fit(clips)
    windows, _ = _birdnet.to_windows(clips, 8000)
    interpreter = tf.lite.Interpreter(model_path=_birdnet.default_model_path(),
                                      num_threads=os.cpu_count())
    index = interpreter.get_input_details()[0]["index"]
    embedding = interpreter.get_output_details()[0]["index"] - 1
    interpreter.resize_tensor_input(index, [16, _birdnet.WINDOW])
    interpreter.allocate_tensors()

    def raw():
        for start in range(0, len(windows), 16):
            interpreter.set_tensor(index, windows[start : start + 16])
            interpreter.invoke()
            interpreter.get_tensor(embedding)

    bird.transform(clips[:16])
    raw()
    t_bird, t_raw = best_of(lambda: bird.transform(clips), raw)
    t_windows, _ = best_of(lambda: _birdnet.to_windows(clips, 8000), lambda: None)
    print(f"birdnet, {n} clips of 1 s at 8 kHz: transform (incl. resampling to 48 kHz) "
          f"{t_bird:.2f} s, raw interpreter on the same 48 kHz windows {t_raw:.2f} s, "
          f"overhead {100 * (t_bird / t_raw - 1):+.1f}%; resampling and cutting the "
          f"windows alone {t_windows:.2f} s; overhead without it "
          f"{100 * ((t_bird - t_windows) / t_raw - 1):+.1f}%")


def memory_child(n_clips):
    from sklearn_rbfm import CNNEmbedder

    rng = np.random.default_rng(0)
    S = rng.normal(-40.0, 10.0, size=(n_clips, 64, 32)).astype(np.float32)
    emb = CNNEmbedder("small_cnn", batch_size=32, random_state=0).fit(S[:64])
    emb.transform(S[:64])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    out = emb.transform(S)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{n_clips} clips: input {S.nbytes / 2**20:.1f} MiB, output "
          f"{out.nbytes / 2**20:.1f} MiB, peak RSS {after / 1024:.0f} MiB, added by "
          f"transform {(after - before) / 1024:.1f} MiB, {seconds:.1f} s")


def memory(args):
    for n in (500, 5000):
        subprocess.run([sys.executable, __file__, "memory-child", str(n)], check=True)


def cv(args):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_rbfm import CNNEmbedder

    waves, y, groups = load_fsdd(args.root, takes=args.takes)
    print(f"FSDD: {len(y)} clips, {len(set(groups))} speakers, {args.takes} takes per digit "
          "and speaker, 1 s at 8 kHz; GroupKFold by speaker")
    folds = GroupKFold(n_splits=len(set(groups)))
    S = mel(waves)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))

    def report(name, X=None, model=None, seconds=0.0):
        start = time.perf_counter()
        model = logreg if model is None else model
        scores = cross_val_score(model, S if X is None else X, y, groups=groups, cv=folds,
                                 n_jobs=1)
        seconds += time.perf_counter() - start
        print(f"{name:58s} accuracy {scores.mean():.3f} +- {scores.std():.3f}  ({seconds:.0f} s)",
              flush=True)

    report("baseline: logistic regression on the flat mel spectrogram", S.reshape(len(S), -1))

    def fixed(name, embedder, X):
        start = time.perf_counter()
        E = embedder.fit(X).transform(X)
        report(name, E, seconds=time.perf_counter() - start)

    if "birdnet" in args.only:
        fixed("birdnet (V2.4 TFLite, pretrained)", CNNEmbedder("birdnet", sr=8000), waves)
    if "small_cnn" in args.only:
        fixed("small_cnn, random weights (no training)",
              CNNEmbedder("small_cnn", random_state=0), S)
        tuned = make_pipeline(
            CNNEmbedder("small_cnn", fine_tune="all", epochs=30, random_state=0),
            StandardScaler(), LogisticRegression(max_iter=3000),
        )
        report("small_cnn fine-tuned inside each fold (30 epochs max)", S, model=tuned)
    if "small_cnn_small_batches" in args.only:
        tuned = make_pipeline(
            CNNEmbedder("small_cnn", fine_tune="all", epochs=60, batch_size=8, pooling="max",
                        random_state=0),
            StandardScaler(), LogisticRegression(max_iter=3000),
        )
        report("small_cnn fine-tuned, batch 8, max pooling, 60 epochs max", S, model=tuned)
    if "vggish" in args.only:
        fixed("vggish, weights=None (AudioSet checkpoint unavailable)",
              CNNEmbedder("vggish", weights=None, random_state=0), vggish_logmel(waves))
    size = (args.inception_size,) * 2
    if "inception_v3" in args.only:
        fixed(f"inception_v3, weights=None, {size[0]}x{size[1]}",
              CNNEmbedder("inception_v3", weights=None, input_size=size, random_state=0), S)
    if "inception_resnet_v2" in args.only:
        fixed(f"inception_resnet_v2, weights=None, {size[0]}x{size[1]}",
              CNNEmbedder("inception_resnet_v2", weights=None, input_size=size,
                          random_state=0), S)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["overhead", "birdnet", "memory", "cv", "memory-child"])
    parser.add_argument("n", nargs="?", type=int)
    parser.add_argument("--root", default=FSDD)
    parser.add_argument("--takes", type=int, default=5)
    parser.add_argument("--birdnet-clips", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--inception-size", type=int, default=150)
    parser.add_argument("--only", nargs="*", default=[
        "birdnet", "small_cnn", "small_cnn_small_batches", "vggish", "inception_v3",
        "inception_resnet_v2"])
    args = parser.parse_args()
    if args.what == "memory-child":
        memory_child(args.n)
    else:
        {"overhead": overhead, "birdnet": birdnet, "memory": memory, "cv": cv}[args.what](args)


if __name__ == "__main__":
    main()
