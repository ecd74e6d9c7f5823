"""Utilities: estimator discovery and shared validation helpers."""

from .discovery import all_estimators

__all__ = ["all_estimators"]
