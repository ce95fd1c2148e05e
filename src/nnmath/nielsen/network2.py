"""Chapter 3's ``network2.py``: cross-entropy, L2 regularisation, better initial weights.

A reader's snippets from chapter 3 run as printed::

    from nnmath import nielsen
    training_data, validation_data, test_data = nielsen.load_data_wrapper()
    net = nielsen.Network2([784, 30, 10], cost=nielsen.CrossEntropyCost)
    net.large_weight_initializer()
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
            monitor_evaluation_accuracy=True)

(``nielsen.network2.Network`` is the same class as ``nielsen.Network2``.) The costs keep the
book's protocol, ``fn(a, y)`` and ``delta(z, a, y)``; training runs on nnmath's engine, whose
``"quadratic"`` and ``"cross_entropy"`` costs and SGD with weight decay are the same rules
(``tests/test_nielsen.py`` checks the numbers against the per-example rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._base import BookNetwork
from ._data import Examples, as_list
from ._json import read_network, save_network
from .loader import vectorized_result
from .network import sigmoid, sigmoid_prime

__all__ = [
    "CrossEntropyCost",
    "Network",
    "QuadraticCost",
    "load",
    "sigmoid",
    "sigmoid_prime",
    "vectorized_result",
]


class QuadraticCost:
    """C_x = ½ ‖a − y‖² (chapter 1, equation (6), for one example)."""

    #: the same cost in nnmath's engine (:mod:`nnmath.costs`)
    engine_name = "quadratic"

    @staticmethod
    def fn(a: Any, y: Any) -> float:
        """½ ‖a − y‖² (for columns of several examples, the sum of theirs)."""
        return 0.5 * float(np.linalg.norm(np.asarray(a) - np.asarray(y))) ** 2

    @staticmethod
    def delta(z: Any, a: Any, y: Any) -> Any:
        """δ^L = (a − y) ⊙ σ'(z): equation (BP1) of chapter 2 with ∂C/∂a = a − y."""
        return (np.asarray(a) - np.asarray(y)) * sigmoid_prime(z)


