"""What the book's two ``Network`` classes share, on nnmath's engine.

Each book network holds an :class:`nnmath.network.Network` of sigmoid layers (the engine)
and shows its parameters the book's way: ``weights[i]`` of shape ``(sizes[i+1], sizes[i])``
and ``biases[i]`` a ``(sizes[i+1], 1)`` column, as lists. The columns are views of the
engine's own arrays, so the engine's updates are what the lists show; a list (or one of its
entries) set by the reader is copied into the engine before the next computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..network import Network as _Engine
from ..optim import SGD as _SGD
from ._data import Examples, as_list, stack

__all__ = ["BookNetwork"]


class BookNetwork:
    """The parameters, ``feedforward``, ``backprop`` and the training epoch of both networks.

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, input first (``[784, 30, 10]``).
    cost : {"quadratic", "cross_entropy"}
        The engine's cost (:mod:`nnmath.costs`).
    seed : int, optional
        Seed of ``rng`` (``numpy.random.default_rng(seed)``): the initial weights and each
        epoch's shuffle. ``None`` (default) draws fresh ones, as the book's global
        ``np.random`` and ``random`` do.
    rng : numpy.random.Generator, optional
        Use this generator instead of ``seed``.
    dtype : str
        ``"float64"`` (default, the book's NumPy arrays) or ``"float32"`` (faster).
    fast : bool
        Train on nnmath's compiled epoch where it is built; ``False`` takes its reference
        loop (the same numbers to rounding).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        cost: str,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        dtype: str = "float64",
        fast: bool = True,
    ) -> None:
        self._engine = _Engine(sizes, activation="sigmoid", cost=cost, dtype=dtype, seed=0)
        self.sizes = list(self._engine.sizes)
        self.num_layers = len(self.sizes)
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.fast = fast
        #: how the last ``SGD`` trained: ``"c"`` (the compiled epoch) or ``"reference"``
        self.train_path: str | None = None
        self._bias_views = [b[:, None] for b in self._engine.biases]  # writable views
        self._weights = list(self._engine.weights)
        self._biases = list(self._bias_views)

    def _draw_parameters(self, scaled: bool) -> None:
        """Biases from N(0, 1); weights from N(0, 1), or N(0, 1/n_in) when ``scaled`` (the
        book draws the biases first, one layer after another, then the weights)."""
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        self.biases = [self.rng.standard_normal((y, 1)) for _, y in pairs]
        root = [np.sqrt(x) if scaled else 1.0 for x, _ in pairs]  # divided, as the book does
        self.weights = [self.rng.standard_normal((y, x)) / r for (x, y), r in zip(pairs, root)]

    # ------------------------------------------------------------------ parameters

    @property
    def weights(self) -> list[np.ndarray]:
        """``weights[i]``: the book's ``w`` between layers i and i+1, ``(sizes[i+1], sizes[i])``."""
        return self._weights

    @weights.setter
    def weights(self, value: Sequence[Any]) -> None:
        before, self._weights = self._weights, list(value)
        try:
            self._sync()
        except (ValueError, TypeError):
            self._weights = before  # refused: the network keeps its weights
            raise

    @property
    def biases(self) -> list[np.ndarray]:
        """``biases[i]``: the book's ``b`` of layer i+1, a ``(sizes[i+1], 1)`` column."""
        return self._biases

    @biases.setter
    def biases(self, value: Sequence[Any]) -> None:
        before, self._biases = self._biases, list(value)
        try:
            self._sync()
        except (ValueError, TypeError):
            self._biases = before
            raise

    def _sync(self) -> None:
        """Copy any weight or bias the reader replaced into the engine's arrays, after
        checking them all (a ValueError naming the first bad one; nothing is copied then)."""
        engine, n_layers = self._engine, self.num_layers - 1
        for name, given in (("weights", self._weights), ("biases", self._biases)):
            if len(given) != n_layers:
                raise ValueError(
                    f"{name} has {len(given)} arrays; the network of sizes {self.sizes} has "
                    f"{n_layers}"
                )
        new = []  # (the engine's array, the checked value) for every replaced entry
        for i in range(n_layers):
            shape = (self.sizes[i + 1], self.sizes[i])
            if self._weights[i] is not engine.weights[i]:
                value = _checked(self._weights[i], shape, f"weights[{i}]")
                new.append((engine.weights[i], value))
            if self._biases[i] is not self._bias_views[i]:
                value = _checked(self._biases[i], (shape[0], 1), f"biases[{i}]").reshape(-1)
                new.append((engine.biases[i], value))
        for target, value in new:
            target[...] = value
        self._weights[:] = engine.weights
        self._biases[:] = self._bias_views

    # ------------------------------------------------------------------ the book's methods

    def feedforward(self, a: Any) -> np.ndarray:
        """The output a^L for an input column ``a`` (chapter 1, equation (22):
        ``a' = σ(w a + b)``, layer after layer).

        Parameters
        ----------
        a : array (sizes[0], 1)
            One input column; ``(sizes[0], m)`` feeds m columns at once.

        Returns
        -------
        array (sizes[-1], 1) (or (sizes[-1], m))
        """
        self._sync()
        a = _column(a, self.sizes[0], "a", self._engine.dtype)
        _, activations = self._engine.forward(a)
        return activations[-1]

    def backprop(self, x: Any, y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(nabla_b, nabla_w)``: the gradient of the cost C_x of one example, by the four
        equations of chapter 2, (BP1)–(BP4), shaped like ``biases`` and ``weights``.

        Parameters
        ----------
        x : array (sizes[0], 1)
        y : array (sizes[-1], 1), or an integer label
        """
        self._sync()
        ex = stack([(x, y)], self.sizes, self._engine.dtype, "the example (x, y)")
        grads = self._engine.backprop_columns(ex.X.T, ex.Y.T)  # mean over m = 1: C_x's own
        return [nb[:, None] for nb in grads.nabla_b], list(grads.nabla_w)

    def _examples(self, data: Any, name: str) -> Examples:
        return stack(as_list(data, name), self.sizes, self._engine.dtype, name)

    def _predictions(self, X: np.ndarray) -> np.ndarray:
        """argmax a^L of each row of ``X``: the digit the network sees."""
        self._sync()
        return self._engine.predict(X)

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        """a^L of each row of ``X``, as rows."""
        self._sync()
        return np.asarray(self._engine.feedforward(X))

    def _step(self, mini_batch: Any, eta: float, lmbda: float, n: int) -> None:
        """One gradient step on ``mini_batch``: b ← b − (η/m) Σ_x ∂C_x/∂b and
        w ← (1 − ηλ/n) w − (η/m) Σ_x ∂C_x/∂w (chapter 1 equations (20)–(21); chapter 3's
        weight decay), m = len(mini_batch)."""
        self._sync()
        ex = self._examples(mini_batch, "mini_batch")
        grads = self._engine.backprop_columns(ex.X.T, ex.Y.T)  # the mean over the m columns
        _SGD(float(eta), float(lmbda), int(n)).step(self._engine, grads)

    def _trainer(self, training: Examples, mini_batch_size: int, eta: float, lmbda: float) -> Any:
        """The epochs of one ``SGD`` call (:class:`Trainer`)."""
        self._sync()
        return Trainer(self, training, mini_batch_size, eta, lmbda)


class Trainer:
    """The epochs of one ``SGD`` call on nnmath's engine.

    Each epoch shuffles the examples as the book's ``random.shuffle(training_data)`` does
    (the order carries over from one epoch to the next), with ``net.rng``, and trains the
    mini-batches ``order[k:k+m]`` in turn: nnmath's compiled epoch where it is built and
    supports the run, else its reference loop (``backprop_columns`` and the SGD step).
    """

    def __init__(
        self, net: BookNetwork, training: Examples, mini_batch_size: int, eta: float, lmbda: float
    ) -> None:
        if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size}")
        self.net, self.data, self.B = net, training, int(mini_batch_size)
        n = training.X.shape[0]
        self.order = np.arange(n)
        self.optimizer = _SGD(float(eta), float(lmbda), n)  # n of ηλ/n: len(training_data)
        self.runner = None
        if net.fast:
            from ..fast import epoch_runner

            engine = net._engine
            self.runner = epoch_runner(engine, self.optimizer, training.X, training.Y, self.B)
        net.train_path = "c" if self.runner is not None else "reference"

    def epoch(self) -> None:
        """Shuffle, then one pass over the mini-batches."""
        self.net.rng.shuffle(self.order)  # random.shuffle(training_data), on the indices
        with np.errstate(over="ignore"):  # exp(−z) of a saturated sigmoid: σ is 0 or 1 there
            if self.runner is not None:
                self.runner.run_epoch(self.order)
                return
            engine, X, Y = self.net._engine, self.data.X, self.data.Y
            for k in range(0, X.shape[0], self.B):
                idx = self.order[k : k + self.B]
                grads = engine.backprop_columns(X[idx].T, Y[idx].T)
                self.optimizer.step(engine, grads)


def _checked(value: Any, shape: tuple[int, int], name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != shape and not (name.startswith("biases") and arr.shape == shape[:1]):
        raise ValueError(f"{name} has shape {arr.shape}; the network needs {shape}")
    if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite numbers")
    return arr


def _column(a: Any, n_in: int, name: str, dtype: Any) -> np.ndarray:
    arr = np.asarray(a, dtype=dtype)
    if arr.ndim == 1 and arr.shape[0] == n_in:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n_in:
        raise ValueError(
            f"{name} has shape {arr.shape}; feedforward takes a ({n_in}, 1) column "
            f"(or ({n_in}, m) columns), as in the book"
        )
    return arr
