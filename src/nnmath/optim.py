"""Optimizers: each update is a few lines, one comment per equation, state named and explicit.

Every optimizer updates ``net.weights`` and ``net.biases`` *in place* from a
:class:`~nnmath.network.Gradients` whose ``nabla_w`` / ``nabla_b`` are gradients of the mean
cost over the mini-batch. L2 regularisation adds ``(λ/2n) Σ_w w²`` to the cost (Nielsen,
chapter 3), with ``n`` the size of the training set; biases are not regularised.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from .backend import aligned_copy, aligned_zeros, to_numpy

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "OPTIMIZERS", "default_eta", "get_optimizer"]


class Optimizer:
    """Base class: ``step(net, grads)`` and a ``state`` dict of named per-layer lists.

    The compiled epoch finds its kernel for a subclass in :data:`OPTIMIZERS` by ``name`` and
    the keys of its ``state``, and reads the hyper-parameters that kernel names from the
    attributes of the same names (``eta``, ``lmbda``, ``n``, ``momentum``, ``beta1``, ...);
    ``init_state`` creates the state as ``step`` does.

    Parameters
    ----------
    eta : float, optional
        Learning rate η (default: the class's :attr:`default_eta`).
    lmbda : float
        L2 regularisation λ.
    n : int
        Size of the training set (the ``n`` of λ/n).
    """

    name = "optimizer"
    #: the state lists that are running means of g², never negative (checked on resume)
    second_moments: tuple[str, ...] = ()
    #: η when none is given: each registry entry declares its own (fit, the command line and
    #: the estimator read it here)
    default_eta: float = 1e-3

    def __init__(self, eta: float | None = None, lmbda: float = 0.0, n: int = 1) -> None:
        if eta is None:
            eta = self.default_eta
        if not eta > 0:
            raise ValueError(f"eta (the learning rate) must be positive, got {eta}")
        if lmbda < 0:
            raise ValueError(f"lmbda (L2 regularisation) must be ≥ 0, got {lmbda}")
        self.eta, self.lmbda, self.n = float(eta), float(lmbda), int(n)
        self.state: dict[str, Any] = {}

    def step(self, net: Any, grads: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def init_state(self, net: Any) -> dict[str, Any]:
        """The state before the first step: zeros shaped like the parameters (``{}``: none)."""
        return {}

    def torch_optimizer(self, weights: list[Any], biases: list[Any]) -> Any:
        """The same update as a ``torch.optim`` optimizer over torch tensors ``weights`` and
        ``biases`` (L2 as ``weight_decay`` λ/n on the weights only), for tests against
        PyTorch; ``None`` when PyTorch has no twin."""
        return None

    def _groups(self, weights: list[Any], biases: list[Any]) -> list[dict[str, Any]]:
        return [
            {"params": weights, "weight_decay": self.lmbda / self.n},
            {"params": biases, "weight_decay": 0.0},
        ]

    def _zeros(self, arrays: list[Any]) -> list[Any]:
        """Zeros shaped like ``arrays`` on their backend (NumPy's on aligned buffers)."""
        return [aligned_zeros(a.shape, a.dtype) if type(a) is np.ndarray else a * 0 for a in arrays]

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
            if idx:  # a NumPy tensor from a file: copied onto an aligned buffer
                arr = aligned_copy(arr) if type(arr) is np.ndarray else arr
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
    default_eta = 3.0  # the book's chapter-1 η, for the quadratic cost

    def __init__(
        self,
        eta: float | None = None,
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

    def torch_optimizer(self, weights: list[Any], biases: list[Any]) -> Any:
        import torch

        groups = self._groups(weights, biases)  # torch's velocity is ours over −η
        return torch.optim.SGD(groups, lr=self.eta, momentum=self.momentum, nesterov=self.nesterov)

    def init_state(self, net: Any) -> dict[str, Any]:
        if self.momentum == 0:
            return {}
        return {"velocity_w": self._zeros(net.weights), "velocity_b": self._zeros(net.biases)}

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
            self.state = self.init_state(net)
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
    """Adam (Kingma & Ba 2015), with L2 added to the gradient (``g = ∇C + (λ/n) w``).

    The update of each parameter::

        m ← β1 m + (1 − β1) g          first moment
        v ← β2 v + (1 − β2) g²         second moment
        m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)
        w ← w − η m̂ / (√v̂ + ε)
    """

    name = "adam"
    second_moments = ("v_w", "v_b")
    default_eta = 1e-3  # Kingma & Ba's α, as Keras and PyTorch

    def __init__(
        self,
        eta: float | None = None,
        lmbda: float = 0.0,
        n: int = 1,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(eta, lmbda, n)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def torch_optimizer(self, weights: list[Any], biases: list[Any]) -> Any:
        import torch

        betas = (self.beta1, self.beta2)
        groups = self._groups(weights, biases)
        return torch.optim.Adam(groups, lr=self.eta, betas=betas, eps=self.epsilon)

    def init_state(self, net: Any) -> dict[str, Any]:
        zeros = self._zeros
        return {
            "m_w": zeros(net.weights),
            "m_b": zeros(net.biases),
            "v_w": zeros(net.weights),
            "v_b": zeros(net.biases),
            "t": 0,
        }

    def step(self, net: Any, grads: Any) -> None:
        if not self.state:
            self.state = self.init_state(net)
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


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton 2012), as ``torch.optim.RMSprop(alpha=rho)``, with L2 added to
    the gradient (``g = ∇C + (λ/n) w``).

    The update of each parameter::

        v ← ρ v + (1 − ρ) g²           running mean of the squared gradient
        w ← w − η g / (√v + ε)
    """

    name = "rmsprop"
    second_moments = ("v_w", "v_b")
    default_eta = 1e-3  # as Keras

    def __init__(
        self,
        eta: float | None = None,
        lmbda: float = 0.0,
        n: int = 1,
        rho: float = 0.9,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(eta, lmbda, n)
        if not 0 <= rho < 1:
            raise ValueError(
                f"rho (RMSprop's decay of the squared gradient) must be in [0, 1), got {rho}"
            )
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.rho, self.epsilon = float(rho), float(epsilon)

    def torch_optimizer(self, weights: list[Any], biases: list[Any]) -> Any:
        import torch

        groups = self._groups(weights, biases)
        return torch.optim.RMSprop(groups, lr=self.eta, alpha=self.rho, eps=self.epsilon)

    def init_state(self, net: Any) -> dict[str, Any]:
        return {"v_w": self._zeros(net.weights), "v_b": self._zeros(net.biases)}

    def step(self, net: Any, grads: Any) -> None:
        if not self.state:
            self.state = self.init_state(net)
        rho, eta, eps, decay = self.rho, self.eta, self.epsilon, self.lmbda / self.n
        groups = (
            (net.weights, grads.nabla_w, self.state["v_w"], decay),
            (net.biases, grads.nabla_b, self.state["v_b"], 0.0),
        )
        for p_list, g_list, v_list, l2 in groups:
            for p, g, v in zip(p_list, g_list, v_list):
                if l2:
                    g = g + l2 * p
                v *= rho  # v ← ρ v + (1 − ρ) g²
                v += (1.0 - rho) * (g * g)
                p -= eta * g / (v**0.5 + eps)  # w ← w − η g / (√v + ε)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def default_eta(name: str) -> float:
    """The η that optimizer ``name`` (a key of :data:`OPTIMIZERS`) takes when none is given."""
    if name.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name.lower()].default_eta


def get_optimizer(spec: str | Optimizer, **kwargs: Any) -> Optimizer:
    """Build an optimizer by name (a key of :data:`OPTIMIZERS`) or pass one through.

    ``kwargs`` are hyper-parameters; each goes to the chosen optimizer if it takes it. One it
    does not take (``momentum`` for Adam, say) must be at the default some other optimizer of
    the registry gives it, i.e. not really set; anything else is an error rather than being
    silently dropped.
    """
    if isinstance(spec, Optimizer):
        return spec
    if not isinstance(spec, str) or spec.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {spec!r}: choose one of {sorted(OPTIMIZERS)}")
    cls = OPTIMIZERS[spec.lower()]
    accepted = _parameters(cls)
    defaults: dict[str, set[Any]] = {}
    for other in OPTIMIZERS.values():
        for key, param in _parameters(other).items():
            defaults.setdefault(key, set()).add(param.default)
    for key in list(kwargs):
        if key in accepted:
            continue
        if key not in defaults:
            raise ValueError(
                f"no optimizer takes {key}={kwargs[key]!r}; optimizer {spec!r} takes "
                f"{', '.join(sorted(accepted))}"
            )
        if kwargs[key] not in defaults[key]:
            raise ValueError(
                f"optimizer {spec!r} does not take {key}={kwargs[key]!r} "
                f"(it takes {', '.join(sorted(accepted))})"
            )
        del kwargs[key]
    return cls(**kwargs)


def _parameters(cls: type[Optimizer]) -> dict[str, inspect.Parameter]:
    """The keyword parameters of ``cls(...)`` (no ``self``)."""
    params = inspect.signature(cls.__init__).parameters
    return {k: p for k, p in params.items() if k != "self"}
