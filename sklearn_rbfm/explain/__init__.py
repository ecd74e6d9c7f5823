"""Input-level explanations: relevance maps, RELAX, audible heatmaps, faithfulness curves.

Nothing here imports TensorFlow until a function that needs it is called.
"""

from ._audible import audible_heatmap
from ._engine import compute_relevance
from ._manipulation import manipulation_test
from ._perturbation import perturbation_curve
from ._relax import RELAX
from ._relevance_maps import relevance_maps

__all__ = [
    "RELAX",
    "audible_heatmap",
    "compute_relevance",
    "manipulation_test",
    "perturbation_curve",
    "relevance_maps",
]
