"""The feature extractors of the experiment: raw waveforms -> embeddings."""

import os

from .._architectures import SMALL_CNN_FILTERS

ALL_EMBEDDERS = ("vggish", "inception_v3", "inception_resnet_v2", "birdnet",
                 "small_cnn")
# Output width of each embedder (the pooled channels of its last block).
EMBEDDING_WIDTH = {"vggish": 512, "inception_v3": 2048, "inception_resnet_v2": 1536,
                   "birdnet": 1024,
                   "small_cnn": SMALL_CNN_FILTERS[-1]}
# Inception inputs are resized to this side: the paper's 299 x 299 costs 6x
# more on a CPU for spectrograms that have far fewer than 299 frames.
INCEPTION_INPUT = (128, 128)


def availability(name):
    """Return None when ``name`` can run offline here, else why it cannot.

    Only local files are looked at: nothing is downloaded.
    """
    keras_models = os.path.join(os.path.expanduser("~"), ".keras", "models")
    if name == "vggish":
        from .._vggish import CHECKPOINT_NAME, CHECKPOINT_URL

        path = os.path.join(keras_models, CHECKPOINT_NAME)
        if os.path.exists(path) or os.path.exists(path + ".index"):
            return None
        return (f"AudioSet weights {path} not found (published at "
                f"{CHECKPOINT_URL}; put the file there to include VGGish)")
    if name in ("inception_v3", "inception_resnet_v2"):
        from .._architectures import INCEPTION

        _, fname, base_url, _, _ = INCEPTION[name]
        path = os.path.join(keras_models, fname)
        if os.path.exists(path):
            return None
        return (f"ImageNet weights {path} not found (published at "
                f"{base_url + fname}; put the file there to include it)")
    if name == "birdnet":
        from .._birdnet import default_model_path

        try:
            default_model_path()
        except (ImportError, FileNotFoundError) as exc:
            return str(exc)
        return None
    if name == "small_cnn":
        return None
    raise ValueError(f"unknown embedder {name!r}; choose among {ALL_EMBEDDERS}.")


def make_extractor(name, *, sr, n_samples, playback_rate, seed, epochs=20):
    """Unfitted extractor taking waveforms ``(n, n_samples)`` at ``sr``."""
    import numpy as np
    from sklearn.pipeline import Pipeline

    from .._embedder import CNNEmbedder
    from .._spectrogram import SpectrogramTransformer

    if name == "birdnet":
        return CNNEmbedder("birdnet", sr=sr, playback_rate=playback_rate,
                           batch_size=16)
    if name == "vggish":
        spectrogram = SpectrogramTransformer(kind="vggish", sr=sr,
                                             playback_rate=playback_rate)
        embedder = dict(architecture="vggish", fine_tune="last")
    elif name == "small_cnn":
        apparent = sr * playback_rate
        spectrogram = SpectrogramTransformer(
            kind="mel", sr=sr, n_fft=512 if apparent >= 16000 else 256,
            win_length=int(0.025 * apparent), hop_length=int(0.010 * apparent),
            n_mels=64, playback_rate=playback_rate)
        embedder = dict(architecture="small_cnn", fine_tune="all",
                        weights=None)
    else:
        spectrogram = SpectrogramTransformer(
            kind="power", sr=sr, n_fft=512, hop_length=160,
            playback_rate=playback_rate)
        embedder = dict(architecture=name, fine_tune="last",
                        input_size=INCEPTION_INPUT)
    shape = spectrogram.fit(np.zeros((1, n_samples), np.float32)).spectrogram_shape_
    return Pipeline([
        ("spectrogram", spectrogram),
        ("embedder", CNNEmbedder(spectrogram_shape=shape, epochs=epochs,
                                 random_state=seed, **embedder)),
    ])
