"""The model file: a network's weights and architecture in one safetensors file.

* tensors ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ``"2.bias"``, … — layer ``i``'s
  ``W`` (shape ``(sizes[i+1], sizes[i])``, the lecture's ``w^{i+2}``) and ``b`` under the
  index ``2 i``, which is the index of the ``nn.Linear`` in the ``nn.Sequential`` that
  :func:`nnmath.io.to_torch` builds (each Linear is followed by its activation module). So
  ``to_torch(net).load_state_dict(safetensors.torch.load_file(path))`` works as it is;
* the architecture in the header's ``__metadata__`` (strings only): ``format``,
  ``format_version``, ``nnmath_version`` and ``config``, the JSON of
  :meth:`Network.config` (sizes, activations with their parameters, cost, init, dtype).

A network of layers (:mod:`nnmath.layers`) stores its layers instead of sizes and
activations, in a file of format version 2 (:mod:`nnmath.io.layer_file`); a dense network's
file stays version 1, as every nnmath before wrote and reads it.

The container is checked by :mod:`nnmath.io.safetensors` first; here the architecture is
checked against the registries (every name must be a registered activation, cost and init)
and against the tensors. Files are written with :func:`nnmath._files.atomic_write`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from .._version import __version__
from ..activations import ACTIVATIONS, get_activation
from ..backend import to_numpy
from ..costs import COSTS
from ..init import INITS
from ..network import Network
from .layer_file import (
    LAYERS_VERSION,
    check_layers,
    layers_from_config,
    parameter_names,
    state_names,
)
from .safetensors import (
    MAX_TENSORS,
    ModelFileError,
    finite_number,
    parse_header,
    read_file_bytes,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "layer_tensor_names",
    "load",
    "network_from_config",
    "read_model_file",
    "save",
    "write_model_file",
]

FORMAT = "nnmath.network"
FORMAT_VERSION = LAYERS_VERSION  # the newest this nnmath reads (dense files are version 1)


def layer_tensor_names(i: int) -> tuple[str, str]:
    """Names of layer ``i``'s weight and bias: ``"{2i}.weight"``, ``"{2i}.bias"``.

    ``2 i`` is the position of the ``nn.Linear`` in :func:`nnmath.io.to_torch`'s ``nn.Sequential``.
    """
    return f"{2 * i}.weight", f"{2 * i}.bias"


def _network_tensors(net: Any) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for (w_name, b_name), W, b in zip(parameter_names(net), net.weights, net.biases):
        tensors[w_name] = np.ascontiguousarray(to_numpy(W))  # GPU / torch weights: to host
        tensors[b_name] = np.ascontiguousarray(to_numpy(b))
    layers = getattr(net, "stateful", [])
    for names, layer in zip(state_names(net.layers) if layers else [], layers):
        for name, value in zip(names, layer.state().values()):
            tensors[name] = np.ascontiguousarray(to_numpy(value))  # running statistics
    return tensors


def _check_savable(net: Any) -> dict[str, Any]:
    """The network's config, after checking that every part of it can be rebuilt by name."""
    config = net.config()
    for i, act in enumerate(net.activation_functions):
        if act.name not in ACTIVATIONS or type(act) is not ACTIVATIONS[act.name]:
            raise ValueError(
                f"layer {i} uses the custom activation {act.name!r}, which a model file "
                "cannot rebuild; use one of the registered activations "
                f"{sorted(ACTIVATIONS)} to save the network"
            )
    if config["cost"] not in COSTS:
        raise ValueError(
            f"the network's cost {config['cost']!r} is not a registered cost "
            f"({sorted(COSTS)}); a model file can only name registered costs"
        )
    if config["init"] not in INITS:
        raise ValueError(f"the network's init {config['init']!r} is not one of {sorted(INITS)}")
    return config


