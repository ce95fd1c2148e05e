"""Export to and import from ONNX: a Network is a chain of ``Gemm`` nodes and activations,
a network of layers a chain of ``Conv``, ``MaxPool``, ``AveragePool``, ``Flatten``,
``Dropout``, ``Gemm`` and activations (:mod:`nnmath.io.onnx_graph`, each layer's operator
declared on its class), taking images ``x`` of shape ``(batch, C, H, W)``.

Layer ``l`` (lecture numbering, ``l = 2, …, L``) becomes ``z^l = Gemm(a^{l−1}, W^l, b^l,
transB=1)``, i.e. the row-major ``a W^T + b`` of one example per row (the lecture's
``z^l = W^l a^{l−1} + b^l`` for every example at once), followed by the ONNX operators of
its σ. The tensors are named like the model file's (``"0.weight"``, ``"0.bias"``, …,
:func:`nnmath.io.layer_tensor_names`), the values ``x``, ``z2``, ``a2``, …, ``aL`` like the
lecture's, so the graph reads as the equations in Netron.

Which operators stand for which activation is declared with the activation itself (its
``onnx``, in :mod:`nnmath.activations._declarations`); :data:`ONNX_ACTIVATIONS` is the
registry's view of them, keyed by registry name. An activation without operators is refused
by :func:`to_onnx` with a message naming the ones it handles. :func:`from_onnx` reads back
exactly the graphs :func:`to_onnx` writes: it rebuilds the expected graph from what it found
and refuses any other node, attribute or constant.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from .._registry import default_cost
from .._version import __version__
from ..activations import OnnxOps
from ..costs import COSTS
from ..init import INITS
from ..network import Network
from .layer_file import check_layers, state_names
from .onnx_graph import ONNX_ACTIVATIONS, graph_of, read_layers

__all__ = ["ONNX_ACTIVATIONS", "OnnxActivation", "from_onnx", "onnx_model", "to_onnx"]

OPSET = 17
_DOMAIN_NOTE = "nnmath.config"  # metadata key: the JSON of Network.config()

OnnxActivation = OnnxOps  # the record's name before it moved beside the activations


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError(
            "ONNX export needs the 'onnx' package: pip install 'nnmath[onnx]'"
        ) from exc
    return onnx


def onnx_model(net: Any, dtype: Any = None, opset: int = OPSET) -> Any:
    """The ``onnx.ModelProto`` of ``net``, checked by ``onnx.checker``.

    Parameters
    ----------
    net : Network
    dtype : {"float32", "float64"}, optional
        The tensors' dtype; default float32, which every ONNX runtime runs (onnxruntime's
        CPU kernels have no float64 ``Elu``, ``Erf``, ``Softplus``, ``Conv`` or ``AveragePool``).
    opset : int
        The ONNX opset, at least 17 and at most the installed onnx's newest
        (``onnx.defs.onnx_opset_version()``).

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    ValueError
        For an activation without ONNX operators (a custom one, or one missing from
        :data:`ONNX_ACTIVATIONS`), an opset below 17 or above the installed onnx's newest,
        or another dtype.
    """
    onnx = _require_onnx()
    dt = np.dtype("float32" if dtype is None else dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype {dt.name!r}: ONNX export writes float32 or float64 tensors")
    if opset < OPSET:
        raise ValueError(f"opset {opset}: nnmath writes ONNX opset {OPSET} or newer")
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise ValueError(
            f"opset {opset}: the installed onnx {onnx.__version__} knows opsets up to {newest}; "
            f"give an opset from {OPSET} to {newest} (or upgrade onnx)"
        )
    model = onnx.helper.make_model(
        graph_of(onnx, net, dt),  # a σ without ONNX operators: refused, nothing written
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="nnmath",
        producer_version=__version__,
        doc_string="z^l = W^l a^{l-1} + b^l (Gemm, transB=1), a^l = σ(z^l); one example a row",
    )
    model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime releases of 2024 on
    onnx.helper.set_model_props(model, {_DOMAIN_NOTE: json.dumps(_config(net))})
    onnx.checker.check_model(model, full_check=True)
    return model


def _config(net: Any) -> dict[str, Any]:
    try:
        return dict(net.config())
    except Exception:  # a duck-typed network without a config: the graph says enough
        return {}


def to_onnx(net: Any, path: str | os.PathLike[str], dtype: Any = None, opset: int = OPSET) -> Path:
    """Write ``net`` as an ONNX model (atomically), so onnxruntime and Netron can open it.

    The graph takes ``x`` of shape ``(batch, sizes[0])``, one example a row, and gives
    ``a^L`` of shape ``(batch, sizes[-1])``: the outputs of :meth:`Network.feedforward`. A
    network of layers with images takes ``x`` of shape ``(batch, C, H, W)`` (torch's layout,
    the shape of Input's ``(C, H, W)``): rows of ``predict`` are ``X.reshape(-1, C, H, W)``;
    each layer is its class's operator (:mod:`nnmath.io.onnx_graph`), Dropout an ONNX
    ``Dropout`` with its ratio (an identity when not training).
    Every layer is ``z^l = W^l a^{l−1} + b^l`` as a ``Gemm`` and its σ as the operators of
    :data:`ONNX_ACTIVATIONS` (each activation declares them; where ONNX 17 has no operator of
    its own, a few exact ones, e.g. through ``Erf``).
    The network's :meth:`~Network.config` is kept in the metadata ``nnmath.config``.

    Parameters
    ----------
    net : Network
    path : path-like
        The ``.onnx`` file to write; its folder must exist.
    dtype : {"float32", "float64"}, optional
        Default float32 (see :func:`onnx_model`).
    opset : int
        At least 17, at most the installed onnx's newest (see :func:`onnx_model`).

    Returns
    -------
    Path
        The file written.
    """
    model = onnx_model(net, dtype=dtype, opset=opset)
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: the folder {path.parent} does not exist")
    with atomic_write(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


# ------------------------------------------------------------------------------ reading


def _refuse(path: object, why: str) -> ValueError:
    return ValueError(
        f"{path}: {why}; nm.from_onnx reads the graphs nm.to_onnx writes (Gemm, Conv, MaxPool, "
        "AveragePool, Flatten, Dropout, BatchNormalization, LayerNormalization and the "
        "activations of nnmath.io.onnx.ONNX_ACTIVATIONS)"
    )


def _load_model(onnx: Any, source: Any) -> tuple[Any, str]:
    if isinstance(source, onnx.ModelProto):
        return source, "the model"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return onnx.load(str(path)), str(path)
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise ValueError(f"{path}: not an ONNX model ({exc})") from exc


def _node_key(node: Any) -> tuple[Any, ...]:
    attrs = tuple(sorted((a.name, a.SerializeToString()) for a in node.attribute))
    return node.op_type, tuple(node.input), tuple(node.output), attrs


def _same_graph(onnx: Any, found: Any, expected: Any, where: str) -> None:
    """Refuse ``found`` unless its nodes, inputs, outputs and constants are ``expected``'s."""
    numpy_helper = onnx.numpy_helper
    for k, (a, b) in enumerate(zip(found.node, expected.node)):
        if _node_key(a) != _node_key(b):
            raise _refuse(where, f"node {k} ({a.op_type} {a.name!r}) is not what nm.to_onnx writes")
    if len(found.node) != len(expected.node):
        raise _refuse(
            where, f"{len(found.node)} nodes where nm.to_onnx writes {len(expected.node)}"
        )
    for io in ("input", "output"):
        got = [v.name for v in getattr(found, io)]
        want = [v.name for v in getattr(expected, io)]
        if got != want:
            raise _refuse(where, f"graph {io}s {got}, expected {want}")
    mine = {t.name: numpy_helper.to_array(t) for t in found.initializer}
    for t in expected.initializer:
        if t.name not in mine or mine[t.name].shape != tuple(t.dims):
            raise _refuse(where, f"tensor {t.name!r} is missing or has another shape")
        if "." in t.name and not t.name[0].isdigit():  # an activation's constant (<name>.sqrt2)
            if not np.allclose(mine[t.name], numpy_helper.to_array(t)):
                raise _refuse(where, f"constant {t.name!r} is {mine[t.name]}")


def from_onnx(source: Any, cost: str | None = None, init: str | None = None) -> Network:
    """Read an ONNX model written by :func:`to_onnx` back into a :class:`Network`.

    Parameters
    ----------
    source : path-like or onnx.ModelProto
    cost, init : str, optional
        The cost and init to record; default the ones of the model's ``nnmath.config``
        metadata, else the cost that suits the output (:func:`nnmath._registry.default_cost`)
        and ``"normal"``. Given both, the metadata is not read.

    Returns
    -------
    Network
        With the model's weights, in its dtype (float32 or float64).

    Raises
    ------
    ValueError
        For a file that is not ONNX, a graph that is not one :func:`to_onnx` writes (any
        other operator, wiring, attribute or constant: the message names the first one),
        NaN or infinite weights or activation parameters, or ``nnmath.config`` metadata that
        is not a JSON object naming a known cost and init (each message names the file).
    """
    onnx = _require_onnx()
    model, where = _load_model(onnx, source)
    graph = model.graph
    tensors = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    first, found, names = read_layers(graph, tensors, where, lambda why: _refuse(where, why))
    weights = [tensors[w] for w, _ in names]
    biases = [tensors[b] for _, b in names]
    dtypes = {W.dtype for W in weights} | {b.dtype for b in biases} or {np.dtype(np.float32)}
    if not dtypes <= {np.dtype(np.float32)} and not dtypes <= {np.dtype(np.float64)}:
        raise _refuse(where, f"the weights have dtypes {sorted(map(str, dtypes))}")
    for (w_name, b_name), W, b in zip(names, weights, biases):
        for name, arr in ((w_name, W), (b_name, b)):
            if not np.isfinite(arr).all():  # as nm.load: no trained network has them
                raise ValueError(f"{where}: tensor {name!r} contains NaN or infinite values")
    config = {} if cost and init else _metadata_config(model, where)
    dtype = next(iter(dtypes))
    try:  # each layer's W and b checked against the shape its input has, before it is built
        layers = [cls(**args) for cls, args in found]
        check_layers([first, *layers], {n: t.shape for n, t in tensors.items()}, dtype, "normal")
    except (TypeError, ValueError) as exc:
        raise _refuse(where, f"its layers do not fit its weights ({exc})") from None
    cost, init = cost or config.get("cost"), init or config.get("init")
    net = _network(where, first, layers, cost, init, dtype)
    net.set_parameters(weights, biases, *_states(net, tensors, where))
    _same_graph(onnx, graph, graph_of(onnx, net, dtype), where)
    return net


def _states(net: Any, tensors: dict[str, Any], where: str) -> list[Any]:
    """``[states]``: each BatchNorm's running statistics, its BatchNormalization's
    ``input_mean``, ``input_var`` (shapes checked by :func:`check_layers`); ``[]`` for a
    network without them."""
    layers = getattr(net, "stateful", [])
    states = []
    for layer, names in zip(layers, state_names(net.layers) if layers else []):
        for name in names:
            if not np.isfinite(tensors[name]).all():
                raise ValueError(f"{where}: tensor {name!r} contains NaN or infinite values")
        states.append({key: tensors[name] for key, name in zip(layer.state(), names)})
    return [states] if states else []


def _network(where: str, first: Any, layers: list, cost: Any, init: Any, dtype: Any) -> Network:
    """The network of the layers read, with the cost that suits its output by default."""
    try:
        sigma = layers[-1].activation if layers else None
        default = default_cost(sigma.name) if sigma is not None else "quadratic"
        return Network(
            [first, *layers], cost=cost or default, init=init or "normal", dtype=dtype.name, seed=0
        )
    except (ValueError, TypeError) as exc:  # a cost that refuses the output activation, ...
        raise ValueError(f"{where}: the network it describes cannot be built: {exc}") from None


def _metadata_config(model: Any, where: str) -> dict[str, Any]:
    """The ``nnmath.config`` metadata, checked as far as :func:`from_onnx` uses it (a JSON
    object whose cost and init, when given, are names nnmath knows); ``{}`` when absent."""
    text = {p.key: p.value for p in model.metadata_props}.get(_DOMAIN_NOTE) or "{}"
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(
            f"{where}: its {_DOMAIN_NOTE} metadata is not valid JSON ({exc!r:.120}); fix or "
            "delete it, or pass cost= and init="
        ) from None
    if not isinstance(config, dict):
        raise ValueError(f"{where}: its {_DOMAIN_NOTE} metadata is not a JSON object")
    for key, names in (("cost", COSTS), ("init", INITS)):
        value = config.get(key)
        if value is not None and not (isinstance(value, str) and value in names):
            raise ValueError(
                f"{where}: its {_DOMAIN_NOTE} metadata names the {key} {value!r:.60}, which "
                f"nnmath does not know ({', '.join(sorted(names))}); pass {key}= to choose one"
            )
    return config
