"""RELAX: explanations of representations by masking, with time/frequency masks."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..utils._layout import reshape_spectrograms

# RELAX's random masks are a 7 x 7 grid of cells, upsampled to the input.
_DEFAULT_GRID = 7


class RELAX(BaseEstimator):
    """Explain what a representation (embedding) of a spectrogram relies on.

    RELAX (Wickstrøm et al., 2023) occludes the input with ``n_masks``
    random masks ``M_n``, embeds every masked input ``x * M_n``, and
    measures with the cosine similarity ``s_n = cos(h, h_n)`` how much of the
    unmasked representation ``h`` survives. Per time-frequency bin,

    - importance ``R = (1/N) sum_n s_n M_n``,
    - uncertainty ``U = (1/N) sum_n (s_n - R)^2 M_n``.

    For spectrograms the masks can follow the axes of the input: whole
    frames (``'time'``), whole frequency bands (``'frequency'``), both at
    once (``'time_frequency'``), or RELAX's smooth random masks
    (``'random'``).

    The explained model is any embedder: an object with ``transform`` (a
    fitted :class:`~sklearn_rbfm.CNNEmbedder`, a scikit-learn transformer or
    pipeline) or a callable, mapping flat spectrograms
    ``(n, n_freq * n_frames)`` (frequency-major, as
    :class:`~sklearn_rbfm.SpectrogramTransformer` returns them) to
    embeddings ``(n, n_dims)``.

    Parameters
    ----------
    embedder : object with ``transform``, or callable
        The fitted representation to explain.

    n_masks : int, default=3000
        Masks per clip. The estimates' noise falls as ``1 / sqrt(n_masks)``.

    strategy : {"random", "time", "frequency", "time_frequency"}, default="random"
        - ``'random'``: a grid of Bernoulli(``p_keep``) cells, bilinearly
          upsampled and randomly shifted (smooth masks, RELAX's own).
        - ``'time'``: keeps or removes whole segments of ``mask_size[1]``
          frames across all frequencies.
        - ``'frequency'``: keeps or removes whole bands of ``mask_size[0]``
          bins across all frames.
        - ``'time_frequency'``: the product of a time mask and a frequency
          mask, each drawn with keep probability ``sqrt(p_keep)`` so that
          a fraction ``p_keep`` of the bins is kept on average.

    mask_size : int, tuple of (int, int) or None, default=None
        Size of one mask cell in (frequency bins, frames); an int sets both.
        None divides each axis into 7 cells, as RELAX's 7 x 7 grid.

    p_keep : float, default=0.5
        Probability that a cell is kept (not masked).

    fill : {"min", "zero", "mean"} or float, default="min"
        Value of masked bins: each clip's minimum (silence on a log scale),
        zero, each clip's mean, or a given constant (the same choices as
        :func:`~sklearn_rbfm.explain.perturbation_curve`'s ``fill``).

    spectrogram_shape : tuple of (int, int), fitted SpectrogramTransformer or None, default=None
        ``(n_freq, n_frames)`` of flat spectrograms given to :meth:`explain`,
        or the transformer that made them (its ``spectrogram_shape_``). None
        takes the ``spectrogram_shape_`` of the embedder (a fitted
        :class:`~sklearn_rbfm.CNNEmbedder`) for flat input; 3-D input needs
        nothing.

    batch_size : int, default=128
        Masked spectrograms embedded at once; memory holds about
        ``batch_size * n_freq * n_frames`` floats.

    random_state : int, RandomState instance or None, default=None
        Seeds the masks. Pass an int for repeatable explanations.

    See Also
    --------
    relevance_maps : Relevance of a classifier's decision per input bin.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rbfm.explain import RELAX
    >>> rng = np.random.RandomState(0)
    >>> W = rng.randn(8 * 10, 4)
    >>> X = rng.rand(2, 8, 10)
    >>> relax = RELAX(lambda S: S @ W, n_masks=200, strategy="time",
    ...               mask_size=2, random_state=0)
    >>> importance, uncertainty = relax.explain(X)
    >>> importance.shape, uncertainty.shape
    ((2, 8, 10), (2, 8, 10))
    >>> bool(np.allclose(importance[:, 0], importance[:, 5]))
    True

    Flat spectrograms, as :class:`~sklearn_rbfm.SpectrogramTransformer`
    returns them, come back flat:

    >>> flat = X.reshape(2, -1)
    >>> relax.set_params(spectrogram_shape=(8, 10)).explain(flat)[0].shape
    (2, 80)
    """

    _parameter_constraints = {
        "embedder": "no_validation",
        "n_masks": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"random", "time", "frequency", "time_frequency"})],
        "mask_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "p_keep": [Interval(Real, 0, 1, closed="neither")],
        "fill": [StrOptions({"min", "zero", "mean"}), Real],
        "spectrogram_shape": [tuple, list, HasMethods(["transform"]), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        embedder,
        *,
        n_masks=3000,
        strategy="random",
        mask_size=None,
        p_keep=0.5,
        fill="min",
        spectrogram_shape=None,
        batch_size=128,
        random_state=None,
    ):
        self.embedder = embedder
        self.n_masks = n_masks
        self.strategy = strategy
        self.mask_size = mask_size
        self.p_keep = p_keep
        self.fill = fill
        self.spectrogram_shape = spectrogram_shape
        self.batch_size = batch_size
        self.random_state = random_state

    def explain(self, X):
        """Importance and uncertainty of every time-frequency bin.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_freq, n_frames) or (n_clips, n_freq * n_frames)
            Spectrograms, 3-D or flat in (frequency, frame) order as
            :class:`~sklearn_rbfm.SpectrogramTransformer` returns them (flat
            input needs ``spectrogram_shape`` or an embedder that knows it).

        Returns
        -------
        importance : ndarray of shape (n_clips, n_freq, n_frames) or (n_clips, n_freq * n_frames)
            Mean over masks of the cosine similarity times the mask; flat
            when ``X`` is flat.

        uncertainty : ndarray, same shape as ``importance``
            Mean over masks of the squared deviation of the similarity from
            the importance, times the mask; never negative.
        """
        self._validate_params()
        embed = self._embed_function()
        X = np.asarray(X, dtype=np.float32)
        flat = X.ndim == 2
        if flat:
            X = reshape_spectrograms(X, self._flat_shape(X))
        elif self.spectrogram_shape is not None:
            X = reshape_spectrograms(X, self.spectrogram_shape)
        if X.ndim != 3:
            raise ValueError(
                f"X must hold spectrograms of shape (n_clips, n_freq, n_frames) "
                f"or flat rows (n_clips, n_freq * n_frames), got an array of "
                f"shape {X.shape}."
            )
        bad = ~np.isfinite(X).reshape(len(X), -1).all(axis=1)
        if bad.any():
            raise ValueError(
                f"clip {int(np.flatnonzero(bad)[0])} of X contains NaN or "
                "infinite values; replace them before explaining."
            )
        n_clips, n_freq, n_frames = X.shape
        cell = self._cell_size(n_freq, n_frames)
        rng = check_random_state(self.random_state)
        importance = np.zeros(X.shape, dtype=np.float64)
        uncertainty = np.zeros(X.shape, dtype=np.float64)
        for i, spec in enumerate(X):
            h = _unit_rows(embed(spec.reshape(1, -1), i))[0]
            fill = self._fill_value(spec)
            mask_sum = np.zeros(n_freq * n_frames)
            weighted = np.zeros(n_freq * n_frames)
            squares = np.zeros(n_freq * n_frames)
            # R is only known after the last mask, so U is accumulated from
            # its expansion sum((s - R)^2 M) = sum(s^2 M) - 2R sum(s M) + R^2 sum(M),
            # which keeps memory independent of n_masks.
            # The random draws of all masks are small (grid cells, offsets);
            # only the full-size masks are built batch by batch, so the result
            # does not depend on batch_size.
            draws = self._draw(rng, n_freq, n_frames, cell)
            for start in range(0, self.n_masks, self.batch_size):
                stop = min(start + self.batch_size, self.n_masks)
                masks = self._masks(draws, start, stop, n_freq, n_frames, cell)
                masks = masks.reshape(stop - start, -1)
                masked = spec.reshape(1, -1) * masks + fill * (1.0 - masks)
                s = _unit_rows(embed(masked.astype(np.float32), i)) @ h
                mask_sum += masks.sum(axis=0)
                weighted += s @ masks
                squares += (s * s) @ masks
            r = weighted / self.n_masks
            u = (squares - 2.0 * r * weighted + r * r * mask_sum) / self.n_masks
            importance[i] = r.reshape(n_freq, n_frames)
            uncertainty[i] = np.maximum(u, 0.0).reshape(n_freq, n_frames)
        if flat:
            return importance.reshape(n_clips, -1), uncertainty.reshape(n_clips, -1)
        return importance, uncertainty

    def _flat_shape(self, X):
        shape = self.spectrogram_shape
        if shape is None:
            shape = getattr(self.embedder, "spectrogram_shape_", None)
        if shape is None:
            raise ValueError(
                f"X holds flat spectrograms of shape {X.shape}; to know their "
                "(n_freq, n_frames), pass spectrogram_shape (a pair or the fitted "
                "SpectrogramTransformer), or X of shape (n_clips, n_freq, n_frames)."
            )
        return shape

    def _embed_function(self):
        embedder = self.embedder
        if hasattr(embedder, "transform"):
            call = embedder.transform
        elif callable(embedder):
            call = embedder
        else:
            raise TypeError(
                "embedder must have a transform method or be callable, got "
                f"{type(embedder).__name__}."
            )

        def embed(rows, clip):
            out = np.asarray(call(rows), dtype=np.float64)
            if out.ndim != 2 or out.shape[0] != rows.shape[0]:
                raise ValueError(
                    f"The embedder returned shape {out.shape} for {rows.shape[0]} "
                    f"masked copies of clip {clip}; it must return one embedding "
                    "row per input row."
                )
            return out

        return embed

    def _cell_size(self, n_freq, n_frames):
        if self.mask_size is None:
            return (
                max(1, int(np.ceil(n_freq / _DEFAULT_GRID))),
                max(1, int(np.ceil(n_frames / _DEFAULT_GRID))),
            )
        size = np.atleast_1d(np.asarray(self.mask_size))
        if size.size == 1:
            size = np.repeat(size, 2)
        if size.shape != (2,) or not np.issubdtype(size.dtype, np.integer) or (size < 1).any():
            raise ValueError(
                "mask_size must be a positive int or a pair (freq_bins, frames) "
                f"of positive ints, got {self.mask_size!r}."
            )
        return int(size[0]), int(size[1])

    def _fill_value(self, spec):
        if self.fill == "min":
            return float(spec.min())
        if self.fill == "mean":
            return float(spec.mean())
        if self.fill == "zero":
            return 0.0
        return float(self.fill)

    def _draw(self, rng, n_freq, n_frames, cell):
        n = self.n_masks
        cf, ct = cell
        gf, gt = -(-n_freq // cf), -(-n_frames // ct)
        if self.strategy == "time":
            return {"time": rng.rand(n, 1, gt) < self.p_keep}
        if self.strategy == "frequency":
            return {"freq": rng.rand(n, gf, 1) < self.p_keep}
        if self.strategy == "time_frequency":
            p = np.sqrt(self.p_keep)
            return {"time": rng.rand(n, 1, gt) < p, "freq": rng.rand(n, gf, 1) < p}
        return {
            "grid": rng.rand(n, gf + 1, gt + 1) < self.p_keep,
            "offset_f": rng.rand(n),
            "offset_t": rng.rand(n),
        }

    def _masks(self, draws, start, stop, n_freq, n_frames, cell):
        cf, ct = cell
        part = {key: value[start:stop] for key, value in draws.items()}
        if "grid" in part:
            return _smooth_masks(part, n_freq, n_frames)
        masks = np.ones((stop - start, n_freq, n_frames))
        if "time" in part:
            masks = masks * _expand(part["time"], cf, ct, n_freq, n_frames, axis=2)
        if "freq" in part:
            masks = masks * _expand(part["freq"], cf, ct, n_freq, n_frames, axis=1)
        return masks


def _expand(keep, cf, ct, n_freq, n_frames, axis):
    keep = keep.astype(np.float64)
    if axis == 2:
        cols = np.repeat(keep, ct, axis=2)[:, :, :n_frames]
        return np.broadcast_to(cols, (keep.shape[0], n_freq, n_frames))
    rows = np.repeat(keep, cf, axis=1)[:, :n_freq, :]
    return np.broadcast_to(rows, (keep.shape[0], n_freq, n_frames))


def _smooth_masks(draws, n_freq, n_frames):
    # RISE/RELAX masks: a coarse Bernoulli grid, bilinearly upsampled to one
    # cell more than the input, then cropped at a random offset so that the
    # cell borders do not always fall on the same bins.
    grid = draws["grid"].astype(np.float64)
    n, gf, gt = grid.shape[0], grid.shape[1] - 1, grid.shape[2] - 1
    cf, ct = n_freq / gf, n_frames / gt
    offset_f = draws["offset_f"] * cf
    offset_t = draws["offset_t"] * ct
    # coordinates of every bin in grid units, per mask
    pos_f = (np.arange(n_freq)[None, :] + offset_f[:, None]) / cf
    pos_t = (np.arange(n_frames)[None, :] + offset_t[:, None]) / ct
    f0 = np.clip(np.floor(pos_f).astype(int), 0, gf - 1)
    t0 = np.clip(np.floor(pos_t).astype(int), 0, gt - 1)
    wf = (pos_f - f0)[:, :, None]
    wt = (pos_t - t0)[:, None, :]
    idx = np.arange(n)[:, None, None]
    g00 = grid[idx, f0[:, :, None], t0[:, None, :]]
    g01 = grid[idx, f0[:, :, None], t0[:, None, :] + 1]
    g10 = grid[idx, f0[:, :, None] + 1, t0[:, None, :]]
    g11 = grid[idx, f0[:, :, None] + 1, t0[:, None, :] + 1]
    top = g00 * (1 - wt) + g01 * wt
    bottom = g10 * (1 - wt) + g11 * wt
    return top * (1 - wf) + bottom * wf


def _unit_rows(E):
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(norms > 0, norms, 1.0)
