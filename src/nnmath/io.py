"""Saving and loading networks as safetensors files; conversion to and from PyTorch.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_ file:

* tensors ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ``"2.bias"``, … — layer ``i``'s
  ``W`` (shape ``(sizes[i+1], sizes[i])``, the lecture's ``w^{i+2}``) and ``b`` under the
  index ``2 i``, which is the index of the ``nn.Linear`` in the ``nn.Sequential`` that
  :func:`to_torch` builds (each Linear is followed by its activation module). So
  ``to_torch(net).load_state_dict(safetensors.torch.load_file(path))`` works as it is;
* the architecture in the header's ``__metadata__`` (strings only): ``format``,
  ``format_version``, ``nnmath_version`` and ``config``, the JSON of
  :meth:`Network.config` (sizes, activations with their parameters, cost, init, dtype).

Nothing is ever unpickled or executed: the header is a JSON object that is read and checked
here (length, tensor names, dtypes, shapes, byte ranges) *before* the bytes are handed to the
safetensors library, and any problem is a :class:`ModelFileError` naming the file.
Checkpoints (:mod:`nnmath.checkpoint`) are model files with extra tensors and metadata.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .backend import to_numpy

__all__ = [
    "ModelFileError",
    "save",
    "load",
    "read_model_file",
    "write_model_file",
    "layer_tensor_names",
    "to_torch",
    "from_torch",
]

FORMAT = "nnmath.network"
FORMAT_VERSION = 1
_MAX_HEADER = 100_000_000  # the safetensors library's own limit
_ITEMSIZE = {"F32": 4, "F64": 8, "I64": 8}  # the dtypes nnmath writes
_NUMPY_DTYPE = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
_SIGNATURES = (  # what a file that is not safetensors may be, by its first bytes
    (b"PK\x03\x04", "a zip archive (torch.save, np.savez or a Keras file?)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x89PNG", "a PNG image"),
)


class ModelFileError(ValueError):
    """A model file that cannot be loaded: truncated, corrupted, hand-crafted or another format.

    Attributes
    ----------
    path : str
        The file.
    problem : str
        What is wrong with it.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"cannot load model file {str(path)!r}: {problem}")


# ---------------------------------------------------------------------------- names


def layer_tensor_names(i: int) -> tuple[str, str]:
    """Names of layer ``i``'s weight and bias: ``"{2i}.weight"``, ``"{2i}.bias"``.

    ``2 i`` is the position of the ``nn.Linear`` in :func:`to_torch`'s ``nn.Sequential``.
    """
    return f"{2 * i}.weight", f"{2 * i}.bias"


def _network_tensors(net: Any) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for i, (W, b) in enumerate(zip(net.weights, net.biases)):
        w_name, b_name = layer_tensor_names(i)
        tensors[w_name] = np.ascontiguousarray(to_numpy(W))  # GPU / torch weights: to host
        tensors[b_name] = np.ascontiguousarray(to_numpy(b))
    return tensors


