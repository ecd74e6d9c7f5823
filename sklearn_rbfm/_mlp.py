"""The paper's base model: a dense network on feature vectors, as a classifier."""

from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._keras import (
    KerasPickleMixin,
    encode_targets,
    import_tensorflow,
    seed_from,
    seeded,
    train_classifier,
)
from .utils._validation import check_numeric


_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
}


class KerasMLPClassifier(KerasPickleMixin, ClassifierMixin, BaseEstimator):
    """Dense ReLU network with a softmax output, trained with a class-weighted loss.

    The base model of Relevance-based Feature Masking: one hidden layer of 256
    ReLU units by default, Adam, sparse categorical cross-entropy weighted by
    class frequency (the orca training data are imbalanced). The Keras model
    is built with explicitly named layers (``input``, ``hidden_1``, ...,
    ``output``) and without batch normalisation, so that relevance analyzers
    such as deep Taylor decomposition can explain it
    (:class:`~sklearn_rbfm.RelevanceMasker`).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256,)
        Units of each hidden ReLU layer.

    activation : {"relu", "tanh", "elu"}, default="relu"
        Activation of the hidden layers. Deep Taylor decomposition requires
        ``"relu"``.

    epochs : int, default=50
        Maximum number of passes over the training data.

    batch_size : int, default=64
        Mini-batch size for training and prediction.

    learning_rate : float, default=1e-3
        Adam's learning rate.

    alpha : float, default=0.0
        Strength of the L2 penalty on the dense layers' kernels (weight
        decay), as in :class:`~sklearn.neural_network.MLPClassifier`. It
        changes neither the architecture nor what the relevance engine
        explains.

    wide : bool, default=False
        Also connect the input directly to the output layer (a "wide and
        deep" network, Cheng et al., 2016): the logits are a linear model
        of the input plus the contribution of the last hidden layer. The
        output layer then reads the concatenation (layer ``wide``) of the
        last hidden layer and the input, which the relevance engine
        explains like any other Dense layer. On small data the linear path
        keeps the network at least as good as a regularised logistic
        regression (see :func:`~sklearn_rbfm._rbfm.default_base_estimator`).

    class_weight : "balanced", dict or None, default="balanced"
        Loss weight per class. ``"balanced"`` weights classes inversely to
        their frequency; a dict maps class labels to weights.

    validation_fraction : float, default=0.1
        Fraction of the training data held out (stratified) for early
        stopping. Only used when ``early_stopping=True``.

    early_stopping : bool, default=True
        Stop when the validation loss has not improved for 5 epochs and
        restore the best weights.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split. Pass
        an int for repeatable results.

    verbose : int, default=0
        Keras' training verbosity.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    model_ : tf.keras.Model
        The fitted network (softmax output).

    history_ : dict
        Per-epoch training metrics (``loss``, and ``val_loss`` with early
        stopping).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The same idea without Keras.
    RelevanceMasker : Masks features by the relevance of this model's decisions.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_rbfm import KerasMLPClassifier
    >>> X, y = make_classification(n_samples=200, n_features=8, random_state=0)
    >>> clf = KerasMLPClassifier(hidden_layer_sizes=(16,), epochs=20,
    ...                          learning_rate=0.02, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"relu", "tanh", "elu"})],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "wide": ["boolean"],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256,),
        activation="relu",
        *,
        epochs=50,
        batch_size=64,
        learning_rate=1e-3,
        alpha=0.0,
        wide=False,
        class_weight="balanced",
        validation_fraction=0.1,
        early_stopping=True,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.wide = wide
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Build and train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.

        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : KerasMLPClassifier
            The fitted classifier.
        """
        X, y = validate_data(self, check_numeric(X), y, dtype=np.float32)
        check_classification_targets(y)
        sizes = [int(s) for s in np.atleast_1d(self.hidden_layer_sizes)]
        if not sizes or min(sizes) < 1:
            raise ValueError(
                "hidden_layer_sizes must list at least one positive layer size, "
                f"got {self.hidden_layer_sizes!r}."
            )
        self.classes_, y_encoded, class_weight = encode_targets(y, self.class_weight)
        seed = seed_from(self.random_state)
        with seeded(seed):
            self.model_ = self._build(X.shape[1], len(self.classes_), sizes)
            self.history_ = train_classifier(
                self.model_,
                X,
                y_encoded,
                n_classes=len(self.classes_),
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                class_weight=class_weight,
                validation_fraction=self.validation_fraction,
                early_stopping=self.early_stopping,
                seed=seed,
                verbose=self.verbose,
            )
        return self

    def _build(self, n_features, n_classes, sizes):
        tf = import_tensorflow()
        inputs = tf.keras.Input(shape=(n_features,), name="input")
        penalty = tf.keras.regularizers.L2(self.alpha) if self.alpha > 0 else None
        x = inputs
        for i, units in enumerate(sizes, start=1):
            x = tf.keras.layers.Dense(
                units,
                activation=self.activation,
                kernel_regularizer=penalty,
                name=f"hidden_{i}",
            )(x)
        if self.wide:
            x = tf.keras.layers.Concatenate(name="wide")([x, inputs])
        outputs = tf.keras.layers.Dense(
            n_classes, activation="softmax", kernel_regularizer=penalty, name="output"
        )(x)
        return tf.keras.Model(inputs, outputs, name="mlp")

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, check_numeric(X), dtype=np.float32, reset=False)
        # A float64 NumPy pass over the network's weights: each row's scores
        # do not depend on the batch it came in, and probabilities and
        # decision values come from the same numbers.
        inputs = X.astype(np.float64)
        hidden = inputs
        for layer in self.model_.layers:
            if layer.name == "wide":
                hidden = np.hstack([hidden, inputs])
            weights = layer.get_weights()
            if not weights:
                continue
            kernel, bias = (w.astype(np.float64) for w in weights)
            hidden = hidden @ kernel + bias
            if layer.name != "output":
                hidden = _ACTIVATIONS[self.activation](hidden)
        return hidden

    def decision_function(self, X):
        """Pre-softmax scores (logits) of the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input features.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the log-odds of ``classes_[1]``; otherwise one
            logit per class.
        """
        logits = self._logits(X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class in ``classes_`` order.
        """
        return softmax(self._logits(X), axis=1)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]
