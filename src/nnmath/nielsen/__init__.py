"""The code of Michael Nielsen's *Neural Networks and Deep Learning*, on nnmath's engine.

A reader of the book pastes its snippets and they run as printed, only the import differs::

    from nnmath import nielsen

    training_data, validation_data, test_data = nielsen.load_data_wrapper()
    net = nielsen.Network([784, 30, 10])                      # chapter 1, network.py
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)  # Epoch 0: 9129 / 10000 ...

    net = nielsen.Network2([784, 30, 10], cost=nielsen.CrossEntropyCost)  # chapter 3
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
            monitor_evaluation_accuracy=True)

What is the book's: the names, the shapes (columns ``(784, 1)``, ``biases[i]`` of shape
``(n, 1)``), the printed lines, the update rules and the JSON files of ``network2``. What is
nnmath's: the training, which turns the data once into row matrices and runs each epoch on
nnmath's compiled engine (whole mini-batches at once, no Python loop over examples), the
explicit random generator (``seed=`` / ``rng=`` instead of the global ``np.random`` and
``random``) and the data, read from the original MNIST files by :mod:`nnmath.data`.

The book's Python 3 ports write ``list(zip(...))``; here the data sets are lists already, and
any iterable of ``(x, y)`` pairs is taken.

Modules: :mod:`~nnmath.nielsen.loader` (``mnist_loader``), :mod:`~nnmath.nielsen.network`
(``network.py``), :mod:`~nnmath.nielsen.network2` (``network2.py``).
"""

from __future__ import annotations

from . import loader, network, network2
from ._json import NielsenFileError
from .loader import load_data, load_data_wrapper, vectorized_result
from .network import Network, sigmoid, sigmoid_prime
from .network2 import CrossEntropyCost, QuadraticCost, load
from .network2 import Network as Network2

__all__ = [
    "CrossEntropyCost",
    "Network",
    "Network2",
    "NielsenFileError",
    "QuadraticCost",
    "load",
    "load_data",
    "load_data_wrapper",
    "loader",
    "network",
    "network2",
    "sigmoid",
    "sigmoid_prime",
    "vectorized_result",
]