def _check_savable(net: Any) -> dict[str, Any]:
    """The network's config, after checking that every part of it can be rebuilt by name."""
    from .activations import ACTIVATIONS
    from .costs import COSTS
    from .init import INITS

    config = net.config()
    for i, act in enumerate(config["activations"]):
        if (
            act["name"] not in ACTIVATIONS
            or type(net.activation_functions[i]) is not ACTIVATIONS[act["name"]]
        ):
            raise ValueError(
                f"layer {i} uses the custom activation {act['name']!r}, which a model file "
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


# ---------------------------------------------------------------------------- writing


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it.

    Readers see either the old file or the complete new one, never a half-written file; on
    any error the temporary file is removed and ``path`` is left as it was.
    """
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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

    from . import __version__

    config = _check_savable(net)
    tensors = _network_tensors(net)
    for name, arr in (extra_tensors or {}).items():
        if name in tensors:
            raise ValueError(f"extra tensor name {name!r} clashes with a layer tensor")
        tensors[name] = np.array(to_numpy(arr), order="C")  # (ascontiguousarray: 0-d -> 1-d)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "nnmath_version": __version__,
        "config": json.dumps(config),
    }
    for key, value in (extra_metadata or {}).items():
        if key in metadata:
            raise ValueError(f"extra metadata key {key!r} clashes with a model key")
        metadata[key] = str(value)
    data = safetensors.numpy.save(tensors, metadata=metadata)
    path = Path(path)
    _atomic_write(path, data)
    return path


def save(net: Any, path: str | os.PathLike[str]) -> Path:
    """Save a network's weights and architecture to one safetensors file (atomic write).

    Parameters
    ----------
    net : Network
        Its activations and cost must be registered ones (saved by name, rebuilt on load).
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


# ---------------------------------------------------------------------------- reading


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no model file at {str(p)!r}")
    if p.is_dir():
        raise ModelFileError(p, "it is a directory, not a file")
    return p.read_bytes()


def _parse_header(path: Any, data: bytes) -> tuple[dict[str, Any], dict[str, str], int]:
    """Check the safetensors header by hand: (tensor entries, metadata, start of the data)."""
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            raise ModelFileError(path, f"this is {what}, not a safetensors file")
    n = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else None
    # A pickle starts with PROTO (0x80) and its protocol; so can a safetensors length field
    # (896 is 80 03 00 ...), whose header then starts with "{".
    looks_safetensors = n is not None and n <= len(data) - 8 and data[8:9] == b"{"
    if not looks_safetensors and len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        raise ModelFileError(
            path, "this is a Python pickle; nnmath never loads pickles (they can run code)"
        )
    if n is None:
        raise ModelFileError(
            path, f"it is {len(data)} bytes long, too short for a safetensors header"
        )
    if n == 0 or n > _MAX_HEADER or n > len(data) - 8:
        raise ModelFileError(
            path,
            f"the header length field says {n} bytes but {len(data) - 8} bytes follow it "
            "(a truncated file, or not a safetensors file)",
        )
    raw = data[8 : 8 + n]
    if raw[:1] != b"{":
        raise ModelFileError(path, "the header is not a JSON object (not a safetensors file)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(path, f"the header is not valid JSON ({exc!r:.200})") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ModelFileError(path, "__metadata__ must map strings to strings")
    buffer_len = len(data) - 8 - n
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(path, f"tensor {name!r} has a malformed header entry")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _ITEMSIZE:
            raise ModelFileError(
                path,
                f"tensor {name!r} has dtype {dtype!r}; nnmath files hold only {sorted(_ITEMSIZE)}",
            )
        if not (
            isinstance(shape, list)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
        ):
            raise ModelFileError(path, f"tensor {name!r} has an invalid shape {shape!r}")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= buffer_len
        ):
            raise ModelFileError(
                path,
                f"tensor {name!r} has byte range {offsets!r} outside the "
                f"{buffer_len}-byte data section (truncated or corrupted file)",
            )
        expected = math.prod(shape) * _ITEMSIZE[dtype]
        if offsets[1] - offsets[0] != expected:
            raise ModelFileError(
                path,
                f"tensor {name!r} of shape {shape} and dtype {dtype} needs {expected} "
                f"bytes but its byte range holds {offsets[1] - offsets[0]}",
            )
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise ModelFileError(
                path,
                f"tensor {name!r} starts at byte {begin}, expected {end} "
                "(overlapping or missing data)",
            )
        end = stop
    if end != buffer_len:
        raise ModelFileError(
            path, f"the tensors cover {end} bytes but the data section has {buffer_len}"
        )
    return header, metadata, 8 + n


def read_model_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, str]]:
    """Read and check a model file: ``(config, tensors, metadata)``.

    The header is validated first (see :func:`_parse_header`), then the tensor bytes are
    decoded by ``safetensors.numpy``, then the architecture in the metadata is checked
    against the tensors: every layer present with the shape ``sizes`` implies and the
    ``dtype`` the config names, and every weight finite.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        Anything wrong with the file (a ``ValueError``).
    """
    import safetensors.numpy

    data = _read_bytes(path)
    header, metadata, _ = _parse_header(path, data)
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
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as exc:  # the library's SafetensorError and friends
        raise ModelFileError(path, f"safetensors could not decode it ({exc})") from None
    _check_layer_tensors(path, config, tensors)
    return config, tensors, metadata


