"""Chapter 1's ``network.py``: a sigmoid network trained by mini-batch SGD on the quadratic cost.

A reader's snippets from the book run as printed::

    from nnmath import nielsen
    training_data, validation_data, test_data = nielsen.load_data_wrapper()
    net = nielsen.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

The book's names and shapes are kept (``weights``, ``biases`` as lists of columns,
``backprop`` returning ``(nabla_b, nabla_w)``), but the training runs on nnmath's engine: the
data are turned once into row matrices and each epoch is nnmath's compiled epoch, which
computes the book's update rule for the whole mini-batch at once instead of looping over its
examples in Python. With the same initial weights and the same order of examples it gives
the book's numbers (``tests/test_nielsen.py`` checks this against the per-example rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..activations import get_activation
from ._base import BookNetwork
from ._data import as_list

__all__ = ["Network", "sigmoid", "sigmoid_prime"]

_SIGMOID = get_activation("sigmoid")


def sigmoid(z: Any) -> Any:
    """σ(z) = 1 / (1 + e^{−z}), element-wise (chapter 1, equation (3))."""
    return _SIGMOID(np.asarray(z, dtype=float))


def sigmoid_prime(z: Any) -> Any:
    """σ'(z) = σ(z) (1 − σ(z)), element-wise."""
    return _SIGMOID.prime(np.asarray(z, dtype=float))


class Network(BookNetwork):
    """The book's chapter-1 network: sigmoid neurons, the quadratic cost, SGD.

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, input first: ``[784, 30, 10]``.
    seed : int, optional
        Seed of ``net.rng``, which draws the initial weights and shuffles each epoch;
        ``None`` (default) gives a fresh network each time, as the book's does.
    rng : numpy.random.Generator, optional
        Use this generator instead of ``seed``.
    dtype : str
        ``"float64"`` (default, as the book) or ``"float32"`` (faster, to rounding).
    fast : bool
        nnmath's compiled epoch (default) or its reference loop.

    Attributes
    ----------
    weights : list of arrays ``(sizes[i+1], sizes[i])``
    biases : list of arrays ``(sizes[i+1], 1)``
        Drawn from N(0, 1), biases first, as the book's ``np.random.randn``. Assign new
        lists (or entries) to start from weights of your own.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        dtype: str = "float64",
        fast: bool = True,
    ) -> None:
        super().__init__(sizes, "quadratic", seed, rng, dtype, fast)
        self._draw_parameters(scaled=False)  # N(0, 1), as chapter 1

    def SGD(
        self,
        training_data: Iterable[Any],
        epochs: int,
        mini_batch_size: int,
        eta: float,
        test_data: Iterable[Any] | None = None,
    ) -> None:
        """Train by mini-batch stochastic gradient descent (chapter 1).

        Every epoch shuffles ``training_data`` (the order carries over, as the book's
        ``random.shuffle``), cuts it into mini-batches of ``mini_batch_size`` (the last one
        may be smaller) and applies :meth:`update_mini_batch`'s rule to each in turn. After
        each epoch it prints ``"Epoch j: correct / n_test"`` when ``test_data`` is given, else
        ``"Epoch j complete"``.

        Parameters
        ----------
        training_data : list (or iterable) of (x, y)
            ``x`` a (784, 1) column, ``y`` its (10, 1) desired output.
        epochs, mini_batch_size : int
        eta : float
            The learning rate η.
        test_data : list (or iterable) of (x, y), optional
            ``y`` the digit; evaluated after every epoch (slower, as the book says).
        """
        training = self._examples(training_data, "training_data")
        test = None if test_data is None else self._examples(test_data, "test_data")
        trainer = self._trainer(training, mini_batch_size, eta, 0.0)
        for j in range(int(epochs)):
            trainer.epoch()
            if test is not None:
                correct = int(np.sum(self._predictions(test.X) == test.labels))
                print(f"Epoch {j}: {correct} / {len(test.labels)}")
            else:
                print(f"Epoch {j} complete")

    def update_mini_batch(self, mini_batch: Iterable[Any], eta: float) -> None:
        """One step of gradient descent on ``mini_batch`` (chapter 1, equations (20)–(21)):
        ``w → w − (η/m) Σ_x ∂C_x/∂w``, ``b → b − (η/m) Σ_x ∂C_x/∂b``, m = len(mini_batch),
        the gradients by backpropagation (:meth:`backprop`) of all m examples at once."""
        self._step(as_list(mini_batch, "mini_batch"), eta, 0.0, 1)

    def evaluate(self, test_data: Iterable[Any]) -> int:
        """How many examples the network classifies right: the output neuron with the highest
        activation is its answer."""
        test = self._examples(test_data, "test_data")
        return int(np.sum(self._predictions(test.X) == test.labels))

    def cost_derivative(self, output_activations: Any, y: Any) -> Any:
        """∂C_x/∂a for the quadratic cost C_x = ½ ‖y − a‖²: the vector ``a − y``."""
        return np.asarray(output_activations) - np.asarray(y)
