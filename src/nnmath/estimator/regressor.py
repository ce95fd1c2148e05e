"""The regressor: an identity output with the quadratic cost, on standardised targets."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import validate_data

from ._base import NNMathBase

__all__ = ["NNMathRegressor"]

_SCALE_CHOICES = ("auto", True, False)


class NNMathRegressor(RegressorMixin, NNMathBase):
    """A feed-forward network regressor: identity output, quadratic cost C = ½‖a − y‖².

    Parameters are those of :class:`NNMathClassifier`, except that ``output_activation``
    defaults to ``"identity"`` (so ``cost`` to ``"quadratic"``) and SGD's ``eta`` to 0.1, and:

    scale_targets : {"auto", True, False}, default "auto"
        Train on standardised targets, ``(y − mean) / std`` per column (a constant column:
        minus its mean), and fold the scaling into the output layer afterwards
        (``W^L ← s W^L``, ``b^L ← s b^L + m``), so ``network_`` and ``predict`` give ``y``
        in its own units. A step of η then has the same size whatever the units of ``y``:
        targets in the hundreds made SGD's η = 0.1 diverge. ``"auto"``: with the identity
        output only (a bounded σ, such as the sigmoid, needs targets inside its range, so
        they are used as given); ``True`` with another output is refused. ``partial_fit``
        takes the mean and std of its first call's ``y``.

    ``y`` may have several columns (multi-output regression). Inputs are used as given:
    scale them (``StandardScaler``) for best results. ``validation_scores_`` holds the
    held-out R² per epoch; early stopping watches the held-out cost. ``loss_curve_`` is the
    cost on the targets the network trained on (standardised ones when scaled).
    Predictions are float64.

    Attributes
    ----------
    y_mean_, y_scale_ : ndarray (n_outputs,) or None
        The mean and the scale the targets were standardised with; None when used as given.
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
        scale_targets: Any = "auto",
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
        self.scale_targets = scale_targets

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return y[:, None] if y.ndim == 1 else y

    def _scaled(self) -> bool:
        """Whether the targets are standardised (``scale_targets`` checked against the output)."""
        choice = self.scale_targets
        if not any(choice is c or (isinstance(c, str) and choice == c) for c in _SCALE_CHOICES):
            raise ValueError(f"scale_targets must be 'auto', True or False, got {choice!r}")
        out, _ = self._output_and_cost()
        name = out if isinstance(out, str) else getattr(out, "name", "")
        identity = str(name).lower() == "identity"
        if choice is True and not identity:
            raise ValueError(
                f"scale_targets=True needs the identity output (got {name!r}): standardised "
                "targets leave the range of a bounded σ; use scale_targets=False"
            )
        return identity and choice is not False

    def _set_scaling(self, T: np.ndarray) -> None:
        """``y_mean_`` and ``y_scale_`` from ``T`` (None, None when the targets are as given)."""
        peak = np.abs(T).max(axis=0) if T.size else np.zeros(T.shape[1])
        top = float(np.finfo(np.dtype(self.dtype)).max) * 1e-6
        if peak.size and peak.max() > top:
            raise ValueError(
                f"y holds values up to {peak.max():.3g}, more than a {self.dtype} network "
                f"can output with room to spare ({top:.3g}); rescale y or use dtype='float64'"
            )
        if not self._scaled():
            self.y_mean_, self.y_scale_ = None, None
            return
        peak = np.where(peak > 0, peak, 1.0)
        unit = T / peak  # within [-1, 1]: the mean and std of huge targets cannot overflow
        std = unit.std(axis=0) * peak
        self.y_mean_ = unit.mean(axis=0) * peak
        self.y_scale_ = np.where(std > 0, std, 1.0)

    def _standardise(self, T: np.ndarray) -> np.ndarray:
        return T if self.y_mean_ is None else (T - self.y_mean_) / self.y_scale_

    def _fold(self, into_units: bool) -> None:
        """Fold the target scaling into the output layer (``into_units``) or take it out.

        With the identity output a^L = W^L a^{L−1} + b^L, so s a^L + m is the same layer
        with ``s W^L`` and ``s b^L + m``: ``network_`` predicts ``y`` in its own units.
        """
        if self.y_mean_ is None:
            return
        W, b = self.network_.weights[-1], self.network_.biases[-1]
        s, m = self.y_scale_, self.y_mean_
        if into_units:
            W *= s[:, None]
            b[...] = b * s + m
        else:
            W /= s[:, None]
            b[...] = (b - m) / s

    def fit(self, X: Any, y: Any) -> NNMathRegressor:
        """Train a fresh network on ``X`` (n_samples, n_features) and ``y`` (n_samples[, k])."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        T = self._targets(y)
        self._y_1d = y.ndim == 1
        self._set_scaling(T)
        self._reset(X.shape[1], T.shape[1])
        try:
            self._train(X, self._standardise(T), None)
        finally:  # a diverged run keeps its last finite weights: those in y's units too
            self._fold(into_units=True)
        return self

    def partial_fit(self, X: Any, y: Any) -> NNMathRegressor:
        """One epoch of mini-batch training on ``X, y``, continuing from earlier calls."""
        first = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, reset=first)
        T = self._targets(y)
        if first:
            self._y_1d = y.ndim == 1
            self._set_scaling(T)
            self._reset(X.shape[1], T.shape[1])
        elif T.shape[1] != self.network_.n_outputs:
            raise ValueError(
                f"y has {T.shape[1]} targets, the network was built for {self.network_.n_outputs}"
            )
        self._fold(into_units=False)
        try:
            self._partial_train(X, self._standardise(T))
        finally:
            self._fold(into_units=True)
        return self

    def _score_callback(self, Xv: np.ndarray, Tv: np.ndarray) -> Any:
        from sklearn.metrics import r2_score

        def record(net: Any, history: Any, epoch: int) -> None:
            # R² of each column is the same on standardised targets as in y's units
            self.validation_scores_.append(float(r2_score(Tv, net.feedforward(Xv))))

        return record

    def predict(self, X: Any) -> np.ndarray:
        """a^L for each row: shape (n_samples,) when fitted on 1-D y, else (n_samples, k)."""
        A = self._outputs(X)
        return A[:, 0] if self._y_1d else A
