"""nnmath: the mathematics of neural networks as fast, verified, inspectable code.

>>> import nnmath as nm
>>> net = nm.Network([784, 30, 10], activation="sigmoid", cost="quadratic", seed=0)
"""

from __future__ import annotations

from . import schedules
from ._version import __version__  # one literal, readable from any layer (nnmath.io)
from .activations import ACTIVATIONS, Activation, get_activation
from .costs import COSTS, Cost, get_cost
from .init import INITS
from .network import Gradients, Network
from .optim import OPTIMIZERS, SGD, Adam, Optimizer, RMSprop

# Imported on first use, so that ``import nnmath`` pulls in neither torch nor sklearn.base,
# nor the training loop and its callbacks before they are needed (``nnmath --help``).
_LAZY = {
    "fit": "train",
    "History": "train",
    "TrainingDiverged": "train",
    "save": "io",
    "load": "io",
    "to_torch": "io",
    "from_torch": "io",
    "to_onnx": "io",
    "from_onnx": "io",
    "ModelFileError": "io",
    "NNMathClassifier": "estimator",
    "NNMathRegressor": "estimator",
    "Ensemble": "ensemble",
}


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if not name.startswith("__"):  # a submodule, on first use: nm.callbacks, nm.data, ...
        import importlib.util

        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ACTIVATIONS",
    "Activation",
    "COSTS",
    "Cost",
    "INITS",
    "OPTIMIZERS",
    "Adam",
    "Gradients",
    "Network",
    "Optimizer",
    "RMSprop",
    "SGD",
    "get_activation",
    "get_cost",
    "schedules",
    "__version__",
    *_LAZY,
]
