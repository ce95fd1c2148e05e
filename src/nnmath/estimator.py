"""scikit-learn estimators around :class:`~nnmath.network.Network`.

``NNMathClassifier`` and ``NNMathRegressor`` follow scikit-learn's conventions (parameters
stored as given in ``__init__``, checked in ``fit``; learned attributes end in ``_``) and
pass ``sklearn.utils.estimator_checks.check_estimator``, so they work inside ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``.

Defaults
--------
Classifier: sigmoid hidden layers (one of 30 units), a **softmax output with the
log-likelihood cost** (so ``predict_proba`` is a probability distribution and
δ^L = a − y), weights N(0, 1/n_in) (``"scaled_normal"``), SGD with η = 0.5, mini-batches
of 10, 30 epochs — Nielsen's chapter-3 setting with a softmax output.
Regressor: the same hidden layers, an **identity output with the quadratic cost**
(C = ½‖a − y‖²), η = 0.1 (a linear output has no σ' ≤ 1/4 to damp the steps).

``loss_curve_`` is the mean training cost after each epoch (without the L2 term);
``validation_scores_`` holds the held-out accuracy (classifier) or R² (regressor) per epoch
when ``early_stopping=True``, else it is ``None``.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._registry import default_cost
from .network import Network
from .optim import default_eta, get_optimizer
from .train import fit as train_fit

__all__ = ["NNMathClassifier", "NNMathRegressor"]


class _NNMathBase(BaseEstimator):
    """Shared parameters and the training loop of both estimators."""

    _default_output = "identity"
    #: η of SGD when ``eta`` is None (other optimizers: their own ``default_eta``)
    _sgd_eta = 0.5

    def __init__(
        self,
        hidden_layer_sizes: Any = (30,),
        activation: Any = "sigmoid",
        output_activation: str | None = None,
        cost: str | None = None,
        init: str = "scaled_normal",
        optimizer: str = "sgd",
        eta: float | None = None,
        lmbda: float = 0.0,
        momentum: float = 0.0,
        epochs: int = 30,
        batch_size: int = 10,
        early_stopping: bool = False,
        patience: int = 10,
        validation_fraction: float = 0.1,
        random_state: Any = None,
        dtype: str = "float32",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.cost = cost
        self.init = init
        self.optimizer = optimizer
        self.eta = eta
        self.lmbda = lmbda
        self.momentum = momentum
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.dtype = dtype

    # ------------------------------------------------------------------ building

    def _hidden(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, Integral):
            sizes = (sizes,)
        try:
            hidden = [int(s) for s in sizes]
        except (TypeError, ValueError):
            raise ValueError(
                f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}"
            ) from None
        if any(h <= 0 or h != s for h, s in zip(hidden, sizes)):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes!r}")
        return hidden

    def _output_and_cost(self) -> tuple[str, str]:
        out = (
            self.output_activation if self.output_activation is not None else (self._default_output)
        )
        cost = self.cost
        if cost is None:
            name = out if isinstance(out, str) else getattr(out, "name", "")
            cost = default_cost(name)
        return out, cost

    def _build(self, n_in: int, n_out: int, rng: np.random.Generator) -> Network:
        hidden = self._hidden()
        out, cost = self._output_and_cost()
        act = self.activation
        if isinstance(act, (list, tuple)):
            if len(act) != len(hidden):
                raise ValueError(
                    f"activation lists {len(act)} functions for {len(hidden)} hidden layers; "
                    "give one per hidden layer, or a single name"
                )
            activation: Any = list(act) + [out]
        else:
            activation = [act] * len(hidden) + [out]
        return Network(
            [n_in, *hidden, n_out],
            activation=activation,
            cost=cost,
            init=self.init,
            dtype=self.dtype,
            rng=rng,
        )

    def _check_hyper(self) -> None:
        if not (isinstance(self.epochs, Integral) and self.epochs >= 1):
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not (isinstance(self.batch_size, Integral) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if self.early_stopping:
            if not 0 < self.validation_fraction < 1:
                raise ValueError(
                    f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
                )
            if not (isinstance(self.patience, Integral) and self.patience >= 1):
                raise ValueError(f"patience must be a positive integer, got {self.patience!r}")

    def _eta(self) -> float:
        """``eta``, or when it is None the optimizer's own default (``_sgd_eta`` for SGD)."""
        if self.eta is not None:
            return float(self.eta)
        if isinstance(self.optimizer, str) and self.optimizer.lower() != "sgd":
            return default_eta(self.optimizer)
        return self._sgd_eta

    def _make_optimizer(self, n: int) -> Any:
        return get_optimizer(
            self.optimizer, eta=self._eta(), lmbda=self.lmbda, n=n, momentum=self.momentum
        )

    # ------------------------------------------------------------------ training

    def _train(self, X: np.ndarray, T: np.ndarray, y_split: Any) -> None:
        """:func:`nnmath.train.fit` on the fresh network (with a held-out split if asked)."""
        self._check_hyper()
        validation, patience, callbacks = None, None, []
        if self.early_stopping:
            X, Xv, T, Tv = train_test_split(
                X,
                T,
                test_size=self.validation_fraction,
                random_state=self._split_seed,
                stratify=y_split,
            )
            validation, patience = (Xv, Tv), self.patience
            self.validation_scores_ = []
            callbacks.append(self._score_callback(Xv, Tv))
        history = train_fit(
            self.network_,
            X,
            T,
            epochs=self.epochs,
            mini_batch_size=self.batch_size,
            optimizer=self._make_optimizer(X.shape[0]),  # it holds eta and lmbda
            validation_data=validation,
            rng=self._rng,
            patience=patience,
            callbacks=callbacks,
        )
        self.history_ = history
        self.loss_curve_ = list(history.training_cost)
        self.n_epochs_ = history.epochs
        self.best_epoch_ = history.best_epoch

    def _partial_train(self, X: np.ndarray, T: np.ndarray) -> None:
        """One epoch over ``X`` with the network, optimizer and generator kept across calls."""
        self._check_hyper()
        if getattr(self, "_optimizer", None) is None:
            self._optimizer = self._make_optimizer(X.shape[0])
        self._optimizer.n = X.shape[0]  # λ/n with n the size of this call's data
        # the optimizer holds η and λ: set_params between calls takes effect from the next one
        self._optimizer.eta, self._optimizer.lmbda = self._eta(), float(self.lmbda)
        history = train_fit(
            self.network_,
            X,
            T,
            epochs=1,
            mini_batch_size=self.batch_size,
            optimizer=self._optimizer,
            rng=self._rng,
        )
        self.loss_curve_.extend(history.training_cost)
        self.n_epochs_ += 1

    def _reset(self, n_in: int, n_out: int) -> None:
        """A fresh network and generators from ``random_state``; learned attributes cleared."""
        seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=3)
        self.network_ = self._build(n_in, n_out, np.random.default_rng(seeds[0]))
        self._rng = np.random.default_rng(seeds[1])  # shuffles the mini-batches
        self._split_seed = int(seeds[2])  # the early-stopping hold-out
        self._optimizer = None
        self.loss_curve_ = []
        self.validation_scores_ = None
        self.n_epochs_ = 0
        self.best_epoch_ = None

    def _score_callback(self, Xv: np.ndarray, Tv: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _outputs(self, X: Any) -> np.ndarray:
        """a^L for each row, evaluated in float64 from the network's weights.

        ``z^l = W^l a^{l−1} + b^l``, ``a^l = σ(z^l)`` as in ``Network.feedforward``, but in
        float64 even for a float32 network: float32 matrix products may differ in the last
        bit with the order and grouping of the rows (BLAS blocking), and scikit-learn
        requires predictions that do not depend on either. Shape (n_samples, n_outputs).
        """
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False)
        net = self.network_
        a = np.asarray(X, dtype=np.float64).T  # columns are examples inside
        for W, b, sigma in zip(net.weights, net.biases, net.activation_functions):
            a = sigma(W.astype(np.float64) @ a + b.astype(np.float64)[:, None])
        return a.T


