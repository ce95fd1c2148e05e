"""The ONNX graph of a network, layer by layer, and the layers read back from one.

Layer ``l`` (lecture numbering: the Input is layer 1, ``net.layers[l − 1]`` layer ``l``) is
its class's operator (:attr:`nnmath.layers.Layer.onnx`, an :class:`~nnmath.layers.OnnxLayer`):

* a layer with a σ (Dense: ``Gemm``, Conv2D: ``Conv``) gives ``z{l}``, then its σ's operators
  (declared with the σ) give ``a{l}``;
* a layer without one (``MaxPool``, ``AveragePool``, ``Flatten``, ``Dropout``,
  ``BatchNormalization`` in inference form with the running statistics as its
  ``input_mean``, ``input_var``, ``LayerNormalization`` over each example) gives ``a{l}``;
* the σ-only layer is its σ's operators, from ``a{l−1}`` to ``a{l}``.

``W`` and ``b`` are named like the model file's tensors (``"0.weight"``, …,
:func:`nnmath.io.layer_file.parameter_names`). A dense network's graph is the one nnmath
always wrote: ``Gemm`` and σ per layer. The input ``x`` is ``(batch, n)`` for a vector
input and ``(batch, C, H, W)`` for images, torch's layout (what :func:`nnmath.io.to_torch`'s
module takes): a row ``(C·H·W,)`` of ``predict`` is ``X.reshape(-1, C, H, W)`` there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS, Activation, OnnxOps, get_activation, is_builtin
from ..activations._base import declared
from ..backend import to_numpy
from ..layers import LAYERS, Input, Layer, Residual
from ..layers import Activation as ActivationLayer
from .layer_file import torch_positions

__all__ = ["ONNX_ACTIVATIONS", "graph_of", "onnx_spec", "read_layers"]

#: registry name -> its ONNX operators: a live view of each activation's ``onnx``, declared
#: with its σ and σ' in :mod:`nnmath.activations._declarations`
ONNX_ACTIVATIONS: Mapping[str, OnnxOps] = declared(ACTIVATIONS, "onnx")
_OUTPUT = re.compile(r"a\d+(\.\d+)*")  # a{l}: where a layer's σ (or the layer) ends
_MAX_DEPTH = 16  # residual blocks inside residual blocks (as nnmath.io.layer_file)
_NAME = re.compile(r"layer(\d+(?:\.\d+)*)/")  # a node's layer label: "layer3.1/Gemm"


def onnx_spec(l: int, act: Activation) -> OnnxOps:
    """The ONNX operators of layer ``l``'s σ, or a ValueError naming the ones there are."""
    if not is_builtin(act):
        raise ValueError(
            f"layer {l} uses the custom activation {act.name!r}, which has no ONNX "
            f"operators; use one of {', '.join(ONNX_ACTIVATIONS)} to export the network"
        )
    spec = ONNX_ACTIVATIONS.get(act.name)
    if spec is None:
        raise ValueError(
            f"layer {l}: activation {act.name!r} has no ONNX operators here; to_onnx "
            f"handles {', '.join(ONNX_ACTIVATIONS)} (the activations that declare ONNX operators)"
        )
    return spec


def _sigma_nodes(helper: Any, l: Any, z: str, act: Activation) -> tuple[list[Any], list[str]]:
    """Layer ``l``'s σ as nodes from ``z`` to ``a{l}``; and the constants they use."""
    ops = onnx_spec(l, act).ops(act.params)
    prev, used, nodes, a = z, [], [], f"a{l}"
    for k, (op, inputs, attrs) in enumerate(ops):
        names = []
        for name in inputs:
            if name in ("$x", "$prev"):
                names.append(z if name == "$x" else prev)
            else:
                names.append(f"{act.name}.{name}")
                used.append(name)
        out = a if k == len(ops) - 1 else f"{a}/{k}"
        nodes.append(
            helper.make_node(op, names, [out], name=f"layer{l}/{act.name}/{op}{k}", **attrs)
        )
        prev = out
    return nodes, used


