"""Learning-rate schedules: η_e, the learning rate of epoch e, from the base η.

Nielsen (chapter 3, "How to choose a neural network's hyper-parameters?") suggests letting η
vary during training: large at first, while the weights are far from good, smaller later to
make finer adjustments. A schedule is a pure function of the base η, the epoch ``e``
(0-based) and, for some, the number of epochs of the run; it is stepped once per epoch and
epoch 0 trains with η itself. :func:`nnmath.train.fit` sets the optimizer's ``eta`` to
``schedule.eta(η, e, epochs)`` before each epoch (``fit(..., schedule="cosine")``).

Each schedule matches a ``torch.optim.lr_scheduler`` class epoch for epoch; its
:meth:`Schedule.torch_twin` names that class and its arguments (``tests/test_schedules.py``
builds it and compares, for every entry of :data:`SCHEDULES`).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "Schedule",
    "Constant",
    "StepDecay",
    "Exponential",
    "Cosine",
    "SCHEDULES",
    "get_schedule",
]


class Schedule:
    """Base class: :meth:`eta` gives η_e; :attr:`name` is the key in :data:`SCHEDULES`."""

    name = "schedule"

    def eta(self, eta0: float, epoch: int, epochs: int | None = None) -> float:
        """The learning rate of ``epoch`` (0-based) for base learning rate ``eta0``.

        Parameters
        ----------
        eta0 : float
            The base η (the optimizer's η when training began).
        epoch : int
            0-based epoch; ``eta(eta0, 0)`` is ``eta0``.
        epochs : int, optional
            Epochs of the whole run (needed by :class:`Cosine` without ``T_max``).
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def torch_twin(self, epochs: int | None = None) -> tuple[str, dict[str, Any]]:
        """The ``torch.optim.lr_scheduler`` class (its name) and keyword arguments that give
        the same η epoch for epoch."""
        raise NotImplementedError  # pragma: no cover - abstract

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """η_e = η: the same learning rate every epoch (``torch``'s ``LambdaLR`` of 1)."""

    name = "constant"

    def eta(self, eta0: float, epoch: int, epochs: int | None = None) -> float:
        return float(eta0)

    def torch_twin(self, epochs: int | None = None) -> tuple[str, dict[str, Any]]:
        return "ConstantLR", {"factor": 1.0, "total_iters": 0}


class StepDecay(Schedule):
    """η_e = η γ^⌊e / step_size⌋: multiply η by γ every ``step_size`` epochs (``StepLR``).

    Parameters
    ----------
    step_size : int
        Epochs between two decays (≥ 1).
    gamma : float
        The factor (> 0).
    """

    name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1) -> None:
        self.step_size = _epochs("step_size", step_size)
        self.gamma = _positive("gamma", gamma)

    def eta(self, eta0: float, epoch: int, epochs: int | None = None) -> float:
        return eta0 * self.gamma ** (epoch // self.step_size)

    def torch_twin(self, epochs: int | None = None) -> tuple[str, dict[str, Any]]:
        return "StepLR", {"step_size": self.step_size, "gamma": self.gamma}


class Exponential(Schedule):
    """η_e = η γ^e: multiply η by γ every epoch (``ExponentialLR``).

    Parameters
    ----------
    gamma : float
        The factor per epoch (> 0).
    """

    name = "exponential"

    def __init__(self, gamma: float = 0.95) -> None:
        self.gamma = _positive("gamma", gamma)

    def eta(self, eta0: float, epoch: int, epochs: int | None = None) -> float:
        return eta0 * self.gamma**epoch

    def torch_twin(self, epochs: int | None = None) -> tuple[str, dict[str, Any]]:
        return "ExponentialLR", {"gamma": self.gamma}


class Cosine(Schedule):
    """η_e = η_min + (η − η_min) (1 + cos(π e / T_max)) / 2 (``CosineAnnealingLR``).

    Cosine annealing (Loshchilov & Hutter, "SGDR", 2017) without restarts: η falls from η to
    η_min over ``T_max`` epochs along half a cosine; past ``T_max`` it rises again, as the
    formula (and torch) says.

    Parameters
    ----------
    T_max : int, optional
        Epochs of the half period (≥ 1). ``None``: the number of epochs of the run.
    eta_min : float
        The smallest learning rate (≥ 0).
    """

    name = "cosine"

    def __init__(self, T_max: int | None = None, eta_min: float = 0.0) -> None:
        self.T_max = None if T_max is None else _epochs("T_max", T_max)
        self.eta_min = _number("eta_min", eta_min, lambda x: x >= 0, "a finite number ≥ 0")

    def period(self, epochs: int | None) -> int:
        """``T_max``, or the run's ``epochs`` when ``T_max`` is ``None``."""
        if self.T_max is not None:
            return self.T_max
        if epochs is None or epochs < 1:
            raise ValueError(
                f"Cosine(T_max=None) takes T_max from the run's epochs, got epochs={epochs!r}; "
                "give T_max or train for at least one epoch"
            )
        return int(epochs)

    def eta(self, eta0: float, epoch: int, epochs: int | None = None) -> float:
        T, low = self.period(epochs), self.eta_min
        return low + (eta0 - low) * (1.0 + math.cos(math.pi * epoch / T)) / 2.0

    def torch_twin(self, epochs: int | None = None) -> tuple[str, dict[str, Any]]:
        return "CosineAnnealingLR", {"T_max": self.period(epochs), "eta_min": self.eta_min}


def _number(name: str, value: Any, ok: Any, what: str) -> float:
    """``float(value)`` when it is a finite number for which ``ok`` holds, else ValueError."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not math.isfinite(x) or not ok(x):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return x


def _positive(name: str, value: Any) -> float:
    return _number(
        name, value, lambda x: x > 0, "a finite number > 0 (the factor η is multiplied by)"
    )


def _epochs(name: str, value: Any) -> int:
    x = _number(name, value, lambda x: x >= 1 and x == int(x), "an integer ≥ 1 (epochs)")
    return int(x)


#: schedule name -> class; ``SCHEDULES[name]()`` is the schedule with its defaults
SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Constant, StepDecay, Exponential, Cosine)
}


def get_schedule(spec: str | Schedule) -> Schedule:
    """A schedule by name (a key of :data:`SCHEDULES`, with its defaults), or ``spec`` itself.

    Raises
    ------
    ValueError
        For an unknown name or something that is not a :class:`Schedule`.
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str) and spec.lower() in SCHEDULES:
        return SCHEDULES[spec.lower()]()
    raise ValueError(
        f"unknown learning-rate schedule {spec!r}: choose one of {sorted(SCHEDULES)} "
        "or pass a nnmath.schedules.Schedule"
    )