def _check_config(path: Any, text: str) -> dict[str, Any]:
    """Parse and check the JSON architecture; unknown names are errors, nothing is evaluated."""
    from .activations import ACTIVATIONS
    from .costs import COSTS
    from .init import INITS

    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(
            path, f"the architecture metadata is not valid JSON ({exc!r:.200})"
        ) from None
    if not isinstance(config, dict):
        raise ModelFileError(path, "the architecture metadata is not a JSON object")
    missing = {"sizes", "activations", "cost", "init", "dtype"} - set(config)
    if missing:
        raise ModelFileError(path, f"the architecture metadata lacks {sorted(missing)}")
    sizes = config["sizes"]
    if not (
        isinstance(sizes, list)
        and len(sizes) >= 2
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)
    ):
        raise ModelFileError(path, f"sizes {sizes!r} is not a list of ≥ 2 positive integers")
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
        if any(
            k != "alpha" or not isinstance(v, (int, float)) or not math.isfinite(v)
            for k, v in params.items()
        ):
            raise ModelFileError(path, f"activation {i} has invalid parameters {params!r}")
    if config["cost"] not in COSTS:
        raise ModelFileError(
            path, f"unknown cost {config['cost']!r}; this nnmath knows {sorted(COSTS)}"
        )
    if config["init"] not in INITS:
        raise ModelFileError(path, f"unknown init {config['init']!r}")
    if config["dtype"] not in ("float32", "float64"):
        raise ModelFileError(path, f"dtype {config['dtype']!r} is not float32 or float64")
    return config


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
    from .activations import get_activation
    from .network import Network

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
    return network_from_config(config, tensors)


# ---------------------------------------------------------------------------- PyTorch


def _torch_activation(act: Any) -> Any:
    import torch.nn as nn

    name = act.name
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=act.alpha)
    if name == "elu":
        return nn.ELU(alpha=act.alpha)
    if name == "softmax":
        return nn.Softmax(dim=1)  # rows are examples in PyTorch
    if name == "identity":
        return nn.Identity()
    raise ValueError(
        f"activation {name!r} has no PyTorch module here; to_torch handles sigmoid, tanh, "
        "relu, leaky_relu, elu, softmax and identity"
    )


def to_torch(net: Any) -> Any:
    """An equivalent ``torch.nn.Sequential``: ``Linear, σ, Linear, σ, …``.

    Layer ``i`` becomes ``nn.Linear(sizes[i], sizes[i+1])`` at index ``2 i`` (its ``weight``
    is our ``W`` of shape ``(n_out, n_in)``, no transpose) followed by its activation module
    at ``2 i + 1`` (``nn.Identity()`` for identity, ``nn.Softmax(dim=1)`` for softmax). The
    parameters are copies in the network's dtype. So ``module.state_dict()`` has the same
    names as a model file.

    Parameters
    ----------
    net : Network

    Returns
    -------
    torch.nn.Sequential
    """
    import torch
    import torch.nn as nn

    dtype = torch.float64 if np.dtype(net.dtype) == np.float64 else torch.float32
    modules: list[Any] = []
    for W, b, act in zip(net.weights, net.biases, net.activation_functions):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(to_numpy(W))))
            linear.bias.copy_(torch.from_numpy(np.array(to_numpy(b))))
        modules += [linear, _torch_activation(act)]
    return nn.Sequential(*modules)


def _flatten(module: Any) -> list[Any]:
    import torch.nn as nn

    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _flatten(child)]
    return [module]


