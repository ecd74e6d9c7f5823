"""Input-level explanations: relevance maps, RELAX, audible heatmaps, faithfulness curves."""

__all__ = []
