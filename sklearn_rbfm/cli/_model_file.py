"""Model files: kept for imports of ``cli._model_file``; the code is :mod:`sklearn_rbfm.persistence`."""

from ..persistence import FORMAT, FORMAT_VERSION, ModelVersionWarning, load_model, save_model

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelVersionWarning", "load_model", "save_model"]
