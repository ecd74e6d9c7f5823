"""Ranking of a fusion search: score by rank over a matrix of members."""

import numpy as np


class FusionRankingDisplay:
    """Fusion ranking: the best subsets' scores above their member matrix.

    The plot of the RBFM paper's Table 1: the upper axes show the score of
    the best ``n_top`` subsets by rank, the lower axes mark which members
    each subset holds (a number where greedy search added a member more than
    once). Create it with :meth:`from_estimator` or :meth:`from_results`.

    Parameters
    ----------
    scores : ndarray of shape (n_subsets,)
        Scores of the subsets shown, best first.

    membership : ndarray of int of shape (n_subsets, n_members)
        How many times each member is in each subset (0 or 1 for exhaustive
        search).

    member_names : list of str
        Names of the members, in column order of ``membership``.

    ranks : ndarray of shape (n_subsets,), default=None
        Rank of each subset shown (1 is best); ``1 .. n_subsets`` if None.

    score_name : str, default='score'
        Label of the score axis.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the scores.

    ax_matrix_ : matplotlib Axes
        Axes with the member matrix.

    line_ : matplotlib Line2D
        The score curve.

    figure_ : matplotlib Figure
        Figure holding both axes.

    See Also
    --------
    sklearn_rbfm.VotingFusionSearch : The search whose ranking is shown.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from sklearn_rbfm import VotingFusionSearch
    >>> from sklearn_rbfm.plotting import FusionRankingDisplay
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> search = VotingFusionSearch(
    ...     [("lr", LogisticRegression()), ("nb", GaussianNB()),
    ...      ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
    ...     cv=5).fit(X, y)
    >>> display = FusionRankingDisplay.from_estimator(search, n_top=5)
    >>> display.membership.shape
    (5, 3)
    """

    def __init__(
        self, *, scores, membership, member_names, ranks=None, score_name="score"
    ):
        self.scores = scores
        self.membership = membership
        self.member_names = member_names
        self.ranks = ranks
        self.score_name = score_name

    def plot(self, *, ax=None, marker="o", check_marker="s"):
        """Plot the ranking.

        Parameters
        ----------
        ax : (Axes, Axes), default=None
            Axes for the scores and for the member matrix. None makes a new
            figure with both, sharing the rank axis.

        marker : str, default='o'
            Marker of the score curve.

        check_marker : str, default='s'
            Marker that ticks a member of a subset.

        Returns
        -------
        display : FusionRankingDisplay
            With the matplotlib objects stored.
        """
        import matplotlib.pyplot as plt

        scores = np.asarray(self.scores)
        membership = np.asarray(self.membership)
        if membership.shape != (len(scores), len(self.member_names)):
            raise ValueError(
                f"membership has shape {membership.shape}, expected "
                f"({len(scores)}, {len(self.member_names)}): one row per score, "
                "one column per member name."
            )
        if self.ranks is None:
            ranks = np.arange(1, len(scores) + 1)
        else:
            ranks = np.asarray(self.ranks)
        if ax is None:
            n_members = len(self.member_names)
            fig, (ax_score, ax_matrix) = plt.subplots(
                2,
                1,
                sharex=True,
                figsize=(max(6.0, 0.35 * len(scores) + 2), 3 + 0.3 * n_members),
                gridspec_kw={"height_ratios": [2, max(1, 0.25 * n_members)]},
            )
        else:
            ax_score, ax_matrix = ax
            fig = ax_score.figure
        position = np.arange(len(scores))
        (self.line_,) = ax_score.plot(position, scores, marker=marker)
        ax_score.set_ylabel(self.score_name)
        ax_score.grid(True, alpha=0.3)

        subset_idx, member_idx = np.nonzero(membership)
        ax_matrix.scatter(subset_idx, member_idx, marker=check_marker, color="black")
        for i, j in zip(subset_idx, member_idx):
            if membership[i, j] > 1:
                ax_matrix.annotate(
                    str(membership[i, j]), (i, j), xytext=(5, 3),
                    textcoords="offset points", fontsize="small",
                )
        ax_matrix.set_yticks(np.arange(len(self.member_names)))
        ax_matrix.set_yticklabels(self.member_names)
        ax_matrix.set_ylim(len(self.member_names) - 0.5, -0.5)
        ax_matrix.set_xticks(position)
        ax_matrix.set_xticklabels([str(r) for r in ranks])
        ax_matrix.set_xlabel("rank")
        ax_matrix.grid(True, alpha=0.3)

        self.ax_ = ax_score
        self.ax_matrix_ = ax_matrix
        self.figure_ = fig
        return self

    @classmethod
    def from_results(cls, cv_results, *, n_top=20, score_name="score", ax=None):
        """Plot the ranking from ``cv_results_`` (a dict or a DataFrame).

        Parameters
        ----------
        cv_results : dict or pandas.DataFrame
            ``VotingFusionSearch.cv_results_``, or a DataFrame made from it.

        n_top : int, default=20
            Number of best subsets shown.

        score_name : str, default='score'
            Label of the score axis.

        ax : (Axes, Axes), default=None
            See :meth:`plot`.

        Returns
        -------
        display : FusionRankingDisplay
        """
        if not (isinstance(n_top, (int, np.integer)) and n_top >= 1):
            raise ValueError(f"n_top must be a positive integer, got {n_top!r}.")
        missing = {"members", "score", "rank"} - set(cv_results)
        if missing:
            raise ValueError(
                f"cv_results lacks the columns {sorted(missing)}; pass "
                "VotingFusionSearch.cv_results_ or a DataFrame of it."
            )
        prefix = "member_"
        names = [key[len(prefix) :] for key in cv_results if key.startswith(prefix)]
        ranks = np.asarray(cv_results["rank"])
        order = np.argsort(ranks, kind="stable")[:n_top]
        members = list(cv_results["members"])
        membership = np.array(
            [[members[i].count(name) for name in names] for i in order], dtype=int
        ).reshape(len(order), len(names))
        display = cls(
            scores=np.asarray(cv_results["score"])[order],
            membership=membership,
            member_names=names,
            ranks=ranks[order],
            score_name=score_name,
        )
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, n_top=20, ax=None):
        """Plot the ranking of a fitted :class:`~sklearn_rbfm.VotingFusionSearch`.

        Parameters
        ----------
        estimator : VotingFusionSearch
            A fitted search.

        n_top : int, default=20
            Number of best subsets shown.

        ax : (Axes, Axes), default=None
            See :meth:`plot`.

        Returns
        -------
        display : FusionRankingDisplay
        """
        if not hasattr(estimator, "cv_results_"):
            raise ValueError(
                f"{type(estimator).__name__} is not a fitted VotingFusionSearch "
                "(no cv_results_); call fit first."
            )
        scoring = estimator.scoring if isinstance(estimator.scoring, str) else "score"
        return cls.from_results(
            estimator.cv_results_, n_top=n_top, score_name=scoring, ax=ax
        )
