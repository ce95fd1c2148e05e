"""nnmath: the mathematics of neural networks as fast, verified, inspectable code.

>>> import nnmath as nm
>>> net = nm.Network([784, 30, 10], activation="sigmoid", cost="quadratic", seed=0)
"""

from __future__ import annotations

from .activations import ACTIVATIONS, Activation, get_activation
from .costs import COSTS, Cost, get_cost
from .init import INITS
from .network import Gradients, Network
from .optim import OPTIMIZERS, SGD, Adam, Optimizer
from .train import History, TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "COSTS",
    "Cost",
    "INITS",
    "OPTIMIZERS",
    "Adam",
    "Gradients",
    "History",
    "Network",
    "Optimizer",
    "SGD",
    "TrainingDiverged",
    "fit",
    "get_activation",
    "get_cost",
    "__version__",
]
