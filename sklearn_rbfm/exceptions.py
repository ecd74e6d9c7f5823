"""Warnings the package raises, to filter with :mod:`warnings`."""

__all__ = ["FineTuningWarning"]


class FineTuningWarning(UserWarning):
    """Fine-tuning a network ended at chance level.

    Raised by :meth:`CNNEmbedder.fit <sklearn_rbfm.CNNEmbedder.fit>` when
    the training loss never went clearly below the loss of guessing the
    class frequencies, in any of its attempts: the embedding is then close to
    the untrained network's. Its ``history_`` holds the losses per epoch.

    Examples
    --------
    Constant spectrograms hold nothing to learn; make the warning an error:

    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_rbfm import CNNEmbedder
    >>> from sklearn_rbfm.exceptions import FineTuningWarning
    >>> S = np.ones((8, 8, 10), dtype=np.float32)
    >>> emb = CNNEmbedder("small_cnn", fine_tune="all", epochs=1, random_state=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", FineTuningWarning)
    ...     try:
    ...         emb.fit(S, [0, 1] * 4)
    ...     except FineTuningWarning as exc:
    ...         print(str(exc)[:58])
    CNNEmbedder(architecture='small_cnn', fine_tune='all') fin
    """
