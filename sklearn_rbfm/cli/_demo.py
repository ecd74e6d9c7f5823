"""``rbfm demo``: ``rbfm experiment`` on the bundled Free Spoken Digit sample.

The task is spoken-digit *detection*: is the clip a "zero" (positive) or any
other digit? One class against nine makes it imbalanced, about 1:9, like
orca-call detection in hydrophone clips, and the sample's speakers are kept
apart (a speaker's clips are never both fitted on and tested on), so the
scores say how well a detector generalises to unheard voices.
"""

import csv
import os

from ._experiment import Experiment, add_options

POSITIVE = "0"


def add_arguments(parser):
    add_options(parser, out="demo_output", cv=3)
    # every core: the two inner folds and the refit run side by side
    parser.set_defaults(duration=1.0, sr=16000.0, positive=POSITIVE,
                        groups="speaker", n_features=64, cnn_epochs=10,
                        inner_cv=2, n_jobs=-1)


def write_sample_labels(out):
    """Write the bundled sample's ``path,label,speaker`` CSV; return (root, name)."""
    from ..datasets import load_fsdd_sample

    sample = load_fsdd_sample()
    root = os.path.commonpath([os.path.dirname(f) for f in sample.filenames])
    os.makedirs(out, exist_ok=True)
    labels = os.path.join(os.path.abspath(out), "fsdd_sample_labels.csv")
    names = [str(n) for n in sample.target_names]
    with open(labels, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "speaker"])
        for path, target, speaker in zip(sample.filenames, sample.target,
                                         sample.groups):
            writer.writerow([os.path.relpath(path, root), names[target], speaker])
    return root, labels


def run(args):
    experiment = Experiment(args)
    # before the label file is written into it
    experiment.check_outputs()
    root, labels = write_sample_labels(args.out)
    args.data_dir, args.labels = root, os.path.relpath(labels, root)
    args.dev_split = None
    args.argv = [root, "--labels", labels, "--positive", args.positive,
                 "--groups", args.groups, "--duration", f"{args.duration:g}",
                 "--cv", str(args.cv), "--inner-cv", str(args.inner_cv),
                 "--selection", args.selection, "--n-features", str(args.n_features),
                 "--cnn-epochs", str(args.cnn_epochs), "--out", args.out]
    if args.epochs is not None:
        args.argv[-2:-2] = ["--epochs", str(args.epochs)]
    if args.n_jobs is not None:
        args.argv[-2:-2] = ["--n-jobs", str(args.n_jobs)]
    print(f"rbfm demo: spoken-digit detection, {POSITIVE!r} against the other "
          f"digits, on the bundled FSDD sample ({root})")
    return experiment.run()
