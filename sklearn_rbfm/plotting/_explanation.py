"""Displays of input-level explanations: heatmaps over spectrograms, perturbation curves."""

import numpy as np


class SpectrogramExplanationDisplay:
    """A spectrogram and its relevance, side by side or overlaid.

    Build it with :meth:`from_explanation` (arrays you already have) or
    :meth:`from_estimator` (computes the relevance with
    :func:`~sklearn_rbfm.explain.relevance_maps`), then :meth:`plot`. Every
    cell is drawn at its frame's time and its band's centre frequency, so
    mel and VGGish bands sit at their real, unevenly spaced frequencies.

    Parameters
    ----------
    spectrogram : ndarray of shape (n_freq, n_frames)
        The explained spectrogram.

    relevance : ndarray of shape (n_freq, n_frames)
        Relevance (or RELAX importance) per bin.

    times : ndarray of shape (n_frames,)
        Centre of each frame in seconds.

    frequencies : ndarray of shape (n_freq,)
        Centre of each band in Hz, increasing.

    title : str or None, default=None
        Figure title.

    Attributes
    ----------
    ax_ : matplotlib Axes or ndarray of two Axes
        The axes, after :meth:`plot`: the spectrogram and relevance axes
        side by side, one axis when overlaid.

    axes_ : list of matplotlib Axes
        The same axes as a list.

    figure_ : matplotlib Figure
        The figure, after :meth:`plot`.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_rbfm import SpectrogramTransformer
    >>> from sklearn_rbfm.plotting import SpectrogramExplanationDisplay
    >>> X = np.random.default_rng(0).standard_normal((1, 8000)).astype("float32")
    >>> spec = SpectrogramTransformer("mel", sr=8000, n_fft=256, n_mels=32).fit(X)
    >>> S = spec.transform(X)
    >>> R = np.random.rand(*S.shape)  # a relevance map laid out like S
    >>> disp = SpectrogramExplanationDisplay.from_explanation(
    ...     S[0], R[0], transformer=spec, kind="overlay")
    >>> disp.ax_.get_xlabel()
    'Time (s)'
    >>> bool(np.allclose(disp.frequencies, spec.frequencies_))
    True
    """

    def __init__(self, spectrogram, relevance, times, frequencies, *, title=None):
        self.spectrogram = spectrogram
        self.relevance = relevance
        self.times = times
        self.frequencies = frequencies
        self.title = title

    @classmethod
    def from_explanation(
        cls, spectrogram, relevance, *, transformer=None, sr=None,
        hop_length=None, fmax=None, frequencies=None, title=None,
        kind="side_by_side", ax=None, plot=True,
    ):
        """Display a spectrogram and a relevance map given as arrays.

        Parameters
        ----------
        spectrogram : array-like of shape (n_freq, n_frames) or (n_freq * n_frames,)
            The spectrogram, 2-D or flat as the transformer's output row.
        relevance : array-like of shape (n_freq, n_frames) or (n_freq * n_frames,)
            Relevance per bin, laid out like ``spectrogram``.
        transformer : fitted SpectrogramTransformer or None, default=None
            The transformer that made ``spectrogram``: its
            ``spectrogram_shape_``, ``frame_times_`` and ``frequencies_``
            place every cell (then leave ``sr``, ``hop_length``, ``fmax``
            and ``frequencies`` at None).
        sr : float or None, default=None
            Without ``transformer``: sampling rate of the audio in Hz.
        hop_length : int or None, default=None
            Without ``transformer``: samples between frames; frame ``t``
            is drawn at ``t * hop_length / sr``.
        fmax : float or None, default=None
            Without ``transformer`` and ``frequencies``: bands are taken as
            evenly spaced from 0 to ``fmax``; None means ``sr / 2``.
        frequencies : array-like of shape (n_freq,) or None, default=None
            Without ``transformer``: centre frequency of each band in Hz
            (e.g. mel band centres).
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
        if transformer is not None:
            given = [name for name, value in (("sr", sr), ("hop_length", hop_length),
                     ("fmax", fmax), ("frequencies", frequencies)) if value is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)} and transformer both describe the grid; "
                    "pass the fitted SpectrogramTransformer alone."
                )
            if not hasattr(transformer, "frame_times_"):
                raise ValueError(
                    "transformer must be a fitted SpectrogramTransformer (the one "
                    "that made the spectrogram)."
                )
            R = _one_map(relevance, transformer.spectrogram_shape_, "relevance")
            S = _one_map(spectrogram, R.shape, "spectrogram")
            times = np.asarray(transformer.frame_times_, dtype=np.float64)
            frequencies = np.asarray(transformer.frequencies_, dtype=np.float64)
        else:
            if sr is None or hop_length is None:
                raise ValueError(
                    "Pass transformer (the fitted SpectrogramTransformer), or sr "
                    "and hop_length to place the frames in time."
                )
            R = np.asarray(relevance, dtype=np.float64)
            if R.ndim != 2:
                raise ValueError(
                    f"relevance must be 2-D (n_freq, n_frames), got shape {R.shape}; "
                    "flat relevance needs transformer=."
                )
            S = _one_map(spectrogram, R.shape, "spectrogram")
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
        transformer=None, sr=None, hop_length=None, fmax=None, frequencies=None,
        title=None, kind="side_by_side", ax=None,
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
        transformer : fitted SpectrogramTransformer or None, default=None
            Places the cells as in :meth:`from_explanation`. None takes the
            pipeline's own SpectrogramTransformer step when ``sr`` and
            ``hop_length`` are not given.
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
        steps = list(estimator[:-1]) if isinstance(estimator, Pipeline) else []
        if transformer is None and sr is None and hop_length is None:
            found = [step for step in steps if hasattr(step, "frame_times_")]
            transformer = found[-1] if found else None
        R = np.asarray(relevance_maps(estimator, sample, method=method, target=target)[0])
        last = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        shape = getattr(last, "input_shape_", None)
        if R.ndim == 1 and shape is not None and len(shape) == 2:
            R = R.reshape(shape)
        if R.ndim != 2 or min(R.shape) < 2:
            raise ValueError(
                "The estimator's relevance is not a 2-D spectrogram map (shape "
                f"{R.shape}): give KerasCNNClassifier its spectrogram_shape to "
                "display spectrogram explanations."
            )
        spec = estimator[:-1].transform(sample) if steps else sample
        return cls.from_explanation(
            np.asarray(spec)[0], R, transformer=transformer, sr=sr,
            hop_length=hop_length, fmax=fmax, frequencies=frequencies,
            title=title, kind=kind, ax=ax,
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
        times = np.asarray(self.times, dtype=np.float64)
        freqs = np.asarray(self.frequencies, dtype=np.float64)
        # 'nearest' shading puts each cell's centre at its frame time and band
        # frequency, whatever the spacing (mel bands widen with frequency).
        axes[0].pcolormesh(times, freqs, self.spectrogram, shading="nearest",
                           cmap=cmap)
        limit = float(np.abs(self.relevance).max()) or 1.0
        target = axes[-1]
        mesh = target.pcolormesh(
            times, freqs, self.relevance, shading="nearest", cmap=relevance_cmap,
            vmin=-limit, vmax=limit, alpha=0.6 if kind == "overlay" else 1.0,
        )
        fig.colorbar(mesh, ax=target, label="relevance")
        for axis in axes:
            axis.set_xlabel("Time (s)")
            axis.set_ylabel("Frequency (Hz)")
        if kind == "side_by_side":
            axes[0].set_title("Spectrogram")
            axes[1].set_title("Relevance")
        if self.title:
            fig.suptitle(self.title)
        self.figure_, self.axes_ = fig, axes
        self.ax_ = np.asarray(axes, dtype=object) if len(axes) > 1 else axes[0]
        return self


def _one_map(values, shape, name):
    values = np.asarray(values, dtype=np.float64)
    shape = tuple(int(v) for v in shape)
    if values.shape == shape:
        return values
    if values.ndim == 1 and values.size == shape[0] * shape[1]:
        return values.reshape(shape)
    hint = ""
    if values.shape == shape[::-1]:
        hint = " It is transposed: pass (n_freq, n_frames)."
    raise ValueError(
        f"{name} has shape {values.shape}, but the spectrogram grid is "
        f"(n_freq, n_frames) = {shape} ({shape[0] * shape[1]} values flat).{hint}"
    )


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