def write_model_file(
    net: Any,
    path: str | os.PathLike[str],
    extra_tensors: Mapping[str, np.ndarray] | None = None,
    extra_metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``net`` (and optional extra tensors / metadata, for checkpoints) atomically.

    Parameters
    ----------
    net : Network
    path : path-like
    extra_tensors : mapping of str to array, optional
        More tensors; their names must not look like layer tensors (``"0.weight"``).
    extra_metadata : mapping of str to str, optional
        More ``__metadata__`` entries.

    Returns
    -------
    Path
        The file written.
    """
    import safetensors.numpy

    config = _check_savable(net)
    tensors = _network_tensors(net)
    for name, arr in tensors.items():
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise ValueError(
                f"cannot save to {str(path)!r}: tensor {name!r} holds {bad} NaN or infinite "
                "values, which nnmath.load refuses; save the network before it diverged"
            )
    for name, arr in (extra_tensors or {}).items():
        if name in tensors:
            raise ValueError(f"extra tensor name {name!r} clashes with a layer tensor")
        tensors[name] = np.array(to_numpy(arr), order="C")  # (ascontiguousarray: 0-d -> 1-d)
    metadata = {
        "format": FORMAT,
        "format_version": str(LAYERS_VERSION if "layers" in config else 1),
        "nnmath_version": __version__,
        "config": json.dumps(config),
    }
    for key, value in (extra_metadata or {}).items():
        if key in metadata:
            raise ValueError(f"extra metadata key {key!r} clashes with a model key")
        metadata[key] = str(value)
    data = safetensors.numpy.save(tensors, metadata=metadata)
    path = Path(path)
    with atomic_write(path, fsync=True) as fh:  # readers see the old file or the new one
        fh.write(data)
    return path


def save(net: Any, path: str | os.PathLike[str]) -> Path:
    """Save a network's weights and architecture to one safetensors file (atomic write).

    Parameters
    ----------
    net : Network
        Its activations and cost must be registered ones (saved by name, rebuilt on load);
        a network of layers saves its layers (:mod:`nnmath.io.layer_file`).
    path : path-like
        Conventionally ``*.safetensors``. An existing file is replaced only once the new one
        is completely written.

    Returns
    -------
    Path

    Examples
    --------
    >>> import nnmath as nm
    >>> net = nm.Network([4, 3, 2], seed=0)
    >>> path = nm.save(net, "model.safetensors")        # doctest: +SKIP
    >>> nm.load(path).config() == net.config()           # doctest: +SKIP
    True
    """
    return write_model_file(net, path)


def read_model_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, str]]:
    """Read and check a model file: ``(config, tensors, metadata)``.

    The header is validated first (:func:`nnmath.io.safetensors.parse_header`), then the
    tensor bytes are decoded by ``safetensors.numpy``, then the architecture in the metadata
    is checked against the tensors: every layer present with the shape ``sizes`` implies and
    the ``dtype`` the config names, and every weight finite.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        Anything wrong with the file (a ``ValueError``).
    """
    import safetensors.numpy

    data = read_file_bytes(path)
    header, metadata, _ = parse_header(path, data)
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise ModelFileError(
            path,
            "it is a safetensors file without nnmath's architecture metadata (format "
            f"{metadata.get('format')!r}); to use bare tensors build the Network yourself, "
            "or read a PyTorch model with nnmath.from_torch",
        )
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise ModelFileError(path, "format_version is not an integer") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"it has format version {version}, newer than this nnmath reads "
            f"({FORMAT_VERSION}); upgrade nnmath",
        )
    config = _check_config(path, metadata["config"])
    if "layers" in config:  # a network of layers: its layers checked against the header
        names = _check_layered(path, config, header)
    else:
        names = [layer_tensor_names(i) for i in range(len(config["sizes"]) - 1)]
    _check_names(path, names, header, "checkpoint" in metadata)
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as exc:  # the library's SafetensorError and friends
        raise ModelFileError(path, f"safetensors could not decode it ({exc})") from None
    if "layers" in config:
        _check_values(path, names, tensors, np.dtype(config["dtype"]))
    else:
        _check_layer_tensors(path, config, tensors)
    _check_names(path, names, tensors, "checkpoint" in metadata)
    return config, tensors, metadata


def _check_layered(path: Any, config: dict[str, Any], header: dict[str, Any]) -> list:
    """A network of layers' tensor names, after checking its layers and each one's
    parameter shapes against the header, before anything of the file's size is allocated."""
    try:
        layers = layers_from_config(config["layers"])
        shapes = {name: entry["shape"] for name, entry in header.items()}
        names = check_layers(layers, shapes, np.dtype(config["dtype"]), config["init"])
        return names + state_names(layers)  # a BatchNorm's running statistics too
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from None


def _check_values(path: Any, names: list, tensors: dict[str, Any], dtype: np.dtype) -> None:
    """Every layer tensor of the architecture's dtype and finite (shapes: :func:`check_layers`)."""
    for name in (n for pair in names for n in pair):
        arr = tensors[name]
        if arr.dtype != dtype:
            raise ModelFileError(
                path, f"tensor {name!r} is {arr.dtype}, the architecture says {dtype}"
            )
        if not np.isfinite(arr).all():
            raise ModelFileError(path, f"tensor {name!r} contains NaN or infinite values")


def _check_config(path: Any, text: str) -> dict[str, Any]:
    """Parse and check the JSON architecture; unknown names are errors, nothing is evaluated."""
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(
            path, f"the architecture metadata is not valid JSON ({exc!r:.200})"
        ) from None
    if not isinstance(config, dict):
        raise ModelFileError(path, "the architecture metadata is not a JSON object")
    layered = "layers" in config
    needs = {"layers"} if layered else {"sizes", "activations"}
    missing = (needs | {"cost", "init", "dtype"}) - set(config)
    if missing:
        raise ModelFileError(path, f"the architecture metadata lacks {sorted(missing)}")
    if not layered:
        _check_dense_config(path, config)
    return _check_common(path, config)


def _check_dense_config(path: Any, config: dict[str, Any]) -> None:
    """Sizes and one registered activation per layer of weights, with their parameters."""
    sizes = config["sizes"]
    if not (
        isinstance(sizes, list)
        and 2 <= len(sizes) <= MAX_TENSORS // 2 + 1
        and all(isinstance(s, int) and not isinstance(s, bool) and 0 < s < 2**63 for s in sizes)
    ):
        raise ModelFileError(
            path, f"sizes {sizes!r:.200} is not a list of ≥ 2 positive integers (below 2**63)"
        )
    acts = config["activations"]
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise ModelFileError(
            path, f"expected {len(sizes) - 1} activations for sizes {sizes}, got {acts!r}"
        )
    for i, act in enumerate(acts):
        if not isinstance(act, dict) or not isinstance(act.get("name"), str):
            raise ModelFileError(path, f"activation {i} is malformed: {act!r}")
        if act["name"] not in ACTIVATIONS:
            raise ModelFileError(
                path,
                f"layer {i} has the unknown activation {act['name']!r}; this nnmath "
                f"knows {sorted(ACTIVATIONS)}",
            )
        params = {k: v for k, v in act.items() if k != "name"}
        takes = ACTIVATIONS[act["name"]]().params  # the parameters the registry's entry has
        unknown = sorted(k for k in params if k not in takes)
        if unknown:
            raise ModelFileError(
                path,
                f"activation {i} ({act['name']}) has unknown parameters {unknown}; it takes "
                f"{sorted(takes)}",
            )
        if not all(finite_number(v) for v in params.values()):
            raise ModelFileError(path, f"activation {i} has invalid parameters {params!r:.200}")


def _check_common(path: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The cost, init and dtype: names nnmath knows."""
    if not isinstance(config["cost"], str) or config["cost"] not in COSTS:
        raise ModelFileError(
            path, f"unknown cost {config['cost']!r}; this nnmath knows {sorted(COSTS)}"
        )
    if not isinstance(config["init"], str) or config["init"] not in INITS:
        raise ModelFileError(path, f"unknown init {config['init']!r}")
    if config["dtype"] not in ("float32", "float64"):
        raise ModelFileError(path, f"dtype {config['dtype']!r} is not float32 or float64")
    return config


def _check_names(path: Any, expected: list, names: Any, checkpoint: bool) -> None:
    """Every tensor is a layer's ``W`` or ``b`` (``expected``: their name pairs) or, in a
    checkpoint, its optimizer state ``optimizer.*`` or best weights ``best.*``, which
    :mod:`nnmath.checkpoint` checks: nothing else is ignored."""
    layers = {n for pair in expected for n in pair}
    kept = ("optimizer.", "best.") if checkpoint else ()
    extra = sorted(n for n in names if n not in layers and not n.startswith(kept))
    if extra:
        shown = ", ".join(repr(n) for pair in expected[:2] for n in pair)
        n_layers = sum(pair[0].endswith(".weight") for pair in expected)  # not the states
        raise ModelFileError(
            path,
            f"it holds tensors {extra[:5]!r:.300} that are not part of a {n_layers}-layer "
            f"network (the layers are {shown}, ...)",
        )


def _check_layer_tensors(path: Any, config: dict[str, Any], tensors: dict[str, Any]) -> None:
    sizes, dtype = config["sizes"], np.dtype(config["dtype"])
    for i in range(len(sizes) - 1):
        for name, shape in zip(layer_tensor_names(i), [(sizes[i + 1], sizes[i]), (sizes[i + 1],)]):
            if name not in tensors:
                raise ModelFileError(path, f"tensor {name!r} (layer {i}) is missing")
            arr = tensors[name]
            if arr.shape != shape:
                raise ModelFileError(
                    path, f"tensor {name!r} has shape {arr.shape}, but sizes {sizes} needs {shape}"
                )
            if arr.dtype != dtype:
                raise ModelFileError(
                    path, f"tensor {name!r} is {arr.dtype}, the architecture says {dtype}"
                )
            if not np.isfinite(arr).all():
                raise ModelFileError(path, f"tensor {name!r} contains NaN or infinite values")
    n_layers = len(sizes) - 1
    for name in tensors:
        head = name.split(".", 1)[0]
        if head.isdigit() and (int(head) % 2 or int(head) // 2 >= n_layers):
            raise ModelFileError(
                path, f"tensor {name!r} does not belong to a {n_layers}-layer network"
            )


def network_from_config(config: dict[str, Any], tensors: Mapping[str, np.ndarray]) -> Any:
    """Build the :class:`Network` a checked ``config`` describes and copy the weights in."""
    if "layers" in config:  # a network of layers: its own weights' names
        net = Network(
            layers_from_config(config["layers"]),
            cost=config["cost"],
            init=config["init"],
            dtype=config["dtype"],
            seed=0,
        )
        names = parameter_names(net)
        states = [
            dict(zip(layer.state(), (tensors[n] for n in state)))
            for layer, state in zip(net.stateful, state_names(net.layers))
        ]
        net.set_parameters(
            [tensors[w] for w, _ in names], [tensors[b] for _, b in names], states or None
        )
        return net
    acts = [
        get_activation(a["name"], **{k: v for k, v in a.items() if k != "name"})
        for a in config["activations"]
    ]
    net = Network(
        config["sizes"],
        activation=acts,
        cost=config["cost"],
        init=config["init"],
        dtype=config["dtype"],
        seed=0,
    )
    weights, biases = [], []
    for i in range(net.n_layers):
        w_name, b_name = layer_tensor_names(i)
        weights.append(tensors[w_name])
        biases.append(tensors[b_name])
    net.set_parameters(weights, biases)
    return net


def load(path: str | os.PathLike[str]) -> Any:
    """Load a network saved by :func:`save` (or a checkpoint's network).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    Network
        Same sizes, activations (with parameters), cost, init name, dtype and weights.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        A truncated, corrupted or hand-crafted file, or another format (pickle, zip, …).
        Nothing from the file is ever executed.
    """
    config, tensors, _ = read_model_file(path)
    try:
        return network_from_config(config, tensors)
    except (ValueError, TypeError) as exc:  # e.g. an output activation the cost refuses
        raise ModelFileError(path, f"the network it describes cannot be built: {exc}") from None
