"""Sorted feature-relevance profile of a fitted RelevanceMasker."""

import numpy as np
from sklearn.utils.validation import check_is_fitted


class RelevanceDisplay:
    """Feature-relevance profile: mean relevance per feature, sorted.

    Features are sorted by decreasing mean training relevance. For a
    'minimal' masker the kept features are drawn in one colour and the
    dropped ones in another; for a 'negative' masker the profile's mean is
    drawn as a line, the per-sample rule's threshold applied to the average
    sample (features above it are the ones most often zeroed).

    Create it with :meth:`from_estimator`, or directly from arrays and call
    :meth:`plot`.

    Parameters
    ----------
    feature_relevance : ndarray of shape (n_features,)
        Mean relevance per feature.

    support : ndarray of shape (n_features,), dtype=bool, default=None
        Kept features. None draws no kept/dropped distinction.

    threshold : float, default=None
        Relevance level drawn as a horizontal line.

    feature_names : array-like of str, default=None
        Names of the features, used to label the most relevant ones.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the profile.

    figure_ : matplotlib Figure
        Figure containing the axes.

    kept_ : matplotlib PathCollection or None
        Markers of the kept features.

    dropped_ : matplotlib PathCollection or None
        Markers of the dropped features.

    line_ : matplotlib Line2D
        The sorted profile.

    order_ : ndarray of shape (n_features,)
        Feature indices from the most to the least relevant.

    See Also
    --------
    sklearn_rbfm.RelevanceMasker : Computes the profile.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_rbfm.plotting import RelevanceDisplay
    >>> relevance = np.array([0.1, 0.5, 0.05, 0.3])
    >>> display = RelevanceDisplay(relevance, support=relevance > 0.2).plot()
    >>> display.order_.tolist()
    [1, 3, 0, 2]
    """

    def __init__(self, feature_relevance, *, support=None, threshold=None, feature_names=None):
        self.feature_relevance = feature_relevance
        self.support = support
        self.threshold = threshold
        self.feature_names = feature_names

    @classmethod
    def from_estimator(cls, masker, *, ax=None, n_labels=5, **kwargs):
        """Plot the profile of a fitted :class:`~sklearn_rbfm.RelevanceMasker`.

        Parameters
        ----------
        masker : RelevanceMasker
            Fitted masker.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        n_labels : int, default=5
            How many of the most relevant features to label by name.

        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : RelevanceDisplay
            The drawn display.
        """
        check_is_fitted(masker, "feature_relevance_")
        relevance = np.asarray(masker.feature_relevance_)
        minimal = masker.strategy == "minimal"
        names = getattr(masker, "feature_names_in_", None)
        display = cls(
            relevance,
            support=masker.support_ if minimal else None,
            threshold=None if minimal else float(relevance.mean()),
            feature_names=names,
        )
        return display.plot(ax=ax, n_labels=n_labels, **kwargs)

    def plot(self, *, ax=None, n_labels=5, kept_color="C0", dropped_color="C7"):
        """Draw the profile.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        n_labels : int, default=5
            How many of the most relevant features to label by name (only
            when ``feature_names`` is given).

        kept_color, dropped_color : color, default="C0", "C7"
            Colours of the kept and dropped features.

        Returns
        -------
        display : RelevanceDisplay
            ``self``, with the artists stored.
        """
        import matplotlib.pyplot as plt

        relevance = np.asarray(self.feature_relevance, dtype=float).ravel()
        if ax is None:
            _, ax = plt.subplots()
        self.order_ = np.argsort(-relevance, kind="stable")
        ranks = np.arange(1, len(relevance) + 1)
        sorted_relevance = relevance[self.order_]
        (self.line_,) = ax.plot(ranks, sorted_relevance, color="0.3", linewidth=1)
        self.kept_ = self.dropped_ = None
        if self.support is not None:
            kept = np.asarray(self.support, dtype=bool)[self.order_]
            self.kept_ = ax.scatter(
                ranks[kept], sorted_relevance[kept], s=12, color=kept_color,
                label=f"kept ({int(kept.sum())})", zorder=3,
            )
            self.dropped_ = ax.scatter(
                ranks[~kept], sorted_relevance[~kept], s=12, color=dropped_color,
                label=f"dropped ({int((~kept).sum())})", zorder=3,
            )
        if self.threshold is not None:
            above = int((relevance > self.threshold).sum())
            ax.axhline(
                self.threshold, color="C3", linestyle="--",
                label=f"mean relevance ({above} features above)",
            )
        if self.feature_names is not None:
            for rank in range(min(n_labels, len(relevance))):
                ax.annotate(
                    str(self.feature_names[self.order_[rank]]),
                    (ranks[rank], sorted_relevance[rank]),
                    textcoords="offset points", xytext=(4, 2), fontsize=7,
                )
        ax.set_xlabel("feature rank (by mean relevance)")
        ax.set_ylabel("mean relevance")
        if self.support is not None or self.threshold is not None:
            ax.legend(loc="upper right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
