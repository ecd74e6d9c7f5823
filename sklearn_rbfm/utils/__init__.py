"""Utilities: estimator discovery and shared validation helpers."""

from ._layout import reshape_spectrograms
from .discovery import all_estimators

__all__ = ["all_estimators", "reshape_spectrograms"]
