"""``nnmath export``: a saved model (.safetensors) as an ONNX file for onnxruntime and Netron."""

from __future__ import annotations

import argparse
from typing import Any

from ..backend import DTYPES
from ._common import CLIError, add_output_options, emit_json

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write a saved model (.safetensors) as ONNX (onnxruntime, Netron)",
        description="Read a model saved by 'nnmath train --save' or Network.save and write it "
        "as an ONNX model: one Gemm per layer (z^l = W^l a^{l-1} + b^l) followed by the "
        "operators of its activation. Needs the onnx package (pip install 'nnmath[onnx]').",
    )
    p.add_argument("model", metavar="MODEL", help="the saved model file (.safetensors)")
    p.add_argument("output", metavar="OUTPUT", help="the ONNX file to write (.onnx)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, at least 17 (default 17)")
    p.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default="float32",
        help="tensor dtype (default float32; onnxruntime has no float64 Elu, Erf, Softplus)",
    )
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from ..io import load
    from ..io.onnx import to_onnx

    if not os.path.isfile(args.model):
        raise CLIError(f"{args.model}: no such file (expected a .safetensors model file)")
    if not args.output.endswith(".onnx"):
        raise CLIError(f"{args.output}: the output file should end in .onnx")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise CLIError(f"{args.output}: the folder {folder} does not exist")
    net = load(args.model)
    path = to_onnx(net, args.output, dtype=args.dtype, opset=args.opset)
    result = {
        "model": args.model,
        "output": str(path),
        "sizes": list(net.sizes),
        "activations": [a.name for a in net.activation_functions],
        "opset": args.opset,
        "dtype": args.dtype,
        "bytes": path.stat().st_size,
    }
    args.result = result
    if args.json:
        emit_json(result)
    elif not args.quiet:
        print(
            f"wrote {path} ({result['bytes']:,} bytes): sizes "
            f"{','.join(map(str, result['sizes']))}, activations "
            f"{','.join(result['activations'])}, opset {args.opset}, {args.dtype}"
        )
    return 0
