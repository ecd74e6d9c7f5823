"""Hand-made features of the baselines; they live in :mod:`sklearn_rbfm.baselines`."""

from ..baselines import band_statistics

__all__ = ["band_statistics"]
