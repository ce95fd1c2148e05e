"""The classifier: a softmax output with the log-likelihood cost by default."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._base import NNMathBase

__all__ = ["NNMathClassifier"]


class NNMathClassifier(ClassifierMixin, NNMathBase):
    """A feed-forward network classifier trained by backpropagation (nnmath's Network).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (30,)
        Units of each hidden layer; ``()`` gives multinomial logistic regression.
    activation : str or list of str, default "sigmoid"
        σ of the hidden layers: one name of :data:`nnmath.ACTIVATIONS` for all, or one per
        hidden layer.
    output_activation : str, default None
        σ of the output layer; None means ``"softmax"`` (one unit per class).
    cost : str, default None
        A name of :data:`nnmath.COSTS`. None picks the cost whose shortcut δ^L = a − y belongs
        to the output (each cost's ``fused_activation``): ``log_likelihood`` after softmax,
        ``cross_entropy`` after sigmoid, else ``quadratic``.
    init : str, default "scaled_normal"
        Weight initialisation, a name of :data:`nnmath.INITS`.
    optimizer : str, default "sgd"
        A name of :data:`nnmath.OPTIMIZERS`.
    eta : float, default None
        Learning rate η; None: 0.5 for ``"sgd"``, the optimizer's own default otherwise
        (1e-3 for ``"adam"`` and ``"rmsprop"``, as Keras and PyTorch).
    lmbda : float, default 0.0
        L2 regularisation λ (weight decay 1 − ηλ/n).
    momentum : float, default 0.0
        SGD momentum μ.
    epochs : int, default 30
    batch_size : int, default 10
        Mini-batch size.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data (stratified), stop after ``patience``
        epochs without a better held-out accuracy and keep the best epoch's weights.
    patience : int, default 10
    validation_fraction : float, default 0.1
    random_state : int, RandomState or None
        Seeds the initial weights, the shuffling and the held-out split.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the network; ``predict_proba`` always returns float64.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    n_features_in_ : int
    network_ : Network
        Sizes ``[n_features, *hidden_layer_sizes, n_classes]``.
    loss_curve_ : list of float
        Mean training cost after each epoch.
    validation_scores_ : list of float or None
        Held-out accuracy after each epoch (with ``early_stopping``).
    history_ : History
        The full record of the last ``fit``.
    """

    _default_output = "softmax"

    def fit(self, X: Any, y: Any) -> NNMathClassifier:
        """Train a fresh network on ``X`` (n_samples, n_features) and labels ``y``."""
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y, got 1 class "
                f"({self.classes_[0]!r})"
            )
        self._reset(X.shape[1], len(self.classes_))
        self._train(X, y_idx, y_idx if self.early_stopping else None)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NNMathClassifier:
        """One epoch of mini-batch training on ``X, y``, continuing from earlier calls.

        Parameters
        ----------
        classes : array-like, required on the first call
            Every class that will ever appear in ``y``.
        """
        first = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit (every label "
                    "that y will ever hold)"
                )
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes, got 1 class")
            self._reset(X.shape[1], len(self.classes_))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes {np.unique(classes)!r} differ from those of the first call "
                f"{self.classes_!r}"
            )
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds labels {unknown!r} that are not in classes {self.classes_!r}"
            )
        self._partial_train(X, np.searchsorted(self.classes_, y))
        return self

    def _score_callback(self, Xv: np.ndarray, Tv: np.ndarray) -> Any:
        def record(net: Any, history: Any, epoch: int) -> None:
            self.validation_scores_.append(history.validation_accuracy[-1])

        return record

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns ordered as ``classes_``.

        The softmax output a^L (renormalised in float64); for another output σ the outputs
        are clipped at 0 and divided by their sum.
        """
        A = np.clip(self._outputs(X), 0.0, None)
        total = A.sum(axis=1, keepdims=True)
        A = np.divide(A, total, out=np.full_like(A, 1.0 / A.shape[1]), where=total > 0)
        return A

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The class with the largest output a^L_j for each row."""
        A = self._outputs(X)
        return self.classes_[np.argmax(A, axis=1)]
