"""``rbfm evaluate``: detections of ``rbfm detect`` against annotation tables.

The work is :func:`sklearn_rbfm.detection.evaluate_detections` (and
:func:`~sklearn_rbfm.detection.precision_recall_over_thresholds` with
``--scores``); this module prints the figures and writes them as JSON (and the
precision-recall plot).
"""

import json
import math
import os

from ..datasets import read_annotations
from ..detection import (
    evaluate_detections,
    precision_recall_over_thresholds,
    read_detections,
    read_window_scores,
    threshold_for,
)
from ._common import CommandError


def add_arguments(parser):
    parser.add_argument("detections", metavar="DETECTIONS",
                        help="CSV written by 'rbfm detect' (its .run.json "
                        "record beside it lists the recordings and durations)")
    parser.add_argument("annotations", metavar="ANNOTATIONS", nargs="+",
                        help="CSV of filename,start,end or Raven selection tables")
    parser.add_argument("--min-overlap", type=float, default=0.0, metavar="S",
                        help="seconds a detection and an annotation must share "
                        "(default: any overlap)")
    parser.add_argument("--scores", default=None, metavar="FILE",
                        help="window scores of 'rbfm detect --scores': adds the "
                        "precision-recall curve over thresholds")
    parser.add_argument("--target-precision", type=float, default=0.9, metavar="P",
                        help="report the threshold reaching this precision "
                        "(default: 0.9)")
    parser.add_argument("--target-recall", type=float, default=0.9, metavar="R",
                        help="report the threshold reaching this recall "
                        "(default: 0.9)")
    parser.add_argument("--out", default=None, metavar="FILE.json",
                        help="where to write the figures (default: "
                        "DETECTIONS with .evaluation.json)")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="precision-recall plot (with --scores; default: "
                        "beside the JSON)")


def _fmt(x):
    return "  n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:5.3f}"


def _line(name, s):
    return (f"{name:<40} {s['n_annotations']:>5} {s['n_detections']:>5} "
            f"{_fmt(s['precision'])} {_fmt(s['recall'])} {_fmt(s['f1'])} "
            f"{s['false_positives_per_hour']:>8.2f}")


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def run(args):
    out = args.out or os.path.splitext(args.detections)[0] + ".evaluation.json"
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise CommandError(f"--out {out!r}: its folder does not exist.")
    try:
        detections, durations = read_detections(args.detections)
        if durations is None:
            raise ValueError(
                f"{args.detections}: no run record {args.detections}.run.json "
                "beside it, so the recordings scored (also those without "
                "detections) and their durations are unknown; evaluate the "
                "output of 'rbfm detect' as it wrote it.")
        annotations = read_annotations(args.annotations, recordings=list(durations))
        report = evaluate_detections(detections, annotations, durations=durations,
                                     min_overlap=args.min_overlap)
        if args.scores:
            curve = precision_recall_over_thresholds(
                read_window_scores(args.scores), annotations, durations=durations,
                min_overlap=args.min_overlap)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(f"{'recording':<40} {'calls':>5} {'dets':>5} {'prec':>5} {'rec':>5} "
          f"{'F1':>5} {'FP/hour':>8}")
    for name, scores in report["recordings"].items():
        print(_line(os.path.basename(name), scores))
    print(_line("overall", report["overall"]))
    if report["annotations_outside"]:
        print(f"({report['annotations_outside']} annotations of other "
              "recordings not evaluated)")
    if args.scores:
        report["curve"] = curve
        report["threshold_for_precision"] = {
            "target": args.target_precision,
            "threshold": threshold_for(curve, precision=args.target_precision)}
        report["threshold_for_recall"] = {
            "target": args.target_recall,
            "threshold": threshold_for(curve, recall=args.target_recall)}
        for key in ("threshold_for_precision", "threshold_for_recall"):
            what = key.rsplit("_", 1)[1]
            t = report[key]["threshold"]
            print(f"threshold for {what} >= {report[key]['target']:g}: "
                  + ("none reaches it" if t is None else f"{t:.4f}"))
        plot = args.plot or os.path.splitext(out)[0] + ".pr.png"
        from matplotlib.figure import Figure

        from ..plotting import DetectionPrecisionRecallDisplay

        # a Figure without pyplot: no backend is chosen or changed
        marked = {f"{k.rsplit('_', 1)[1]} >= {report[k]['target']:g}": report[k]["threshold"]
                  for k in ("threshold_for_precision", "threshold_for_recall")
                  if report[k]["threshold"] is not None}
        display = DetectionPrecisionRecallDisplay.from_curve(
            curve, marked=marked, ax=Figure(figsize=(5, 4)).subplots())
        display.figure_.savefig(plot, dpi=100)
        report["plot"] = plot
        print(f"precision-recall plot: {plot}")
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(_jsonable(report), fh, indent=1)
    os.replace(tmp, out)
    print(f"evaluation: {out}")
