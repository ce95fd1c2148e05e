"""Optimizers: each update is a few lines, one comment per equation, state named and explicit.

Every optimizer updates ``net.weights`` and ``net.biases`` *in place* from a
:class:`~nnmath.network.Gradients` whose ``nabla_w`` / ``nabla_b`` are gradients of the mean
cost over the mini-batch. L2 regularisation adds ``(λ/2n) Σ_w w²`` to the cost (Nielsen,
chapter 3), with ``n`` the size of the training set; biases are not regularised.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backend import to_numpy

__all__ = ["Optimizer", "SGD", "Adam", "OPTIMIZERS", "get_optimizer"]


class Optimizer:
    """Base class: ``step(net, grads)`` and a ``state`` dict of named per-layer lists.

    Parameters
    ----------
    eta : float
        Learning rate η.
    lmbda : float
        L2 regularisation λ.
    n : int
        Size of the training set (the ``n`` of λ/n).
    """

    name = "optimizer"

    def __init__(self, eta: float, lmbda: float = 0.0, n: int = 1) -> None:
        if not eta > 0:
            raise ValueError(f"eta (the learning rate) must be positive, got {eta}")
        if lmbda < 0:
            raise ValueError(f"lmbda (L2 regularisation) must be ≥ 0, got {lmbda}")
        self.eta, self.lmbda, self.n = float(eta), float(lmbda), int(n)
        self.state: dict[str, Any] = {}

    def step(self, net: Any, grads: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _zeros(self, arrays: list[Any]) -> list[Any]:
        return [a * 0 for a in arrays]

    def state_arrays(self) -> dict[str, Any]:
        """The state as a flat ``{"velocity_w.0": array, ..., "t": array}`` dict (checkpoints)."""
        flat: dict[str, Any] = {}
        for key, value in self.state.items():
            if isinstance(value, list):
                for i, arr in enumerate(value):
                    flat[f"{key}.{i}"] = to_numpy(arr)  # host copies of GPU / torch state
            else:
                flat[key] = np.asarray(value)
        return flat

    def to(self, backend: Any) -> Optimizer:
        """Move the per-layer state arrays to ``backend`` (a :class:`~nnmath.backend.Backend`)."""
        for key, value in self.state.items():
            if isinstance(value, list):
                self.state[key] = [backend.asarray(a) for a in value]
        return self

    def load_state_arrays(self, flat: dict[str, Any]) -> None:
        """Inverse of :meth:`state_arrays`."""
        state: dict[str, Any] = {}
        for name, arr in flat.items():
            key, _, idx = name.partition(".")
            if idx:
                state.setdefault(key, []).append((int(idx), arr))
            else:
                state[key] = arr.item() if getattr(arr, "ndim", 0) == 0 else arr
        for key, value in state.items():
            if isinstance(value, list):
                state[key] = [a for _, a in sorted(value, key=lambda p: p[0])]
        self.state = state


class SGD(Optimizer):
    """Mini-batch stochastic gradient descent, optionally with (Nesterov) momentum.

    Without momentum this is Nielsen's update with weight decay::

        w ← (1 − ηλ/n) w − η ∇_w C        b ← b − η ∇_b C

    With momentum μ (velocity ``v``, state ``velocity_w`` / ``velocity_b``)::

        g = ∇_w C + (λ/n) w
        v ← μ v − η g
        w ← w + v                 (Nesterov: w ← w + μ v − η g)
    """

    name = "sgd"

    def __init__(
        self,
        eta: float,
        lmbda: float = 0.0,
        n: int = 1,
        momentum: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(eta, lmbda, n)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def step(self, net: Any, grads: Any) -> None:
        eta, mu, decay = self.eta, self.momentum, self.lmbda / self.n
        if mu == 0:
            for W, b, nw, nb in zip(net.weights, net.biases, grads.nabla_w, grads.nabla_b):
                if decay:
                    W *= 1.0 - eta * decay  # weight decay (1 − ηλ/n) w
                W -= eta * nw  # w ← w − η ∂C/∂w
                b -= eta * nb  # b ← b − η ∂C/∂b
            return
        if not self.state:
            self.state = {
                "velocity_w": self._zeros(net.weights),
                "velocity_b": self._zeros(net.biases),
            }
        params = (net.weights, net.biases, grads.nabla_w, grads.nabla_b)
        vels = (self.state["velocity_w"], self.state["velocity_b"])
        for p_list, g_list, v_list, l2 in (
            (params[0], params[2], vels[0], decay),
            (params[1], params[3], vels[1], 0.0),
        ):
            for p, g, v in zip(p_list, g_list, v_list):
                if l2:
                    g = g + l2 * p  # ∂/∂w of (λ/2n) Σ w²
                v *= mu  # v ← μ v − η g
                v -= eta * g
                if self.nesterov:
                    p += mu * v - eta * g  # look-ahead step
                else:
                    p += v  # w ← w + v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), with L2 added to the gradient (``g = ∇C + (λ/n) w``)::

    m ← β1 m + (1 − β1) g          first moment
    v ← β2 v + (1 − β2) g²         second moment
    m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)
    w ← w − η m̂ / (√v̂ + ε)
    """

    name = "adam"

    def __init__(
        self,
        eta: float = 1e-3,
        lmbda: float = 0.0,
        n: int = 1,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(eta, lmbda, n)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def step(self, net: Any, grads: Any) -> None:
        if not self.state:
            self.state = {
                "m_w": self._zeros(net.weights),
                "m_b": self._zeros(net.biases),
                "v_w": self._zeros(net.weights),
                "v_b": self._zeros(net.biases),
                "t": 0,
            }
        s, b1, b2 = self.state, self.beta1, self.beta2
        s["t"] = t = int(s["t"]) + 1
        # Python floats, so that float32 parameters are never up-cast
        step = self.eta * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)  # η √(1−β2^t)/(1−β1^t)
        eps_hat = self.epsilon * math.sqrt(1.0 - b2**t)  # ε moved inside the bias correction
        decay = self.lmbda / self.n
        groups = (
            (net.weights, grads.nabla_w, s["m_w"], s["v_w"], decay),
            (net.biases, grads.nabla_b, s["m_b"], s["v_b"], 0.0),
        )
        for p_list, g_list, m_list, v_list, l2 in groups:
            for p, g, m, v in zip(p_list, g_list, m_list, v_list):
                if l2:
                    g = g + l2 * p
                m *= b1  # m ← β1 m + (1 − β1) g
                m += (1.0 - b1) * g
                v *= b2  # v ← β2 v + (1 − β2) g²
                v += (1.0 - b2) * (g * g)
                p -= step * m / (v**0.5 + eps_hat)  # w ← w − η m̂ / (√v̂ + ε)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}


def get_optimizer(spec: str | Optimizer, **kwargs: Any) -> Optimizer:
    """Build an optimizer by name (``sgd``, ``adam``) or pass one through.

    ``kwargs`` not used by the chosen optimizer (``momentum`` for Adam, say) must be at their
    neutral values; anything else is an error rather than being silently dropped.
    """
    if isinstance(spec, Optimizer):
        return spec
    if not isinstance(spec, str) or spec.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {spec!r}: choose one of {sorted(OPTIMIZERS)}")
    cls = OPTIMIZERS[spec.lower()]
    import inspect

    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    neutral = {"momentum": 0.0, "nesterov": False, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    for key in list(kwargs):
        if key not in accepted:
            if kwargs[key] != neutral.get(key, object()):
                raise ValueError(f"optimizer {spec!r} does not take {key}={kwargs[key]!r}")
            del kwargs[key]
    return cls(**kwargs)
