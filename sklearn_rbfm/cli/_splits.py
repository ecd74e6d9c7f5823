"""How ``rbfm experiment`` splits clips into fit, development and test parts."""

import numpy as np


def splitter(n_splits, groups, seed):
    """Stratified folds, kept apart by group when there are groups."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if groups is None:
        return StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    return StratifiedGroupKFold(min(n_splits, len(set(groups))), shuffle=True,
                                random_state=seed)


def fit_dev_split(index, y, groups, seed):
    """Split ``index`` into a fit part and a development part of about 25%."""
    g = None if groups is None else groups[index]
    fit, dev = next(splitter(4, g, seed).split(index, y[index], g))
    return index[fit], index[dev]


def make_splits(y, groups, roles, n_folds, seed):
    """List of dicts of index arrays ``fit``, ``dev``, ``test``."""
    if roles is not None:
        return [{part: np.flatnonzero(roles == role) for part, role in
                 (("fit", "train"), ("dev", "devel"), ("test", "test"))}]
    index = np.arange(len(y))
    splits = []
    for train, test in splitter(n_folds, groups, seed).split(index, y, groups):
        fit, dev = fit_dev_split(train, y, groups, seed)
        splits.append({"fit": fit, "dev": dev, "test": test})
    return splits
