"""scikit-learn style ``Display`` objects (``from_estimator``, ``plot``)."""

import importlib

_LAZY = {
    "RelevanceDisplay": "._relevance",
    "FusionRankingDisplay": "._fusion",
    "SpectrogramExplanationDisplay": "._explanation",
    "PerturbationCurveDisplay": "._explanation",
    "DetectionPrecisionRecallDisplay": "._detection",
    "ManipulationTestDisplay": "._manipulation",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