def from_torch(module: Any, cost: str | None = None, init: str = "normal") -> Any:
    """Read a ``torch.nn.Sequential`` of Linear layers and activations into a :class:`Network`.

    Each ``nn.Linear`` may be followed by one of ``Sigmoid``, ``Tanh``, ``ReLU``,
    ``LeakyReLU`` (its ``negative_slope`` becomes ``alpha``), ``ELU`` (``alpha``),
    ``Softmax(dim=1)`` or ``Identity``; a Linear with none is an identity layer. Nested
    ``Sequential`` modules are flattened.

    Parameters
    ----------
    module : torch.nn.Sequential (or one nn.Linear)
    cost : str, optional
        The cost to record; by default ``log_likelihood`` after a softmax output,
        ``cross_entropy`` after a sigmoid output, else ``quadratic``.
    init : str
        The init name to record (the weights come from the module).

    Returns
    -------
    Network
        In float64 when the module's parameters are float64, else float32.

    Raises
    ------
    ValueError
        For a layer nnmath has no counterpart of, two activations in a row, a Linear whose
        input size does not match the previous output, or parameters of another dtype.
    """
    import torch
    import torch.nn as nn

    from .activations import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
    from .network import Network

    simple = {nn.Sigmoid: Sigmoid, nn.Tanh: Tanh, nn.ReLU: ReLU, nn.Identity: Identity}
    layers: list[list[Any]] = []  # [linear, activation or None]
    for pos, leaf in enumerate(_flatten(module)):
        kind = type(leaf)
        if kind is nn.Linear:
            layers.append([leaf, None])
            continue
        if kind in simple:
            act = simple[kind]()
        elif kind is nn.LeakyReLU:
            act = LeakyReLU(alpha=leaf.negative_slope)
        elif kind is nn.ELU:
            act = ELU(alpha=leaf.alpha)
        elif kind is nn.Softmax:
            if leaf.dim not in (1, -1):
                raise ValueError(
                    f"layer {pos} is Softmax(dim={leaf.dim}); nnmath's softmax normalises each "
                    "example (row), i.e. Softmax(dim=1)"
                )
            act = Softmax()
        else:
            raise ValueError(
                f"layer {pos} ({kind.__name__}) has no nnmath counterpart; from_torch reads "
                "Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softmax and Identity"
            )
        if not layers:
            raise ValueError(f"layer {pos} ({kind.__name__}) comes before any Linear layer")
        if layers[-1][1] is not None:
            raise ValueError(
                f"layer {pos} ({kind.__name__}) follows another activation; nnmath has one "
                "activation per Linear layer"
            )
        layers[-1][1] = act
    if not layers:
        raise ValueError("the module has no Linear layer")
    sizes = [layers[0][0].in_features]
    for i, (linear, _) in enumerate(layers):
        if linear.in_features != sizes[-1]:
            raise ValueError(
                f"Linear layer {i} takes {linear.in_features} inputs but the layer before it "
                f"gives {sizes[-1]}"
            )
        sizes.append(linear.out_features)
    dtypes = {p.dtype for p in module.parameters()}
    if dtypes - {torch.float32, torch.float64} or len(dtypes) > 1:
        raise ValueError(
            f"parameters have dtypes {sorted(map(str, dtypes))}; nnmath reads modules whose "
            "parameters are all float32 or all float64 (call module.float() or .double())"
        )
    dtype = "float64" if dtypes == {torch.float64} else "float32"
    acts = [act if act is not None else Identity() for _, act in layers]
    if cost is None:
        cost = {"softmax": "log_likelihood", "sigmoid": "cross_entropy"}.get(
            acts[-1].name, "quadratic"
        )
    net = Network(sizes, activation=acts, cost=cost, init=init, dtype=dtype, seed=0)
    weights, biases = [], []
    for linear, _ in layers:
        weights.append(linear.weight.detach().cpu().numpy())
        bias = linear.bias
        biases.append(
            bias.detach().cpu().numpy() if bias is not None else np.zeros(linear.out_features)
        )
    net.set_parameters(weights, biases)
    return net
