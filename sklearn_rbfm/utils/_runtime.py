"""A per-estimator slot for live objects that cannot be pickled (interpreters, functions)."""


class RuntimeSlot:
    """Hold one live object of an estimator, rebuilt when its key changes.

    Created in ``fit`` and filled on first use, so that ``transform`` changes
    no attribute of the estimator (the slot stays the same object). Pickling
    and deep copies carry the slot empty: the object is rebuilt on first
    use, after unpickling or in the copy.

    Examples
    --------
    >>> import pickle
    >>> from sklearn_rbfm.utils._runtime import RuntimeSlot
    >>> slot = RuntimeSlot()
    >>> slot.get(("batch", 4), lambda: [0] * 4)
    [0, 0, 0, 0]
    >>> pickle.loads(pickle.dumps(slot)).value is None
    True
    """

    def __init__(self):
        self.key = None
        self.value = None

    def get(self, key, make):
        """The held object if it was made for ``key``, else ``make()``, now held."""
        if self.value is None or self.key != key:
            self.value = make()
            self.key = key
        return self.value

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.key = None
        self.value = None

    def __deepcopy__(self, memo):
        return RuntimeSlot()
