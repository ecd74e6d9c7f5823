"""Displays of input-level explanations: heatmaps over spectrograms, perturbation curves."""

import numpy as np


class SpectrogramExplanationDisplay:
    """A spectrogram and its relevance, side by side or overlaid.

    Build it with :meth:`from_explanation` (arrays you already have) or
    :meth:`from_estimator` (computes the relevance with
    :func:`~sklearn_rbfm.explain.relevance_maps`), then :meth:`plot`.

    Parameters
    ----------
    spectrogram : ndarray of shape (n_freq, n_frames)
        The explained spectrogram.

    relevance : ndarray of shape (n_freq, n_frames)
        Relevance (or RELAX importance) per bin.

    times : ndarray of shape (n_frames,)
        Centre of each frame in seconds.

    frequencies : ndarray of shape (n_freq,)
        Centre of each bin in Hz.

    title : str or None, default=None
        Figure title.

    Attributes
    ----------
    figure_ : matplotlib Figure
        The figure, after :meth:`plot`.

    axes_ : list of matplotlib Axes
        The spectrogram and relevance axes (one axis when overlaid).

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_rbfm.plotting import SpectrogramExplanationDisplay
    >>> S, R = np.random.rand(2, 64, 50)
    >>> disp = SpectrogramExplanationDisplay.from_explanation(
    ...     S, R, sr=8000, hop_length=64, fmax=4000)
    >>> disp.plot(kind="overlay").axes_[0].get_xlabel()
    'Time (s)'
    """

    def __init__(self, spectrogram, relevance, times, frequencies, *, title=None):
        self.spectrogram = spectrogram
        self.relevance = relevance
        self.times = times
        self.frequencies = frequencies
        self.title = title

    @classmethod
    def from_explanation(
        cls, spectrogram, relevance, *, sr, hop_length, fmax=None,
        frequencies=None, title=None, kind="side_by_side", ax=None,
        plot=True,
    ):
        """Display a spectrogram and a relevance map given as arrays.

        Parameters
        ----------
        spectrogram : array-like of shape (n_freq, n_frames) or (n_freq * n_frames,)
            The spectrogram (flat input needs ``relevance`` 2-D).
        relevance : array-like of shape (n_freq, n_frames)
            Relevance per bin.
        sr : float
            Sampling rate of the audio in Hz.
        hop_length : int
            Samples between frames.
        fmax : float or None, default=None
            Highest frequency of the top bin; None means ``sr / 2``.
            Bins are taken as evenly spaced unless ``frequencies`` is given.
        frequencies : array-like of shape (n_freq,) or None, default=None
            Centre frequency of each bin in Hz (e.g. mel band centres).
        title : str or None, default=None
            Figure title.
        kind : {"side_by_side", "overlay"}, default="side_by_side"
            Layout of the plot.
        ax : matplotlib Axes, sequence of two Axes, or None, default=None
            Where to draw; None makes a new figure.
        plot : bool, default=True
            Draw at once.

        Returns
        -------
        display : SpectrogramExplanationDisplay
        """
        R = np.asarray(relevance, dtype=np.float64)
        if R.ndim != 2:
            raise ValueError(
                f"relevance must be 2-D (n_freq, n_frames), got shape {R.shape}."
            )
        S = np.asarray(spectrogram, dtype=np.float64).reshape(R.shape)
        n_freq, n_frames = R.shape
        times = np.arange(n_frames) * float(hop_length) / float(sr)
        if frequencies is None:
            top = float(sr) / 2.0 if fmax is None else float(fmax)
            frequencies = np.linspace(0.0, top, n_freq)
        frequencies = np.asarray(frequencies, dtype=np.float64)
        if frequencies.shape != (n_freq,):
            raise ValueError(
                f"frequencies has {frequencies.size} values for {n_freq} bins."
            )
        display = cls(S, R, times, frequencies, title=title)
        return display.plot(kind=kind, ax=ax) if plot else display

    @classmethod
    def from_estimator(
        cls, estimator, X, *, index=0, method="deep_taylor", target=None,
        sr, hop_length, fmax=None, frequencies=None, title=None,
        kind="side_by_side", ax=None,
    ):
        """Explain one spectrogram with :func:`~sklearn_rbfm.explain.relevance_maps`.

        Parameters
        ----------
        estimator : fitted spectrogram classifier or Pipeline
            A :class:`~sklearn_rbfm.KerasCNNClassifier` with a
            ``spectrogram_shape`` (or a pipeline ending in one).
        X : array-like of shape (n_samples, ...)
            Inputs of ``estimator``.
        index : int, default=0
            Which sample of ``X`` to show.
        method : str, default="deep_taylor"
            Relevance method.
        target : label or None, default=None
            Class to explain; None is the predicted class.
        sr, hop_length, fmax, frequencies, title, kind, ax
            As in :meth:`from_explanation`.

        Returns
        -------
        display : SpectrogramExplanationDisplay
        """
        from sklearn.pipeline import Pipeline

        from ..explain import relevance_maps

        X = np.asarray(X)
        sample = X[index : index + 1]
        R = relevance_maps(estimator, sample, method=method, target=target)[0]
        if R.ndim != 2:
            raise ValueError(
                "The estimator's relevance is not 2-D: give KerasCNNClassifier "
                "its spectrogram_shape to display spectrogram explanations."
            )
        spec = sample
        if isinstance(estimator, Pipeline) and len(estimator) > 1:
            spec = estimator[:-1].transform(sample)
        return cls.from_explanation(
            np.asarray(spec)[0], R, sr=sr, hop_length=hop_length, fmax=fmax,
            frequencies=frequencies, title=title, kind=kind, ax=ax,
        )

    def plot(self, *, kind="side_by_side", ax=None, cmap="magma",
             relevance_cmap="bwr"):
        """Draw the spectrogram and relevance.

        Parameters
        ----------
        kind : {"side_by_side", "overlay"}, default="side_by_side"
            Two panels, or the relevance drawn translucently over the
            spectrogram.
        ax : matplotlib Axes, sequence of two Axes, or None, default=None
            Where to draw (two Axes for ``'side_by_side'``).
        cmap : str, default="magma"
            Colour map of the spectrogram.
        relevance_cmap : str, default="bwr"
            Colour map of the relevance, centred on zero.

        Returns
        -------
        display : SpectrogramExplanationDisplay
        """
        import matplotlib.pyplot as plt

        if kind not in ("side_by_side", "overlay"):
            raise ValueError(
                f"kind must be 'side_by_side' or 'overlay', got {kind!r}."
            )
        if ax is None:
            n_axes = 2 if kind == "side_by_side" else 1
            fig, axes = plt.subplots(1, n_axes, figsize=(5 * n_axes, 3.5),
                                     squeeze=False)
            axes = list(axes[0])
        else:
            axes = list(np.atleast_1d(ax))
            fig = axes[0].figure
        if kind == "side_by_side" and len(axes) != 2:
            raise ValueError("kind='side_by_side' needs two Axes in ax.")
        extent = (self.times[0], self.times[-1] if len(self.times) > 1 else 1.0,
                  self.frequencies[0], self.frequencies[-1])
        limit = float(np.abs(self.relevance).max()) or 1.0
        axes[0].imshow(self.spectrogram, origin="lower", aspect="auto",
                       extent=extent, cmap=cmap)
        target = axes[-1]
        image = target.imshow(
            self.relevance, origin="lower", aspect="auto", extent=extent,
            cmap=relevance_cmap, vmin=-limit, vmax=limit,
            alpha=0.6 if kind == "overlay" else 1.0,
        )
        fig.colorbar(image, ax=target, label="relevance")
        for axis in axes:
            axis.set_xlabel("Time (s)")
            axis.set_ylabel("Frequency (Hz)")
        if kind == "side_by_side":
            axes[0].set_title("Spectrogram")
            axes[1].set_title("Relevance")
        if self.title:
            fig.suptitle(self.title)
        self.figure_, self.axes_ = fig, axes
        return self