def _layer_node(helper: Any, l: Any, layer: Layer, a_prev: str, k: Any) -> tuple[Any, dict]:
    """Layer ``l``'s own node (its operator, attributes and inputs) and its constants."""
    spec = type(layer).onnx
    config = layer.config()
    attrs: dict[str, Any] = {
        name: [int(config[ours])] * times for name, (ours, times) in spec.attrs.items()
    }
    for name, (ours, complement) in spec.floats.items():  # ONNX's momentum is 1 − ours
        attrs[name] = 1.0 - config[ours] if complement else float(config[ours])
    inputs, constants = [a_prev], {}
    if layer.has_parameters:
        inputs += [f"{k}.weight", f"{k}.bias"]
        constants = {f"{k}.weight": layer.W, f"{k}.bias": layer.b}
    for name in spec.state:  # BatchNormalization's input_mean, input_var: the running ones
        inputs.append(f"{k}.{name}")
        constants[f"{k}.{name}"] = layer.state()[name]
    for name, ours in spec.constants.items():
        inputs.append(f"layer{l}.{name}")
        constants[f"layer{l}.{name}"] = np.array(config[ours])
    out = f"z{l}" if spec.sigma else f"a{l}"
    node = helper.make_node(
        spec.op, inputs, [out], name=f"layer{l}/{spec.op}", **attrs, **spec.fixed
    )
    return node, constants


