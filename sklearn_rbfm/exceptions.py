"""Warnings the package raises, to filter with :mod:`warnings`."""

__all__ = ["FineTuningWarning"]


class FineTuningWarning(UserWarning):
    """Fine-tuning a network ended at chance level.

    Raised by :meth:`CNNEmbedder.fit <sklearn_rbfm.CNNEmbedder.fit>` when
    the training loss never went clearly below the loss of guessing the
    class frequencies, in any of its attempts: the embedding is then close to
    the untrained network's. Its ``history_`` shows the losses per epoch.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_rbfm.exceptions import FineTuningWarning
    >>> warnings.simplefilter("error", FineTuningWarning)  # make it an error
    >>> warnings.resetwarnings()
    """
