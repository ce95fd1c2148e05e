"""The parameters, the network and the training loop both estimators share."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._registry import default_cost
from ..network import Network
from ..optim import default_eta, get_optimizer
from ..train import fit as train_fit

__all__ = ["NNMathBase"]


class NNMathBase(BaseEstimator):
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
