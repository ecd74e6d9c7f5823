"""Model files for ``rbfm detect``: a fitted pipeline plus what it needs to run.

A model file is a :func:`joblib.dump` of a plain dictionary. The pipeline
itself is stored as pickled bytes inside it, so that the recorded versions can
be compared with the installed ones *before* anything version-sensitive is
unpickled: a file saved under other versions then fails (or warns) with a
message naming the versions that differ, instead of an obscure unpickling
error or, worse, silently different predictions.
"""

import datetime
import pickle
import warnings

import joblib
import numpy as np

from ._common import CommandError, installed_versions

FORMAT = "sklearn_rbfm.detector"
FORMAT_VERSION = 1

# A difference in these distributions' major.minor version can change what a
# pickled estimator does; patch releases are assumed compatible.
CHECKED = ("sklearn_rbfm", "scikit-learn", "numpy", "tensorflow", "keras",
           "librosa", "scipy")


class ModelVersionWarning(UserWarning):
    """A model file was saved under other versions of its dependencies."""


def _minor(version):
    return tuple(version.split(".")[:2]) if version else None


def save_model(pipeline, path, *, sr, window, positive_class=None,
               description=None):
    """Save a fitted classifier for :command:`rbfm detect`.

    Parameters
    ----------
    pipeline : estimator
        A fitted classifier with ``predict_proba`` and ``classes_`` whose input
        is a batch of raw mono waveforms, shape ``(n_windows, round(sr *
        window))``, float32 at ``sr`` Hz, e.g. a
        :class:`~sklearn.pipeline.Pipeline` starting with a
        :class:`~sklearn_rbfm.SpectrogramTransformer`, or with a
        :class:`~sklearn_rbfm.CNNEmbedder` of a waveform architecture.
    path : str or path-like
        Where to write the file (``.joblib`` by convention).
    sr : float
        Sampling rate the pipeline expects; recordings are resampled to it.
    window : float
        Length in seconds of the windows the pipeline scores.
    positive_class : object, default=None
        The class whose probability is the detection score; by default the
        last of ``pipeline.classes_`` (the positive class of a binary task).
    description : str, default=None
        Free text stored with the model (task, training data...).

    Returns
    -------
    header : dict
        Everything stored besides the pipeline: format, sampling rate,
        window, positive class, classes, versions, date.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_rbfm.cli import save_model, load_model
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(20, 800)).astype("float32")
    >>> clf = LogisticRegression().fit(X, [0, 1] * 10)
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.joblib")
    >>> header = save_model(clf, path, sr=8000, window=0.1)
    >>> model, header = load_model(path)
    >>> header["window"], header["positive_class"]
    (0.1, 1)
    """
    classes = getattr(pipeline, "classes_", None)
    if classes is None or not hasattr(pipeline, "predict_proba"):
        raise ValueError(
            "rbfm detect needs a fitted classifier with predict_proba and "
            f"classes_; got {type(pipeline).__name__}. Fit it first."
        )
    classes = np.asarray(classes)
    if positive_class is None:
        positive_class = classes[-1]
    if positive_class not in classes:
        raise ValueError(
            f"positive_class={positive_class!r} is not one of the model's "
            f"classes {classes.tolist()}."
        )
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sr": float(sr),
        "window": float(window),
        "positive_class": positive_class.item()
        if hasattr(positive_class, "item") else positive_class,
        "classes": classes.tolist(),
        "description": description,
        "versions": installed_versions(),
        "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
    }
    payload = dict(header, pipeline=pickle.dumps(pipeline, protocol=5))
    joblib.dump(payload, path)
    return header


def _version_differences(saved):
    running = installed_versions()
    return [
        f"{name} {saved.get(name)} (saved) vs {running.get(name)} (installed)"
        for name in CHECKED
        if saved.get(name) and _minor(saved.get(name)) != _minor(running.get(name))
    ]


def load_model(path, *, strict=False):
    """Load a model file written by :func:`save_model`.

    The versions recorded in the file are compared with the installed ones
    first. A different major or minor version of ``sklearn_rbfm``,
    scikit-learn, NumPy, SciPy, TensorFlow, Keras or librosa gives a
    :class:`ModelVersionWarning` naming each of them (an error with
    ``strict=True``); if the model then cannot be unpickled, the error names
    them too, with the versions to install.

    Parameters
    ----------
    path : str or path-like
        The model file.
    strict : bool, default=False
        Refuse a file saved under other versions instead of warning.

    Returns
    -------
    pipeline : estimator
        The fitted classifier.
    header : dict
        Sampling rate (``sr``), ``window``, ``positive_class``, ``classes``,
        ``versions``, ``saved`` date and ``description``.
    """
    try:
        payload = joblib.load(path)
    except FileNotFoundError:
        raise CommandError(f"model file {str(path)!r} does not exist.") from None
    except Exception as exc:
        raise CommandError(
            f"{str(path)!r} is not a model file readable by joblib ({exc})."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CommandError(
            f"{str(path)!r} is not an rbfm model file; write one with "
            "sklearn_rbfm.cli.save_model or 'rbfm experiment --save-model'."
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CommandError(
            f"{str(path)!r} uses model file format {payload['format_version']}, "
            f"newer than this sklearn_rbfm understands ({FORMAT_VERSION}); "
            f"upgrade sklearn_rbfm to {payload['versions'].get('sklearn_rbfm')}."
        )
    header = {k: v for k, v in payload.items() if k != "pipeline"}
    differences = _version_differences(header["versions"])
    if differences:
        message = (
            f"{str(path)!r} was saved under other versions: "
            + "; ".join(differences)
            + ". Predictions may differ; install the saved versions to be sure."
        )
        if strict:
            raise CommandError(message)
        warnings.warn(message, ModelVersionWarning, stacklevel=2)
    try:
        pipeline = pickle.loads(payload["pipeline"])
    except Exception as exc:
        detail = "; ".join(differences) or "no recorded version differs"
        raise CommandError(
            f"could not load the model in {str(path)!r} ({type(exc).__name__}: "
            f"{exc}). Versions: {detail}."
        ) from exc
    return pipeline, header