def _layers_nodes(
    helper: Any, layers: list[Layer], a_prev: str, labels: list[Any], keys: list[Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The nodes of ``layers`` in turn from ``a_prev``, layer ``labels[i]`` writing
    ``a{label}``, its ``W``, ``b`` named ``"{keys[i]}.weight"``; and their constants."""
    nodes: list[Any] = []
    constants: dict[str, Any] = {}
    for l, layer, k in zip(labels, layers, keys):
        if isinstance(layer, Residual):
            more, consts = _block_nodes(helper, l, layer, a_prev, k)
            nodes += more
            constants.update(consts)
            a_prev = f"a{l}"
            continue
        spec = type(layer).onnx
        if spec is None:
            raise ValueError(f"{layer!r} has no ONNX operator (its class declares no onnx)")
        z = a_prev
        if spec.op is not None:
            node, consts = _layer_node(helper, l, layer, a_prev, k)
            nodes.append(node)
            constants.update(consts)
            z = node.output[0]
        if spec.op is None or spec.sigma:
            nodes += _sigma(helper, l, z, layer.activation, constants)
        a_prev = f"a{l}"
    return nodes, constants


def _sigma(helper: Any, l: Any, z: str, act: Activation, constants: dict[str, Any]) -> list:
    """Layer ``l``'s σ nodes from ``z`` to ``a{l}``, their constants put in ``constants``."""
    sigma_nodes, used = _sigma_nodes(helper, l, z, act)
    spec_ops = ONNX_ACTIVATIONS[act.name]
    constants.update({f"{act.name}.{c}": spec_ops.constants[c] for c in used})
    return sigma_nodes


def _block_nodes(
    helper: Any, l: Any, block: Residual, a_prev: str, k: Any
) -> tuple[list[Any], dict[str, Any]]:
    """A residual block at ``l``: F's nodes (layers ``l.1``, ``l.2``, …, tensors
    ``"{k}.body.{j}.weight"`` as the model file's), ``Add`` of ``a_prev`` and F's output
    into ``z{l}``, then σ into ``a{l}``."""
    labels = [f"{l}.{j}" for j in range(1, len(block.layers) + 1)]
    keys = [f"{k}.body.{j}" for j in torch_positions([block, *block.layers])]
    nodes, constants = _layers_nodes(helper, block.layers, a_prev, labels, keys)
    add = [a_prev, f"a{labels[-1]}"]  # z = a^in + F(a^in)
    nodes.append(helper.make_node("Add", add, [f"z{l}"], name=f"layer{l}/Add"))
    nodes += _sigma(helper, l, f"z{l}", block.activation, constants)
    return nodes, constants


def graph_of(onnx: Any, net: Any, dtype: np.dtype) -> Any:
    """The ONNX graph of ``net``: input ``x`` (batch, n) or (batch, C, H, W), output ``a{L}``;
    a residual block's layers are ``l.1``, ``l.2``, … then ``Add`` and σ."""
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    layers = net.layers
    labels = list(range(2, len(layers) + 1))
    nodes, constants = _layers_nodes(helper, layers[1:], "x", labels, torch_positions(layers))
    inits = {}
    for name, arr in constants.items():
        value = np.asarray(to_numpy(arr), dtype=dtype)
        inits[name] = numpy_helper.from_array(value, name)
    a_prev = f"a{len(layers)}"
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    x = helper.make_tensor_value_info("x", elem, ["batch", *layers[0].shape])
    y = helper.make_tensor_value_info(a_prev, elem, ["batch", net.sizes[-1]])
    return helper.make_graph(nodes, "nnmath.Network", [x], [y], list(inits.values()))


# ------------------------------------------------------------------------------ reading


def _match_activation(ops: list[Any], where: str) -> Activation:
    """The activation whose operators are the op types of ``ops`` (with their attributes)."""
    kinds = tuple(n.op_type for n in ops)
    for name, spec in ONNX_ACTIVATIONS.items():
        defaults = get_activation(name).params
        if tuple(op for op, _, _ in spec.ops(defaults)) != kinds:
            continue
        attrs = {a.name: a for a in ops[0].attribute} if ops else {}
        # an attribute is a float32: its shortest decimal is the float64 that was written
        params = {
            p: float(str(np.float32(attrs[a].f))) for p, a in spec.params.items() if a in attrs
        }
        if not all(np.isfinite(v) for v in params.values()):  # nm.load refuses them too
            raise ValueError(f"{where}: {name}'s parameters {params} are not finite")
        return get_activation(name, **params)
    raise ValueError(f"{where}: the operators {list(kinds) or '(none)'} are no nnmath activation")


def _sigmas(group: list[Any], where: str) -> list[Activation]:
    """The σ of each run of nodes of ``group`` that ends in an ``a{l}`` output."""
    runs, run = [], []
    for node in group:
        run.append(node)
        if _OUTPUT.fullmatch(node.output[0] if node.output else ""):
            runs.append(run)
            run = []
    if not run and runs:
        try:
            return [_match_activation(r, where) for r in runs]
        except ValueError:
            pass  # named below, every operator of the group as one
    _match_activation(group, where)
    raise ValueError(
        f"{where}: the operators {[n.op_type for n in group]} do not end in the outputs "
        "a2, a3, ... nm.to_onnx names"
    )


def _scalar(arr: np.ndarray) -> float:
    """A scalar constant as the float64 that was written (float32: its shortest decimal)."""
    value = arr.reshape(-1)[0] if arr.size == 1 else np.nan
    return float(str(value)) if arr.dtype == np.float32 else float(value)


def _layer_args(node: Any, cls: type[Layer], tensors: Mapping[str, Any], fail: Callable) -> dict:
    """The constructor arguments of ``cls`` the node holds: its attributes (equal entries,
    square windows), the shape of its ``W``, its scalar constants."""
    spec = cls.onnx
    found = {a.name: list(a.ints) for a in node.attribute}
    args: dict[str, Any] = {}
    for name, (ours, _) in spec.attrs.items():  # type: ignore[union-attr]
        values = found.get(name)
        if values is None or len(set(values)) != 1:
            raise fail(f"node {node.name!r} has {name}={values} (nnmath's windows are square)")
        args[ours] = values[0]
    args.update(_float_args(node, cls, fail))
    inputs = list(node.input)
    first = 1 + 2 * cls.has_parameters + len(spec.state)  # type: ignore[union-attr]
    needs = first + len(spec.constants)  # type: ignore[union-attr]
    if len(inputs) != needs or any(n not in tensors for n in inputs[1:]):
        raise fail(f"node {node.name!r} has inputs {inputs} (its constants: graph initializers)")
    if spec.weights:  # type: ignore[union-attr]
        W = tensors[inputs[1]]
        for ours, axis in spec.weights.items():  # type: ignore[union-attr]
            args[ours] = int(W.shape[axis]) if W.ndim > axis else 0
    for j, ours in enumerate(spec.constants.values(), start=first):  # type: ignore[union-attr]
        args[ours] = _scalar(tensors[inputs[j]])
    return args


def _float_args(node: Any, cls: type[Layer], fail: Callable) -> dict[str, float]:
    """The constructor arguments of ``cls`` in the node's float attributes (a float32: its
    shortest decimal is the float64 that was written; ``1 − value`` for ONNX's momentum)."""
    found = {a.name: a.f for a in node.attribute}
    args = {}
    for name, (ours, complement) in cls.onnx.floats.items():  # type: ignore[union-attr]
        if name not in found or not np.isfinite(found[name]):
            raise fail(f"node {node.name!r} has no finite {name} attribute")
        value = float(str(np.float32(found[name])))
        args[ours] = float(str(np.float32(1.0 - value))) if complement else value
    return args


def read_layers(graph: Any, tensors: Mapping[str, Any], where: str, fail: Callable) -> tuple:
    """``(Input, [(layer class, arguments)], [(weight name, bias name)])`` of a graph
    :func:`graph_of` writes (``fail(why)`` makes the error to raise)."""
    ops = {c.onnx.op: c for c in LAYERS.values() if c.onnx and c.onnx.op}
    nodes = list(graph.node)
    firsts = {s.ops(get_activation(n).params)[0][0] for n, s in ONNX_ACTIVATIONS.items()}
    if not nodes or (nodes[0].op_type not in ops and nodes[0].op_type not in firsts):
        raise fail("the graph does not start with a Gemm (or another layer's operator)")
    dims = (
        [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]] if graph.input else []
    )
    try:
        first = Input(dims[0] if len(dims) == 1 else tuple(dims))
    except (TypeError, ValueError):
        why = f"the input x has shape (batch, {dims}), not (batch, n) or (batch, C, H, W)"
        raise fail(why) from None
    found, names = _read_nodes(nodes, tensors, where, fail, 1)
    return first, found, names


def _label(node: Any) -> tuple[str, ...]:
    """The layer label a node's name starts with: ``("3", "1")`` for ``"layer3.1/Gemm"``."""
    match = _NAME.match(node.name)
    return tuple(match.group(1).split(".")) if match else ()


def _read_nodes(
    nodes: list[Any], tensors: Mapping[str, Any], where: str, fail: Callable, depth: int
) -> tuple:
    """``([(layer class, arguments)], [(weight name, bias name)])`` of ``nodes``, the layers
    of one level (labels of ``depth`` parts; longer ones belong to a residual block)."""
    ops = {c.onnx.op: c for c in LAYERS.values() if c.onnx and c.onnx.op}
    inner = lambda node: len(_label(node)) > depth  # noqa: E731 (a block's F)
    found: list[tuple[type[Layer], dict]] = []
    names, k = [], 0
    while k < len(nodes):
        if inner(nodes[k]):
            k = _read_block(nodes, k, tensors, where, fail, depth, found, names)
            continue
        cls = ops.get(nodes[k].op_type)
        if cls is not None:
            node, k = nodes[k], k + 1
            found.append((cls, _layer_args(node, cls, tensors, fail)))
            if cls.has_parameters:
                names.append((node.input[1], node.input[2]))
        group = []
        while k < len(nodes) and nodes[k].op_type not in ops and not inner(nodes[k]):
            group.append(nodes[k])
            k += 1
        after = f"{where}: after {nodes[k - len(group) - 1].name!r}" if found else where
        sigmas = _sigmas(group, after) if group else []
        if cls is not None and cls.onnx.sigma:  # type: ignore[union-attr]
            found[-1][1]["activation"] = sigmas.pop(0) if sigmas else ACTIVATIONS["identity"]()
        found += [(ActivationLayer, {"name": s}) for s in sigmas]
    return found, names


def _read_block(
    nodes: list[Any],
    k: int,
    tensors: Any,
    where: str,
    fail: Callable,
    depth: int,
    found: list,
    names: list,
) -> int:
    """Read the residual block whose F starts at ``nodes[k]`` (its layers ``l.1``, …, then
    ``Add`` and σ) into ``found`` and ``names``; returns the position after it."""
    label = _label(nodes[k])[:depth]
    if depth > _MAX_DEPTH:  # a name as layer3.1.1.1...: no recursion without end
        raise fail(f"node {nodes[k].name!r:.80}: blocks nested deeper than {_MAX_DEPTH}")
    end = k
    while (
        end < len(nodes) and _label(nodes[end])[:depth] == label and len(_label(nodes[end])) > depth
    ):
        end += 1
    l = ".".join(label)
    if end == len(nodes) or nodes[end].op_type != "Add" or nodes[end].name != f"layer{l}/Add":
        raise fail(f"block {l}: its layers are not followed by the Add node layer{l}/Add")
    inner, inner_names = _read_nodes(nodes[k:end], tensors, where, fail, depth + 1)
    group, end = [], end + 1
    while end < len(nodes) and _label(nodes[end]) == label:
        group.append(nodes[end])
        end += 1
    sigmas = _sigmas(group, f"{where}: block {l}") if group else [ACTIVATIONS["identity"]()]
    if len(sigmas) != 1:
        raise fail(f"block {l}: one σ follows its Add, found {len(sigmas)}")
    layers = [cls(**args) for cls, args in inner]
    found.append((Residual, {"layers": layers, "activation": sigmas[0]}))
    names += inner_names
    return end
