"""Audio datasets as lists of files with labels and groups.

Each loader returns a :class:`~sklearn.utils.Bunch` with ``filenames``,
``target``, ``target_names``, ``groups`` and ``DESCR``; decode the files with
:class:`~sklearn_rbfm.AudioLoader`. ``groups`` ties together the samples of
one speaker or one recording, for :class:`~sklearn.model_selection.GroupKFold`.
"""

from ._annotations import clips_from_annotations, read_annotations
from ._base import (
    load_audio_folder,
    load_audiomnist,
    load_compare_orca,
    load_fsdd_sample,
)

__all__ = [
    "clips_from_annotations",
    "read_annotations",
    "load_audio_folder",
    "load_audiomnist",
    "load_compare_orca",
    "load_fsdd_sample",
]