class NNMathClassifier(ClassifierMixin, _NNMathBase):
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


class NNMathRegressor(RegressorMixin, _NNMathBase):
    """A feed-forward network regressor: identity output, quadratic cost C = ½‖a − y‖².

    Parameters are those of :class:`NNMathClassifier`, except that ``output_activation``
    defaults to ``"identity"`` (so ``cost`` to ``"quadratic"``) and SGD's ``eta`` to 0.1.
    ``y`` may have several columns (multi-output regression). Inputs and targets are used
    as given: scale them (``StandardScaler``, ``TransformedTargetRegressor``) for best
    results. ``validation_scores_`` holds the held-out R² per epoch; early stopping watches
    the held-out cost. Predictions are float64.
    """

    _sgd_eta = 0.1

    def __init__(
        self,
        hidden_layer_sizes: Any = (30,),
        activation: Any = "sigmoid",
        output_activation: str | None = None,
        cost: str | None = None,
        init: str = "scaled_normal",
        optimizer: str = "sgd",
        eta: float | None = None,
        lmbda: float = 0.0,
        momentum: float = 0.0,
        epochs: int = 30,
        batch_size: int = 10,
        early_stopping: bool = False,
        patience: int = 10,
        validation_fraction: float = 0.1,
        random_state: Any = None,
        dtype: str = "float32",
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            output_activation=output_activation,
            cost=cost,
            init=init,
            optimizer=optimizer,
            eta=eta,
            lmbda=lmbda,
            momentum=momentum,
            epochs=epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            patience=patience,
            validation_fraction=validation_fraction,
            random_state=random_state,
            dtype=dtype,
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return y[:, None] if y.ndim == 1 else y

    def fit(self, X: Any, y: Any) -> NNMathRegressor:
        """Train a fresh network on ``X`` (n_samples, n_features) and ``y`` (n_samples[, k])."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        T = self._targets(y)
        self._y_1d = y.ndim == 1
        self._reset(X.shape[1], T.shape[1])
        self._train(X, T, None)
        return self

    def partial_fit(self, X: Any, y: Any) -> NNMathRegressor:
        """One epoch of mini-batch training on ``X, y``, continuing from earlier calls."""
        first = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, reset=first)
        T = self._targets(y)
        if first:
            self._y_1d = y.ndim == 1
            self._reset(X.shape[1], T.shape[1])
        elif T.shape[1] != self.network_.n_outputs:
            raise ValueError(
                f"y has {T.shape[1]} targets, the network was built for {self.network_.n_outputs}"
            )
        self._partial_train(X, T)
        return self

    def _score_callback(self, Xv: np.ndarray, Tv: np.ndarray) -> Any:
        from sklearn.metrics import r2_score

        def record(net: Any, history: Any, epoch: int) -> None:
            self.validation_scores_.append(float(r2_score(Tv, net.feedforward(Xv))))

        return record

    def predict(self, X: Any) -> np.ndarray:
        """a^L for each row: shape (n_samples,) when fitted on 1-D y, else (n_samples, k)."""
        A = self._outputs(X)
        return A[:, 0] if self._y_1d else A
