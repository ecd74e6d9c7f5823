"""Warnings the package raises, to filter with :mod:`warnings`."""

__all__ = ["ChanceLevelWarning", "FineTuningWarning"]


class ChanceLevelWarning(UserWarning):
    """Training a network ended at chance level.

    Raised by :meth:`KerasCNNClassifier.fit
    <sklearn_rbfm.KerasCNNClassifier.fit>` when the training loss of a
    network never went clearly below the loss of guessing the class
    frequencies, after restarts from new weights: the classifier then
    predicts about as well as a guess. :class:`FineTuningWarning`, the
    embedders' warning, is a subclass, so that one filter on this class
    covers both.

    Examples
    --------
    Constant clips hold nothing to learn. Two epochs are too few to start
    again, so the one attempt ends at chance level and ``fit`` warns:

    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_rbfm import KerasCNNClassifier
    >>> from sklearn_rbfm.exceptions import ChanceLevelWarning
    >>> clf = KerasCNNClassifier(width=0.05, epochs=2, augment=False, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", ChanceLevelWarning)
    ...     clf = clf.fit(np.ones((8, 64)), [0, 1] * 4)
    >>> [w.category.__name__ for w in caught if issubclass(w.category, ChanceLevelWarning)]
    ['ChanceLevelWarning']
    >>> clf.n_attempts_
    array([1])
    """


class FineTuningWarning(ChanceLevelWarning):
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
