"""The ``rbfm`` command line: ``rbfm experiment``, ``rbfm demo``, ``rbfm clips``,
``rbfm detect`` and ``rbfm evaluate``.

Each sub-command lives in its own module, imported only when it runs, so that
``rbfm --help`` answers without importing TensorFlow. The work is done by the
library (:mod:`sklearn_rbfm.detection`, :mod:`sklearn_rbfm.persistence`...);
``detect``, ``merge_events``, ``save_model`` and ``load_model`` are
re-exported here for code written against earlier versions.
"""

import argparse
import importlib
import os
import sys

from .._version import __version__
from ..detection import detect, merge_events
from ..persistence import ModelVersionWarning, load_model, save_model
from ._common import CommandError

__all__ = [
    "CommandError",
    "ModelVersionWarning",
    "build_parser",
    "detect",
    "load_model",
    "main",
    "merge_events",
    "save_model",
]

# sub-command -> module defining ``add_arguments(parser)`` and ``run(args)``
_COMMANDS = {
    "experiment": (
        "._experiment",
        "Rerun the RBFM paper's experiment (base, masked and fused models, "
        "fusion search, baselines) on a labelled folder of audio clips.",
    ),
    "demo": (
        "._demo",
        "Run 'rbfm experiment' on the bundled sample of the Free Spoken Digit "
        "Dataset (offline).",
    ),
    "detect": (
        "._detect",
        "Slide a fitted model over long recordings (files, folders, globs; in "
        "parallel, resumable) and write the detected events (CSV or Raven Pro "
        "selection table).",
    ),
    "clips": (
        "._clips",
        "Cut training clips (WAV + labels.csv) from long recordings and their "
        "annotation tables (CSV filename,start,end or Raven selection tables).",
    ),
    "evaluate": (
        "._evaluate",
        "Score the detections of 'rbfm detect' against annotations: "
        "precision, recall, F1, false positives per hour (and the "
        "precision-recall curve from --scores).",
    ),
}


def build_parser():
    """Return the :class:`argparse.ArgumentParser` of ``rbfm``."""
    parser = argparse.ArgumentParser(
        prog="rbfm",
        description=(
            "Relevance-based Feature Masking and explainable audio "
            "classification (sklearn_rbfm)."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"sklearn_rbfm {__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_) in _COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_, description=help_)
        importlib.import_module(module, __name__).add_arguments(sub_parser)
    return parser


def main(argv=None):
    """Run ``rbfm`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name.

    Returns
    -------
    status : int
        0 on success, 2 for a usage error, 1 when the data or model given
        cannot be used (the message says why and what would fix it).

    Examples
    --------
    >>> from sklearn_rbfm.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    sklearn_rbfm 0.1.0
    """
    # TensorFlow's C++ start-up messages (CUDA plugins on CPU machines) would
    # drown the progress lines; a user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(_COMMANDS[args.command][0], __name__)
    try:
        module.run(args)
    except CommandError as exc:
        print(f"rbfm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
