"""Precision-recall curve of a detector over thresholds, on annotated recordings."""

import numpy as np


class DetectionPrecisionRecallDisplay:
    """Event precision against event recall of a detector, over thresholds.

    Like :class:`sklearn.metrics.PrecisionRecallDisplay`, but for detections
    in long recordings: each point merges the windows scoring at least one
    threshold into events and scores them against the annotations (see
    :func:`sklearn_rbfm.detection.precision_recall_over_thresholds`).
    Create it with :meth:`from_curve` or :meth:`from_scores`.

    Parameters
    ----------
    precision, recall, thresholds : ndarray of shape (n_thresholds,)
        The curve, thresholds increasing.
    marked : dict, default=None
        Name -> threshold of points to mark (e.g. the threshold reaching a
        target precision).

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve.
    ax_ : matplotlib Axes
        Axes of the curve.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    sklearn_rbfm.detection.evaluate_detections : Scores at one threshold.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from sklearn_rbfm.plotting import DetectionPrecisionRecallDisplay
    >>> display = DetectionPrecisionRecallDisplay(
    ...     precision=np.array([0.5, 0.8, 1.0]), recall=np.array([1.0, 0.9, 0.4]),
    ...     thresholds=np.array([0.1, 0.5, 0.9]), marked={"t=0.5": 0.5})
    >>> display = display.plot(ax=Figure().subplots())
    >>> display.line_.get_xdata().tolist()
    [1.0, 0.9, 0.4]
    """

    def __init__(self, *, precision, recall, thresholds, marked=None):
        self.precision = precision
        self.recall = recall
        self.thresholds = thresholds
        self.marked = marked

    @classmethod
    def from_curve(cls, curve, *, marked=None, ax=None):
        """Plot the dict of :func:`~sklearn_rbfm.detection.precision_recall_over_thresholds`.

        Parameters
        ----------
        curve : dict
            ``precision``, ``recall`` and ``thresholds`` arrays.
        marked : dict, default=None
            Name -> threshold of points to mark.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : DetectionPrecisionRecallDisplay
        """
        return cls(precision=np.asarray(curve["precision"]),
                   recall=np.asarray(curve["recall"]),
                   thresholds=np.asarray(curve["thresholds"]),
                   marked=marked).plot(ax=ax)

    @classmethod
    def from_scores(cls, window_scores, annotations, *, durations, min_overlap=0.0,
                    thresholds=None, marked=None, ax=None):
        """Compute the curve from window scores and annotations, and plot it.

        Parameters
        ----------
        window_scores, annotations, durations, min_overlap, thresholds
            As for :func:`~sklearn_rbfm.detection.precision_recall_over_thresholds`.
        marked : dict, default=None
            Name -> threshold of points to mark.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : DetectionPrecisionRecallDisplay
        """
        from ..detection import precision_recall_over_thresholds

        curve = precision_recall_over_thresholds(
            window_scores, annotations, durations=durations,
            min_overlap=min_overlap, thresholds=thresholds)
        return cls.from_curve(curve, marked=marked, ax=ax)

    def plot(self, *, ax=None, name=None):
        """Plot the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Legend label of the curve.

        Returns
        -------
        display : DetectionPrecisionRecallDisplay
            With the matplotlib objects stored.
        """
        precision, recall = np.asarray(self.precision), np.asarray(self.recall)
        thresholds = np.asarray(self.thresholds)
        if not len(precision) == len(recall) == len(thresholds):
            raise ValueError(
                f"precision ({len(precision)}), recall ({len(recall)}) and "
                f"thresholds ({len(thresholds)}) must have one value per threshold.")
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        (self.line_,) = ax.plot(recall, precision, drawstyle="steps-post",
                                label=name or "detector")
        for label, t in (self.marked or {}).items():
            i = int(np.argmin(np.abs(thresholds - t)))
            ax.plot(recall[i], precision[i], "o")
            ax.annotate(label, (recall[i], precision[i]), xytext=(5, 5),
                        textcoords="offset points", fontsize="small")
        ax.set_xlabel("event recall")
        ax.set_ylabel("event precision")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
        if name:
            ax.legend(loc="lower left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
