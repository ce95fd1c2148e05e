"""Saving and loading networks as safetensors files; conversion to and from PyTorch.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_ file holding each
layer's ``W`` and ``b`` (named like the parameters of :func:`to_torch`'s ``nn.Sequential``)
and, in the header's ``__metadata__``, the architecture as the JSON of
:meth:`Network.config`. Nothing is ever unpickled or executed: the header is read and checked
by hand (length, tensor names, dtypes, shapes, byte ranges) *before* the bytes are handed to
the safetensors library, and any problem is a :class:`ModelFileError` naming the file.
Checkpoints (:mod:`nnmath.checkpoint`) are model files with extra tensors and metadata.

One job a module:

* :mod:`nnmath.io.safetensors` — the container, checked by hand;
* :mod:`nnmath.io.model` — the model schema: :func:`save`, :func:`load`,
  :func:`write_model_file`, :func:`read_model_file`;
* :mod:`nnmath.io.layer_file` — a network of layers in a model file: its layers in the
  header (each layer's ``config()``), its tensors named by their ``to_torch`` positions;
* :mod:`nnmath.io.torch` — :func:`to_torch` / :func:`from_torch`; each activation's
  ``torch.nn`` module comes from its declaration (:data:`TORCH_ACTIVATIONS` is a view of it);
* :mod:`nnmath.io.torch_residual` — ``ResidualBlock``, the ``torch.nn`` module of a residual
  block (``σ(x + body(x))``; torch has none), made on first use;
* :mod:`nnmath.io.onnx` — :func:`to_onnx` / :func:`from_onnx` (Gemm and each activation's
  operators, from its declaration: :data:`ONNX_ACTIVATIONS`); imports ``onnx`` only when called;
* :mod:`nnmath.io.onnx_graph` — the graph, layer by layer (each layer type's operator is
  declared on its class: Conv, MaxPool, AveragePool, Flatten, Dropout, Gemm).
"""

from __future__ import annotations

from .model import (
    FORMAT,
    FORMAT_VERSION,
    layer_tensor_names,
    load,
    network_from_config,
    read_model_file,
    save,
    write_model_file,
)
from .onnx import ONNX_ACTIVATIONS, from_onnx, to_onnx
from .safetensors import ModelFileError
from .torch import TORCH_ACTIVATIONS, from_torch, to_torch

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "ONNX_ACTIVATIONS",
    "from_onnx",
    "to_onnx",
    "TORCH_ACTIVATIONS",
    "from_torch",
    "layer_tensor_names",
    "load",
    "network_from_config",
    "read_model_file",
    "save",
    "to_torch",
    "write_model_file",
]
