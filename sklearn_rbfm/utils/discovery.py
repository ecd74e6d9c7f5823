"""Find every public estimator of the package (used by the common tests)."""

import importlib
import inspect

from sklearn.base import BaseEstimator

# Public modules whose ``__all__`` may hold estimators besides the top level.
_PUBLIC_MODULES = ("sklearn_rbfm", "sklearn_rbfm.explain")


def all_estimators(type_filter=None):
    """Return every public estimator class of sklearn_rbfm.

    Parameters
    ----------
    type_filter : {"classifier", "transformer"} or None, default=None
        Keep only classifiers or only transformers. ``None`` keeps all.

    Returns
    -------
    estimators : list of (str, type)
        Sorted ``(name, class)`` pairs.

    Examples
    --------
    >>> from sklearn_rbfm.utils import all_estimators
    >>> names = [name for name, _ in all_estimators()]
    >>> "RelevanceMasker" in names
    True
    """
    from sklearn.base import ClassifierMixin, TransformerMixin

    found = {}
    for module_name in _PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and hasattr(obj, "fit")
                and not inspect.isabstract(obj)
                and not name.startswith("_")
            ):
                found[name] = obj
    mixins = {"classifier": ClassifierMixin, "transformer": TransformerMixin}
    if type_filter is not None:
        if type_filter not in mixins:
            raise ValueError(
                f"type_filter must be one of {sorted(mixins)} or None, got {type_filter!r}"
            )
        found = {k: v for k, v in found.items() if issubclass(v, mixins[type_filter])}
    return sorted(found.items())