class PerturbationCurveDisplay:
    """Perturbation curve of a relevance order against a random order.

    Parameters
    ----------
    fractions : ndarray of shape (n_points,)
        Fraction of the inputs removed.

    scores : ndarray of shape (n_points,)
        Score when removing in relevance order.

    random_scores : ndarray of shape (n_points,)
        Score when removing in random order.

    aopc, random_aopc : float
        Areas over both curves.

    name : str or None, default=None
        Label of the relevance method in the legend.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes, after :meth:`plot`.

    figure_ : matplotlib Figure
        The figure, after :meth:`plot`.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_rbfm.plotting import PerturbationCurveDisplay
    >>> f = np.linspace(0, 1, 6)
    >>> disp = PerturbationCurveDisplay(f, 1 - f, 1 - f / 2, 0.5, 0.25,
    ...                                 name="deep Taylor").plot()
    >>> [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    ['deep Taylor (AOPC 0.500)', 'random (AOPC 0.250)']
    """

    def __init__(self, fractions, scores, random_scores, aopc, random_aopc, *,
                 name=None):
        self.fractions = fractions
        self.scores = scores
        self.random_scores = random_scores
        self.aopc = aopc
        self.random_aopc = random_aopc
        self.name = name

    @classmethod
    def from_result(cls, result, *, name=None, ax=None):
        """Plot the result of :func:`~sklearn_rbfm.explain.perturbation_curve`.

        Parameters
        ----------
        result : Bunch
            The returned curves.
        name : str or None, default=None
            Legend label of the relevance order.
        ax : matplotlib Axes or None, default=None
            Where to draw.

        Returns
        -------
        display : PerturbationCurveDisplay
        """
        return cls(result.fractions, result.scores, result.random_scores,
                   result.aopc, result.random_aopc, name=name).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, X, y, relevance, *, name=None, ax=None,
                       **kwargs):
        """Compute and plot a perturbation curve.

        Parameters
        ----------
        estimator, X, y, relevance
            As in :func:`~sklearn_rbfm.explain.perturbation_curve`.
        name : str or None, default=None
            Legend label of the relevance order.
        ax : matplotlib Axes or None, default=None
            Where to draw.
        **kwargs
            Passed to :func:`~sklearn_rbfm.explain.perturbation_curve`.

        Returns
        -------
        display : PerturbationCurveDisplay
        """
        from ..explain import perturbation_curve

        result = perturbation_curve(estimator, X, y, relevance, **kwargs)
        return cls.from_result(result, name=name, ax=ax)

    def plot(self, *, ax=None):
        """Draw both curves.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : PerturbationCurveDisplay
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        name = self.name or "relevance order"
        ax.plot(self.fractions, self.scores, marker="o",
                label=f"{name} (AOPC {self.aopc:.3f})")
        ax.plot(self.fractions, self.random_scores, marker="s", linestyle="--",
                color="grey", label=f"random (AOPC {self.random_aopc:.3f})")
        ax.set_xlabel("Fraction of inputs removed")
        ax.set_ylabel("Score")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
