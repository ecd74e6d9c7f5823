"""``rbfm clips``: training clips from long recordings and their annotation tables.

The work is :func:`sklearn_rbfm.datasets.clips_from_annotations`; this module
writes the clips as WAV files with a ``labels.csv`` (``path,label,recording,
start_s``) that ``rbfm experiment DIR --groups recording`` reads as it is.
Everything is written to a temporary folder beside ``--out`` and moved into
place at the end, so a failed run leaves nothing half-written.
"""

import csv
import os
import shutil
import tempfile

from ..datasets import clips_from_annotations
from ..detection import find_recordings
from ._common import CommandError


def add_arguments(parser):
    parser.add_argument("recordings", metavar="RECORDING_OR_DIR", nargs="+",
                        help="long recordings: files, folders or glob patterns")
    parser.add_argument("--annotations", required=True, nargs="+", metavar="FILE",
                        help="CSV of filename,start,end[,label] or Raven "
                        "selection tables (one per recording, or with a Begin "
                        "File column)")
    parser.add_argument("--window", type=float, default=2.0, metavar="S",
                        help="clip length in seconds (default: 2)")
    parser.add_argument("--negatives", type=int, default=10, metavar="N",
                        help="negative clips drawn from each recording (default: 10)")
    parser.add_argument("--min-gap", type=float, default=1.0, metavar="S",
                        help="seconds between a negative clip and any "
                        "annotation (default: 1)")
    parser.add_argument("--label-column", default=None, metavar="NAME",
                        help="column of the labels (default: label, class, "
                        "annotation... when present, else 'call')")
    parser.add_argument("--sr", type=float, default=None, metavar="HZ",
                        help="rate of the clips (default: the first recording's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the negatives' positions (default: 0)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="new folder for the clips and labels.csv")


def run(args):
    import soundfile as sf

    out = os.path.abspath(args.out)
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise CommandError(f"--out {args.out!r} exists and is not an empty "
                           "folder; choose a new folder.")
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise CommandError(f"--out {args.out!r}: folder {parent!r} does not "
                           "exist; create it first.")
    try:
        recordings = find_recordings(args.recordings)
        clips = clips_from_annotations(
            recordings, args.annotations, window=args.window,
            negatives_per_recording=args.negatives, min_gap=args.min_gap,
            label_column=args.label_column, sr=args.sr, random_state=args.seed)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    tmp = tempfile.mkdtemp(dir=parent, prefix=".tmp-clips-")
    try:
        os.mkdir(os.path.join(tmp, "clips"))
        rows = []
        for i, (wave, label, recording, start) in enumerate(zip(
                clips.data, clips.target, clips.recording, clips.start_s)):
            stem = os.path.splitext(os.path.basename(recording))[0]
            name = os.path.join("clips", f"{i:06d}_{stem}_{start:.3f}.wav")
            sf.write(os.path.join(tmp, name), wave, int(round(clips.sr)),
                     subtype="FLOAT")
            rows.append([name.replace(os.sep, "/"), label, recording, f"{start:.3f}"])
        with open(os.path.join(tmp, "labels.csv"), "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "label", "recording", "start_s"])
            writer.writerows(rows)
        if os.path.isdir(out):
            os.rmdir(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    labels = sorted(set(clips.target))
    counts = ", ".join(f"{(clips.target == k).sum()} {k}" for k in labels)
    print(f"{len(rows)} clips of {args.window:g} s from {len(recordings)} "
          f"recordings ({counts}) in {args.out}; labels: "
          f"{os.path.join(args.out, 'labels.csv')}")
