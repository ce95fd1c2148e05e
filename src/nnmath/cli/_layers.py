"""``--layers "conv(20,5,relu) pool(2) dense(10,softmax)"`` and ``--expanded`` of ``nnmath
train`` (and ``nnmath plot``): a network of layers described on the command line, the
expanded training set, and the options that do not go with them."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import CLIError

__all__ = [
    "DENSE_ONLY",
    "check_layer_options",
    "layers_help",
    "check_expanded",
    "layer_network",
    "refuse_save_early",
]

#: options of a dense network that a description of layers replaces, and what replaces them
DENSE_ONLY = {
    "sizes": "the layers are the description",
    "activation": "write σ in each layer, e.g. conv(20,5,relu) dense(100,relu)",
    "output_activation": "write the output's σ in the last layer, e.g. dense(10,softmax)",
    "dropout": "put dropout(P) in the description where it drops",
}


#: the data sets of nnmath.data.LOADERS whose loaders take ``expanded=``
EXPANDABLE = ("mnist", "fashion-mnist")


def layers_help() -> str:
    """``--layers``' help: an example, the words and what each takes."""
    from ..layers.language import EXAMPLE, form, vocabulary

    words = sorted({(*cls.words, cls.name)[0] for cls in vocabulary().values()})
    return (
        f'a network of layers instead of --sizes, e.g. "{EXAMPLE}" (the input is the data '
        "set's: 1x28x28 for MNIST, 1x8x8 for digits). Layers: "
        + ", ".join(form(word) for word in words)
        + "; keywords too, conv(20,5,stride=2,act=relu) (default: a dense network, --sizes)"
    )


def check_layer_options(args: argparse.Namespace) -> None:
    """Before any data is loaded: ``--layers``' syntax (its text made canonical in
    ``args.layers``), and no option of a dense network beside it."""
    text = getattr(args, "layers", None)
    if text is None:
        return
    given = [k for k in DENSE_ONLY if getattr(args, k, None) not in (None, [])]
    if given:
        option = "--" + given[0].replace("_", "-")
        raise CLIError(f"{option} does not apply to --layers: {DENSE_ONLY[given[0]]}")
    from ..layers import describe, parse

    try:
        args.layers = describe(parse(text))
    except ValueError as err:
        raise CLIError(f"--layers: {err}") from None


def check_expanded(args: argparse.Namespace) -> None:
    """``--expanded`` only with MNIST-style data (the loader then says, when the files are
    missing, that ``nnmath data expand`` makes them)."""
    from ..data import LOADERS, dataset_key

    key = dataset_key(args.dataset)
    if getattr(args, "expanded", False) and key in LOADERS and key not in EXPANDABLE:
        raise CLIError(
            f"--expanded takes MNIST-style data ({', '.join(EXPANDABLE)} or a folder of IDX "
            f"files); {key} has no expanded training set"
        )


def layer_network(args: argparse.Namespace, data: Any) -> Any:
    """The network ``--layers`` describes on ``data``'s input shape and classes, with the
    options that apply to it (cost, init, seed, dtype, backend, device)."""
    from .. import Network
    from ..layers import parse

    try:
        layers = parse(args.layers, data.input_shape, data.n_classes)
    except ValueError as err:
        raise CLIError(f"--layers on {data.name} {data.input_shape}: {err}") from None
    return Network(
        layers,
        cost=args.cost,
        init=args.init,
        seed=args.seed,
        dtype=args.dtype,
        backend=getattr(args, "backend", "numpy"),
        device=getattr(args, "device", None),
    )


def refuse_save_early(args: argparse.Namespace, net: Any) -> None:
    """``--save`` of a network of layers that ``nnmath.io.save`` cannot write yet is refused
    before training (its own refusal, tried on the untrained network in a scratch folder),
    not after the run."""
    if not getattr(args, "save", None) or not getattr(net, "layered", False):
        return
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as scratch:
        try:
            net.save(Path(scratch) / "probe.safetensors")
        except NotImplementedError as err:
            raise CLIError(f"--save: {err}") from None
