"""What ``fit`` checks before it trains a network, the same on the compiled epoch and the
reference loop, and the claim that one ``fit`` at a time trains a network.

A built network's attributes are public, so anything may have happened to them between
construction and ``fit``: ``net.weights[0] = np.load(path, mmap_mode="r")``,
``net.dropout = (1.5, 0.5)``, a shorter ``net.activation_functions``, an optimizer whose
state belongs to another network. :func:`check_network` and :func:`check_optimizer_state`
hold every per-layer attribute against the architecture (``sizes``, ``dtype``, the backend)
and raise one ValueError naming it, whichever path then trains; :mod:`nnmath.engine` checks
the arrays again right before each compiled epoch (:func:`check_array`), and the C epoch
once more behind it. :func:`training` claims a network for one ``fit``; meanwhile
:func:`refuse_while_training` stops another thread from replacing the arrays it updates.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import validation
from ._architecture import check_output
from .activations import Activation
from .backend import Backend, get_namespace, resolve_dtype
from .costs import Cost
from .dropout import check_dropout

__all__ = [
    "check_array",
    "check_network",
    "check_optimizer_state",
    "check_pass_memory",
    "parameter_shapes",
    "pass_bytes",
    "refuse_while_training",
    "training",
]

#: NumPy arrays a network's parameters may be (a writeable memory map trains in place too)
_NUMPY_TYPES = (np.ndarray, np.memmap)
#: the thread that is running ``fit`` on each network, by ``id`` (claimed by :func:`training`)
_TRAINING: dict[int, int] = {}
_CLAIM = threading.Lock()


@contextmanager
def training(net: Any) -> Iterator[None]:
    """Claim ``net`` for one ``fit`` inside the block.

    Raises
    ------
    RuntimeError
        When a ``fit`` of ``net`` is already running, in another thread or (from a callback)
        in this one: the two would update the same arrays.
    """
    me = threading.get_ident()
    with _CLAIM:
        owner = _TRAINING.get(id(net))
        if owner is not None:
            where = "in another thread" if owner != me else "already (fit called inside its fit)"
            raise RuntimeError(
                f"this network is training {where}: a second fit would update the same "
                "arrays; wait for that fit to return, or train a copy (copy.deepcopy(net))"
            )
        _TRAINING[id(net)] = me
    try:
        yield
    finally:
        with _CLAIM:
            del _TRAINING[id(net)]


def refuse_while_training(net: Any, what: str) -> None:
    """Raise a RuntimeError when another thread is training ``net``: ``what`` (say
    ``"net.to(...)"``) would replace or overwrite the arrays that fit updates."""
    owner = _TRAINING.get(id(net))
    if owner is not None and owner != threading.get_ident():
        raise RuntimeError(
            f"this network is training in another thread: {what} would change the arrays "
            "that fit is updating; wait for that fit to return (or work on copy.deepcopy(net))"
        )


def check_network(net: Any) -> None:
    """Every per-layer attribute of ``net`` against its ``sizes``: ``weights`` and ``biases``
    (one writeable, finite array of the backend and dtype per layer, of the layer's shape),
    ``activation_functions`` (one :class:`~nnmath.activations.Activation` per layer, the
    output's fit for the cost) and ``dropout`` (one probability in [0, 1) per hidden layer;
    one number is made one per layer, as the constructor does).

    Raises
    ------
    ValueError
        Naming the attribute and what it should be; nothing of the network is changed.
    """
    sizes = validation.check_sizes(net.sizes)
    dtype = np.dtype(resolve_dtype(net.dtype))
    if not isinstance(net.backend, Backend):
        raise ValueError(f"net.backend is a {type(net.backend).__name__}, not a Backend")
    shapes = parameter_shapes(net)
    n_layers = len(shapes)
    for j, name in enumerate(("weights", "biases")):
        arrays = _per_layer(f"net.{name}", getattr(net, name), n_layers, sizes, "arrays")
        for i, a in enumerate(arrays):
            check_array(f"{name}[{i}]", a, shapes[i][j], dtype, sizes, net.backend, finite=True)
    if getattr(net, "layered", False):  # σ and dropout belong to its layers, checked there
        _check_cost(net, net.activation_functions[-1])
        return
    acts = _per_layer(
        "net.activation_functions", net.activation_functions, n_layers, sizes, "entries"
    )
    for i, act in enumerate(acts):
        if not isinstance(act, Activation):
            raise ValueError(
                f"net.activation_functions[{i}] is a {type(act).__name__} ({act!r:.60}), not "
                "an Activation: use nnmath.activations.get_activation(name)"
            )
    _check_cost(net, acts[-1])
    net.dropout = check_dropout(net.dropout, n_layers - 1)


def _check_cost(net: Any, out: Activation) -> None:
    """``net.cost_function`` is a Cost defined for the output σ ``out``."""
    if not isinstance(net.cost_function, Cost):
        raise ValueError(f"net.cost_function is a {type(net.cost_function).__name__}, not a Cost")
    check_output(out, net.cost_function)


def check_optimizer_state(net: Any, optimizer: Any) -> None:
    """The per-layer lists of a registry optimizer's ``state`` (those its ``init_state``
    creates, as its first step does; restored by ``resume``, or left by a fit of another
    network) against ``net`` (checked by :func:`check_network`): one array per layer of
    weights, shaped like its ``W`` for a slot ending in ``_w``, like its ``b`` otherwise,
    finite; the step count ``t`` an integer ≥ 0. A state that is still empty is created by
    the first step.

    Raises
    ------
    ValueError
        Naming the state tensor; nothing is changed.
    """
    state = getattr(optimizer, "state", None)
    if not state:
        return
    if not isinstance(state, dict):
        raise ValueError(f"the optimizer's state is a {type(state).__name__}, not a dict")
    sizes, dtype = list(net.sizes), np.dtype(net.dtype)
    shapes = parameter_shapes(net)
    n_layers = len(shapes)
    init_state = getattr(optimizer, "init_state", None)
    expected = init_state(net) if callable(init_state) else {}
    for slot in (key for key, value in expected.items() if isinstance(value, list)):
        name = f"optimizer state {slot!r}"
        arrays = _per_layer(name, state.get(slot), n_layers, sizes, "tensors")
        for i, a in enumerate(arrays):
            shape = shapes[i][0] if slot.endswith("_w") else shapes[i][1]
            check_array(f"{name}[{i}]", a, shape, dtype, sizes, net.backend, host=True, finite=True)
    t = state.get("t", 0)
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 0:
        raise ValueError(f"optimizer state 't' is {t!r}, not a step count (an integer ≥ 0)")


def parameter_shapes(net: Any) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """``(W.shape, b.shape)`` of each layer of weights: ``((n_{l+1}, n_l), (n_{l+1},))`` from
    ``sizes``, or, for a network of layers, what each layer was built for."""
    if getattr(net, "layered", False):
        return net.parameter_shapes()
    sizes = list(net.sizes)
    return [((n_out, n_in), (n_out,)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def _per_layer(name: str, values: Any, n_layers: int, sizes: list[int], unit: str) -> Sequence[Any]:
    """``values`` when it is a list or tuple of one entry per layer of weights."""
    if not isinstance(values, list | tuple):
        raise ValueError(
            f"{name} is a {type(values).__name__}, not a list with one entry per layer of "
            f"weights ({n_layers} layers, sizes {sizes}); nothing was changed"
        )
    if len(values) != n_layers:
        raise ValueError(
            f"{name} has {len(values)} {unit}, the network has {n_layers} layers "
            f"(sizes {sizes}); nothing was changed"
        )
    return values


def check_array(
    name: str,
    a: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    sizes: list[int],
    backend: Backend | None = None,
    host: bool = False,
    c_order: bool = False,
    writeable: bool = True,
    finite: bool = False,
) -> None:
    """``a`` is an array that training may update in place: of ``backend`` (NumPy when
    ``None``; a NumPy array also passes when ``host``), of ``shape`` and ``dtype``, writeable
    (unless not ``writeable``: only read), with ``c_order`` (the compiled epoch)
    C-contiguous and with ``finite`` free of NaN and ±inf, else a ValueError naming it."""
    numpy = backend is None or backend.name == "numpy" or (host and type(a) in _NUMPY_TYPES)
    if not (type(a) in _NUMPY_TYPES if numpy else backend.owns(a)):
        where = "a NumPy array" if numpy else f"a {backend.name} array on {backend.device}"
        raise ValueError(f"{name} is a {type(a).__name__}, not {where}; nothing was changed")
    have = str(a.dtype).removeprefix("torch.")
    c_ok = not c_order or a.flags.c_contiguous
    if tuple(a.shape) != shape or have != dtype.name or not c_ok:
        order = (
            ("C-contiguous " if a.flags.c_contiguous else "not C-contiguous ") if c_order else ""
        )
        need = "the compiled epoch needs a C-contiguous" if c_order else "the network needs a"
        raise ValueError(
            f"{name} is a {order}{have} array of shape {tuple(a.shape)}; {need} {dtype.name} "
            f"array of shape {shape} (layer sizes {sizes}); nothing was changed"
        )
    if writeable and numpy and not a.flags.writeable:
        raise ValueError(
            f"{name} is read-only (a memory map opened with mode 'r', an array over bytes, "
            "or flags.writeable = False) and training updates it in place: give it a "
            "writeable copy (np.array(...)); nothing was changed"
        )
    if finite and not _all_finite(a):
        raise ValueError(
            f"{name} holds NaN or infinite values, from which training gives NaN: assign "
            "finite values (or build the network again); nothing was changed"
        )


def _all_finite(a: Any) -> bool:
    """No NaN or ±inf in ``a``: the sum first (no array the size of ``a``), the exact test
    only when the sum is not finite (it may overflow in float32)."""
    xp = get_namespace(a)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(xp.isfinite(xp.sum(a))) or bool(xp.all(xp.isfinite(a)))


def pass_bytes(net: Any, m: int) -> int:
    """The bytes a training pass over ``m`` examples keeps: for a dense network z^l, a^l and
    δ^l of every layer; for a network of layers each layer's
    :meth:`~nnmath.layers.Layer.elements_per_example` (a convolution's im2col columns
    too), and the largest of them again for the backward pass's g."""
    itemsize = np.dtype(net.dtype).itemsize
    if not getattr(net, "layered", False):
        return 3 * int(m) * sum(net.sizes) * itemsize
    kept = [layer.elements_per_example() for layer in net.layers[1:]]
    return int(m) * (sum(kept) + max(kept, default=0)) * itemsize


def check_pass_memory(net: Any, m: int, what: str) -> None:
    """Refuse, before training starts, a mini-batch of ``m`` examples whose training pass
    (:func:`pass_bytes`) cannot fit in the machine's memory, naming the largest that can."""
    try:
        validation.check_memory(pass_bytes(net, m), what)
    except ValueError as err:
        fits = (validation.physical_memory() or 0) // max(1, pass_bytes(net, 1))
        raise ValueError(f"{err}; at most {fits:,} examples a mini-batch fit") from None