class CrossEntropyCost:
    """C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)] (chapter 3, the cross-entropy)."""

    engine_name = "cross_entropy"

    @staticmethod
    def fn(a: Any, y: Any) -> float:
        """The cross-entropy; a term 0·ln 0 (a saturated output that is right) counts 0."""
        a, y = np.asarray(a), np.asarray(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = -y * np.log(a) - (1 - y) * np.log(1 - a)
        return float(np.sum(np.nan_to_num(terms)))

    @staticmethod
    def delta(z: Any, a: Any, y: Any) -> Any:
        """δ^L = a − y. ``z`` is not used: with sigmoid outputs σ'(z) cancels out of
        ∂C/∂a ⊙ σ'(z), which is why this cost does not learn slowly when a neuron saturates."""
        return np.asarray(a) - np.asarray(y)


#: the costs by their class name, as a saved file names them (no eval of a file's text)
COSTS: dict[str, type] = {"QuadraticCost": QuadraticCost, "CrossEntropyCost": CrossEntropyCost}


def _engine_cost(cost: Any) -> str:
    if cost not in COSTS.values():
        raise ValueError(
            f"cost must be nielsen.QuadraticCost or nielsen.CrossEntropyCost, got {cost!r}: "
            "nnmath's engine trains these two (a cost of your own: see nnmath.costs)"
        )
    return cost.engine_name


class Network(BookNetwork):
    """The book's chapter-3 network (``network2.py``).

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, input first.
    cost : QuadraticCost or CrossEntropyCost
        The class itself, as in the book (default: cross-entropy).
    seed, rng, dtype, fast
        As for :class:`nnmath.nielsen.Network`.

    Attributes
    ----------
    weights, biases : lists of arrays ``(sizes[i+1], sizes[i])`` and ``(sizes[i+1], 1)``
        From :meth:`default_weight_initializer`.
    cost : class
    """

    def __init__(
        self,
        sizes: Sequence[int],
        cost: type = CrossEntropyCost,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        dtype: str = "float64",
        fast: bool = True,
    ) -> None:
        super().__init__(sizes, _engine_cost(cost), seed, rng, dtype, fast)
        self.cost = cost
        self.default_weight_initializer()

    def default_weight_initializer(self) -> None:
        """Weights from N(0, 1/n_in), n_in the neurons feeding in; biases from N(0, 1)
        (chapter 3, "Weight initialization": hidden neurons then start far from saturation)."""
        self._draw_parameters(scaled=True)

    def large_weight_initializer(self) -> None:
        """Weights and biases from N(0, 1), as chapter 1's network (for comparison)."""
        self._draw_parameters(scaled=False)

    def SGD(
        self,
        training_data: Iterable[Any],
        epochs: int,
        mini_batch_size: int,
        eta: float,
        lmbda: float = 0.0,
        evaluation_data: Iterable[Any] | None = None,
        monitor_evaluation_cost: bool = False,
        monitor_evaluation_accuracy: bool = False,
        monitor_training_cost: bool = False,
        monitor_training_accuracy: bool = False,
        early_stopping_n: int = 0,
    ) -> tuple[list[float], list[int], list[float], list[int]]:
        """Train by mini-batch SGD with L2 regularisation (chapter 3).

        Each mini-batch of m examples updates ``w → (1 − ηλ/n) w − (η/m) Σ_x ∂C_x/∂w`` and
        ``b → b − (η/m) Σ_x ∂C_x/∂b``, n = len(training_data) (chapter 3, "Regularization").
        After each epoch it prints ``"Epoch j training complete"`` and, for each monitor
        switched on, the book's line (``"Accuracy on evaluation data: 9640 / 10000"``).

        Parameters
        ----------
        training_data : list (or iterable) of (x, y), ``y`` a (10, 1) column
        epochs, mini_batch_size : int
        eta, lmbda : float
            The learning rate η and the regularisation parameter λ.
        evaluation_data : list (or iterable) of (x, y), optional
            ``y`` the digit (validation or test data).
        monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost,
        monitor_training_accuracy : bool
        early_stopping_n : int
            Stop when the evaluation accuracy has not improved for this many epochs (0: never).

        Returns
        -------
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy : lists
            One entry per epoch for each monitor switched on (accuracies are counts).
        """
        training = self._examples(training_data, "training_data")
        evaluation = None
        if evaluation_data is not None:
            evaluation = self._examples(evaluation_data, "evaluation_data")
        monitors = (
            (monitor_evaluation_cost, monitor_evaluation_accuracy),
            (monitor_training_cost, monitor_training_accuracy),
        )
        results: tuple[list[float], list[int], list[float], list[int]] = ([], [], [], [])
        trainer = self._trainer(training, mini_batch_size, eta, lmbda)
        best, since_best = 0, 0
        for j in range(int(epochs)):
            trainer.epoch()
            print(f"Epoch {j} training complete")
            self._monitor(results, monitors, lmbda, training, evaluation)
            print()
            if early_stopping_n > 0 and monitor_evaluation_accuracy and results[1]:
                accuracy = results[1][-1]
                best, since_best = (accuracy, 0) if accuracy > best else (best, since_best + 1)
                if since_best == early_stopping_n:
                    print(f"Early-stopping: No accuracy change in last epochs: {early_stopping_n}")
                    break
        return results

    def _monitor(
        self,
        results: tuple[list[float], list[int], list[float], list[int]],
        monitors: tuple[tuple[bool, bool], tuple[bool, bool]],
        lmbda: float,
        training: Examples,
        evaluation: Examples | None,
    ) -> None:
        """Measure and print the epoch's monitored costs and accuracies, training first."""
        (eval_cost, eval_acc), (train_cost, train_acc) = monitors
        for on_cost, on_acc, data, where, offset in (
            (train_cost, train_acc, training, "training", 2),
            (eval_cost, eval_acc, evaluation, "evaluation", 0),
        ):
            if data is None or not (on_cost or on_acc):
                continue
            if on_cost:
                cost = self._total_cost(data, lmbda)
                results[offset].append(cost)
                print(f"Cost on {where} data: {cost}")
            if on_acc:
                hits = int(np.sum(self._predictions(data.X) == data.labels))
                results[offset + 1].append(hits)
                print(f"Accuracy on {where} data: {hits} / {len(data.labels)}")

    def update_mini_batch(
        self, mini_batch: Iterable[Any], eta: float, lmbda: float, n: int
    ) -> None:
        """One step on ``mini_batch`` with weight decay: ``w → (1 − ηλ/n) w − (η/m) Σ ∂C_x/∂w``,
        ``b → b − (η/m) Σ ∂C_x/∂b`` (all m examples backpropagated at once)."""
        self._step(as_list(mini_batch, "mini_batch"), eta, lmbda, n)

    def accuracy(self, data: Iterable[Any], convert: bool = False) -> int:
        """How many examples of ``data`` the network classifies right.

        ``convert`` is the book's flag (True for training data, whose ``y`` are one-hot
        columns; False for validation or test data, whose ``y`` are digits). It is accepted
        and need not be right: the kind of ``y`` is read from the data.
        """
        examples = self._examples(data, "data")
        return int(np.sum(self._predictions(examples.X) == examples.labels))

    def total_cost(self, data: Iterable[Any], lmbda: float, convert: bool = False) -> float:
        """(1/n) Σ_x C_x + (λ/2n) Σ_w w² over ``data`` (n = len(data)), with the network's cost
        (chapter 3's regularised cost). ``convert`` as in :meth:`accuracy`."""
        return self._total_cost(self._examples(data, "data"), lmbda)

    def _total_cost(self, data: Examples, lmbda: float) -> float:
        n = data.X.shape[0]
        cost = self.cost.fn(self._outputs(data.X), data.Y) / n  # Σ over examples and outputs
        return cost + 0.5 * (lmbda / n) * sum(float(np.sum(w * w)) for w in self.weights)

    def save(self, filename: Any) -> None:
        """Save ``sizes``, ``weights``, ``biases`` and the cost's name as the book's JSON;
        the file is written atomically (see :func:`load`)."""
        save_network(self, filename)


def load(filename: Any) -> Network:
    """Load a network saved by :meth:`Network.save` (the book's ``network2.load``).

    The cost is looked up by its name among :data:`COSTS`, never evaluated.

    Raises
    ------
    NielsenFileError
        A ValueError naming the file and what is wrong with it (not JSON, a missing key, an
        unknown cost, weights that do not fit the sizes).
    """
    sizes, cost, weights, biases = read_network(filename, COSTS)
    net = Network(sizes, cost=cost)
    net.weights, net.biases = weights, biases
    return net
