"""Plot of Becker et al.'s input-manipulation test."""

import numpy as np


class ManipulationTestDisplay:
    """Relevance profile, relevant and control regions, and the accuracy drops.

    Draws the mean relevance profile along the tested axis (one line per
    class), shades each class's relevant region in the line's colour and
    its control regions in grey, and states the accuracy before and after
    both manipulations in the title.

    Parameters
    ----------
    result : Bunch
        The result of :func:`~sklearn_rbfm.explain.manipulation_test`.

    class_names : list of str or None, default=None
        Legend names of ``result.classes``; None uses the classes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes, after :meth:`plot`.

    figure_ : matplotlib Figure
        The figure, after :meth:`plot`.

    lines_ : list of matplotlib Line2D
        One profile per class (one in all with ``per_class=False``).

    See Also
    --------
    sklearn_rbfm.explain.manipulation_test : Computes the result.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.utils import Bunch
    >>> from sklearn_rbfm.plotting import ManipulationTestDisplay
    >>> result = Bunch(axis="frequency", classes=np.array([0, 1]),
    ...                profile=np.array([[0.1, 0.6, 0.2, 0.1],
    ...                                  [0.1, 0.1, 0.2, 0.6]]),
    ...                regions=np.array([[1, 2], [3, 4]]),
    ...                control_regions=np.array([[[3, 4]], [[0, 1]]]),
    ...                accuracy=0.95, relevant_accuracy=0.5,
    ...                control_accuracy=0.9, relevant_drop=0.45,
    ...                control_drop=0.05)
    >>> disp = ManipulationTestDisplay(result).plot()
    >>> len(disp.lines_)
    2
    >>> disp.ax_.get_xlabel()
    'frequency bin'
    """

    def __init__(self, result, *, class_names=None):
        self.result = result
        self.class_names = class_names

    @classmethod
    def from_estimator(cls, estimator, X, y, *, class_names=None, ax=None, **kwargs):
        """Run the manipulation test and plot it.

        Parameters
        ----------
        estimator, X, y
            As in :func:`~sklearn_rbfm.explain.manipulation_test`.

        class_names : list of str or None, default=None
            Legend names of the classes.

        ax : matplotlib Axes or None, default=None
            Where to draw.

        **kwargs
            Passed to :func:`~sklearn_rbfm.explain.manipulation_test`.

        Returns
        -------
        display : ManipulationTestDisplay
        """
        from ..explain import manipulation_test

        result = manipulation_test(estimator, X, y, **kwargs)
        return cls(result, class_names=class_names).plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw the profiles, regions and drops.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : ManipulationTestDisplay
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        r = self.result
        names = self.class_names
        if names is None:
            names = ["all classes" if c is None else str(c) for c in r.classes]
        if len(names) != len(r.classes):
            raise ValueError(
                f"class_names has {len(names)} names for {len(r.classes)} "
                "classes of the result."
            )
        positions = np.arange(r.profile.shape[1])
        self.lines_ = []
        for profile, (start, stop), controls, name in zip(
            r.profile, r.regions, r.control_regions, names
        ):
            (line,) = ax.plot(positions, profile, label=name)
            self.lines_.append(line)
            ax.axvspan(start - 0.5, stop - 0.5, color=line.get_color(), alpha=0.2)
            for c_start, c_stop in controls:
                ax.axvspan(c_start - 0.5, c_stop - 0.5, color="0.5", alpha=0.06)
        unit = "frequency bin" if r.axis == "frequency" else "time (frame or sample)"
        ax.set_xlabel(unit)
        ax.set_ylabel("mean share of relevance")
        ax.set_title(
            f"accuracy {r.accuracy:.2f}; relevant region manipulated "
            f"{r.relevant_accuracy:.2f} (drop {r.relevant_drop:.2f}), "
            f"control {r.control_accuracy:.2f} (drop {r.control_drop:.2f})",
            fontsize="small",
        )
        if len(names) <= 12:
            ax.legend(fontsize="x-small", ncol=2)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
