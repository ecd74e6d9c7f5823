"""Relevance-based Feature Masking and explainable audio classification.

The public estimators are importable from the top level. They are loaded lazily
(PEP 562), so ``import sklearn_rbfm`` is cheap and never imports TensorFlow nor
touches its global state.
"""

import importlib

from ._version import __version__

# public name -> private module that defines it
_LAZY_ESTIMATORS = {
    "AudioLoader": "._loader",
    "SpectrogramTransformer": "._spectrogram",
    "CNNEmbedder": "._embedder",
    "KerasMLPClassifier": "._mlp",
    "RelevanceMasker": "._masker",
    "VotingFusionSearch": "._fusion",
    "KerasCNNClassifier": "._cnn_classifier",
    "BirdNETEmbedder": "._birdnet",
    "RBFMClassifier": "._rbfm",
}

_SUBMODULES = (
    "baselines", "datasets", "detection", "exceptions", "explain",
    "model_selection", "persistence", "plotting", "utils",
)

__all__ = sorted(_LAZY_ESTIMATORS) + list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _LAZY_ESTIMATORS:
        module = importlib.import_module(_LAZY_ESTIMATORS[name], __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
