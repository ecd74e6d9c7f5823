"""Reading and checking the experiment's data before any heavy work starts."""

import os

import numpy as np

from ._common import CommandError

SUBSETS = ("train", "devel", "test")


def _is_compare_orca(root):
    return os.path.isdir(os.path.join(root, "wav")) and os.path.isdir(
        os.path.join(root, "lab"))


def load_dataset(root, *, labels=None, dev_split=None, positive=None,
                 groups=None):
    """File names, labels, groups and (optionally) train/devel/test roles.

    Parameters
    ----------
    root : str
        A folder with a ``path,label`` CSV (``labels``), one sub-folder per
        class, or the ComParE 2019 Orca Activity layout (``wav/``, ``lab/``).
    labels : str, default=None
        CSV file name relative to ``root`` (default ``labels.csv`` when it
        exists).
    dev_split : str, default=None
        Column of the CSV giving each clip's role: ``train``, ``devel`` (or
        ``dev``) or ``test``. The ComParE layout always has roles.
    positive : str, default=None
        Make the task binary: this label against all the others.
    groups : str, default=None
        Column of the CSV tying clips together (speaker, recording); clips of
        one group never end up on both sides of a split.

    Returns
    -------
    data : dict
        ``filenames`` (absolute paths), ``y`` (str labels), ``groups`` (or
        None), ``roles`` (or None), ``classes``, ``positive``, ``source``.
    """
    from ..datasets import load_audio_folder, load_compare_orca

    if not os.path.isdir(root):
        raise CommandError(f"DATA_DIR {root!r} is not a folder.")
    roles = group_values = None
    if labels is None and _is_compare_orca(root):
        parts = {}
        for subset in SUBSETS:
            try:
                parts[subset] = load_compare_orca(root, subset=subset)
            except (FileNotFoundError, ValueError) as exc:
                raise CommandError(
                    f"{root!r} looks like the ComParE Orca layout but its "
                    f"{subset!r} subset cannot be read: {exc}") from exc
        if (np.asarray(parts["test"].target) < 0).any():
            # The challenge kept its test labels: the labelled devel part
            # becomes the test part and a development part comes out of train.
            train = parts["train"]
            index = np.arange(len(train.filenames))
            from ._splits import fit_dev_split

            fit, dev = fit_dev_split(index, np.asarray(train.target),
                                     np.asarray(train.groups), 0)
            train_roles = np.where(np.isin(index, dev), "devel", "train")
            used = [(train, train_roles), (parts["devel"], "test")]
            source = ("compare_orca (test labels unknown: devel used as test, "
                      "25% of train as development)")
        else:
            used = [(parts[s], s) for s in SUBSETS]
            source = "compare_orca"
        filenames = np.concatenate([b.filenames for b, _ in used])
        y = np.concatenate([np.asarray(b.target_names)[np.asarray(b.target)]
                            for b, _ in used]).astype(str)
        roles = np.concatenate([np.broadcast_to(r, len(b.filenames))
                                for b, r in used]).astype(str)
    else:
        csv_name = labels or "labels.csv"
        csv_path = os.path.join(root, csv_name)
        if labels is not None and not os.path.isfile(csv_path):
            raise CommandError(f"label file {csv_path!r} does not exist.")
        try:
            bunch = load_audio_folder(root, labels=csv_name)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(f"cannot read the labels of {root!r}: {exc}") from exc
        filenames = np.asarray(bunch.filenames)
        target = np.asarray(bunch.target)
        y = (np.asarray(bunch.target_names)[target]
             if np.issubdtype(target.dtype, np.integer) else target).astype(str)
        group_values = getattr(bunch, "groups", None)
        source = csv_path if os.path.isfile(csv_path) else "class folders"
        if (dev_split or groups) and os.path.isfile(csv_path):
            from ..datasets._base import _check_filled, _read_csv

            # the reader load_audio_folder used: same rows, same cleaning
            rows = _read_csv(csv_path, ())
            columns = [c for c in (dev_split, groups) if c]
            for column in columns:
                if column not in rows[0][1]:
                    raise CommandError(
                        f"{csv_path!r} has no column {column!r}; its columns "
                        f"are {list(rows[0][1])}.")
            try:
                _check_filled(csv_path, rows, columns)
            except ValueError as exc:
                raise CommandError(f"--dev-split / --groups: {exc}") from exc
            if len(rows) != len(filenames):
                raise CommandError(
                    f"{csv_path!r} has {len(rows)} rows but {len(filenames)} "
                    "clips were loaded from it.")
            if dev_split:
                aliases = {"dev": "devel", "development": "devel"}
                roles = np.asarray([aliases.get(v, v) for v in
                                    (row[dev_split].lower() for _, row in rows)])
                unknown = sorted(set(roles) - set(SUBSETS))
                if unknown:
                    raise CommandError(
                        f"column {dev_split!r} of {csv_path!r} holds {unknown}; "
                        "each clip's role must be train, devel or test.")
            if groups:
                group_values = np.asarray([row[groups] for _, row in rows])
        elif dev_split or groups:
            raise CommandError(
                "--dev-split and --groups name columns of a label CSV, but "
                f"{root!r} has none ({csv_name}).")
    if group_values is not None:
        group_values = np.asarray(group_values)
    if positive is not None:
        if positive not in set(y):
            raise CommandError(
                f"--positive {positive!r} is not a label of this data; labels: "
                f"{sorted(set(y))}.")
        y = np.where(y == positive, positive, "rest")
    return {
        "filenames": np.asarray([os.path.abspath(f) for f in filenames]),
        "y": y,
        "groups": group_values,
        "roles": roles,
        "classes": sorted(set(y)),
        "positive": positive,
        "source": source,
    }


# fit_dev_split's development part is one of 4 stratified folds (25%)
DEV_FOLDS = 4


def check_dataset(data, *, n_folds, n_jobs=None):
    """Refuse data the experiment cannot use, naming the problem and the fix.

    Decodes every file once as :class:`~sklearn_rbfm.AudioLoader` will (a
    missing, empty, truncated or non-finite file is named here, not later),
    and checks that there are exactly two classes and that each class (and
    group) can fill every role, or every outer fold together with its inner
    fit/development split.

    Returns
    -------
    durations : ndarray of float
        Length in seconds of each file.
    """
    from ..datasets._checks import check_audio_files, check_nested_cv

    try:
        durations = check_audio_files(data["filenames"], n_jobs=n_jobs)
    except FileNotFoundError as exc:
        raise CommandError(
            f"{exc} The paths are relative to DATA_DIR.") from exc
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    classes = np.unique(data["y"])
    if len(classes) < 2:
        raise CommandError(
            f"the labels hold a single class ({classes.tolist()}); the "
            "experiment needs two (use --positive LABEL for one label against "
            "the rest).")
    if len(classes) > 2:
        raise CommandError(
            f"the labels hold {len(classes)} classes ({classes.tolist()[:10]}); "
            "the experiment is a binary detection task: choose the positive "
            "class with --positive LABEL.")
    if data["roles"] is not None:
        for role in SUBSETS:
            in_role = data["y"][data["roles"] == role]
            if len(set(in_role)) < 2:
                raise CommandError(
                    f"the {role!r} part has {len(in_role)} clips and classes "
                    f"{sorted(set(in_role))}; every part needs both classes.")
    else:
        try:
            check_nested_cv(data["y"], data["groups"], n_folds=n_folds,
                            inner_folds=DEV_FOLDS)
        except ValueError as exc:
            raise CommandError(
                f"--cv {n_folds}: {exc} Lower --cv or add data.") from exc
    return durations
