"""``nnmath plot``: draw the lecture's activations, or figures of a trained network, to PNG/SVG."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ._common import (
    CLIError,
    Parser,
    add_output_options,
    check_output_path,
    emit_json,
    positive_int,
    require_extra,
)
from ._figures import class_names, curves_title, write_training_plots
from ._options import add_training_options
from .train import train_network

__all__ = ["FORMATS", "add_parser", "run", "write_training_plots"]

#: file formats ``--out`` accepts (from its suffix)
FORMATS = ("png", "svg", "pdf")

_KINDS = {
    "activations": "the lecture's activations σ(z) and derivatives σ'(z) (no data needed)",
    "curves": "cost and accuracy per epoch, training and validation",
    "confusion": "confusion matrix of a trained network on a data split",
    "misclassified": "grid of misclassified images (image data sets)",
    "histograms": "per layer, the distribution of a^l (z^l, δ^l) over the epochs, the "
    "percentiles of z^l, and the update-to-data ratio ‖Δw^l‖/‖w^l‖ per layer",
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        help="draw activations, learning curves, confusion matrix, misclassified images, "
        "histograms of every layer",
        description="Draw a figure to a PNG, SVG or PDF file (format from the --out suffix). "
        "curves, confusion, misclassified and histograms train a quick network with the same "
        "options as 'nnmath train', or read a saved one with --model.",
    )
    kinds = p.add_subparsers(
        dest="kind", metavar="KIND", title="figures", required=True, parser_class=Parser
    )
    for kind, help_text in _KINDS.items():
        k = kinds.add_parser(
            kind, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        k.add_argument(
            "--out",
            "-o",
            default=f"{kind}.png",
            metavar="FILE",
            help=f"output file, .png, .svg or .pdf; a missing folder is created "
            f"(default {kind}.png)",
        )
        k.add_argument(
            "--dpi", type=positive_int, default=100, help="resolution of PNG output (default 100)"
        )
        if kind == "activations":
            k.add_argument("--z-min", type=float, default=-5.0, help="left end of z (default -5)")
            k.add_argument("--z-max", type=float, default=5.0, help="right end of z (default 5)")
            k.add_argument(
                "--alpha-leaky",
                type=float,
                default=0.1,
                help="leaky ReLU slope α drawn (default 0.1)",
            )
            k.add_argument("--alpha-elu", type=float, default=1.0, help="ELU α (default 1)")
        else:
            k.add_argument(
                "--model",
                metavar="FILE",
                default=None,
                help="a saved model or a training checkpoint (nnmath train --save / "
                "--checkpoint, .safetensors) instead of training one here"
                + _MODEL_NOTES.get(kind, "")
                + " (default: train one)",
            )
            if kind != "curves":
                k.add_argument(
                    "--split",
                    choices=["test", "validation", "train"],
                    default="test",
                    help="data split to evaluate (default test)",
                )
            if kind == "histograms":
                _add_histogram_options(k)
            if kind == "misclassified":
                k.add_argument(
                    "--max-images",
                    type=positive_int,
                    default=24,
                    help="at most this many images (default 24)",
                )
            group = k.add_argument_group("training (when no --model is given)")
            add_training_options(group)  # type: ignore[arg-type]
        add_output_options(k)
        k.set_defaults(run=run)


#: what --model reads for a figure of the history
_MODEL_NOTES = {
    "curves": "; curves needs a checkpoint, which holds the history",
    "histograms": "; a checkpoint of a run with histograms draws them over its epochs, any "
    "other model is measured once on --split",
}


def _add_histogram_options(k: Any) -> None:
    k.add_argument(
        "--quantity",
        choices=["a", "z", "delta"],
        default="a",
        help="whose histograms: the activations a^l, the weighted inputs z^l or the errors "
        "δ^l (default a)",
    )
    k.add_argument(
        "--log-y",
        action="store_true",
        default=None,
        help="a log scale for the histograms' fractions (default: for delta only)",
    )
    k.add_argument(
        "--rows",
        type=positive_int,
        default=1000,
        help="measure a --model without histograms on the first ROWS rows of --split "
        "(default 1000)",
    )


def _check_out(path: str) -> Path:
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise CLIError(
            f"--out {path}: unknown image format {out.suffix or '(no suffix)'!r}; "
            f"end the file name with one of {', '.join('.' + f for f in FORMATS)}"
        )
    return out


def _load_model(path: str) -> Any:
    import nnmath

    if not hasattr(nnmath, "load"):
        raise CLIError("this nnmath has no model files yet (nnmath.load is missing)")
    if not os.path.exists(path):
        raise CLIError(f"--model {path}: no such file")
    return nnmath.load(path)


def _checkpoint_history(path: str) -> Any:
    """The training history a checkpoint (``nnmath train --checkpoint``) holds; ``None`` for
    a saved model, which has none."""
    import json

    from ..callbacks import History
    from ..io import read_model_file

    _, _, metadata = read_model_file(path)
    if "checkpoint" not in metadata:
        return None
    try:
        fields = json.loads(metadata["checkpoint"])["history"]
        return History(**{k: v for k, v in fields.items() if k in History.__dataclass_fields__})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CLIError(f"--model {path}: the checkpoint's history is malformed ({exc})") from None


def _network_and_data(args: argparse.Namespace, show: bool) -> tuple[Any, Any, Any]:
    """A trained network, its history (None for a loaded model without one) and the data."""
    if getattr(args, "model", None):
        from ..data import load_dataset

        net = _load_model(args.model)
        data = load_dataset(args.dataset)
        if net.sizes[0] != data.n_features:
            raise CLIError(
                f"the model expects {net.sizes[0]} inputs (sizes[0]) but data set "
                f"{data.name!r} has {data.n_features} features: pick the matching --dataset"
            )
        wants = args.kind in ("curves", "histograms")
        history = _checkpoint_history(args.model) if wants else None
        return net, history, data
    args.histograms = args.kind == "histograms"  # nnmath train's watchers record them
    net, history, data, _ = train_network(args, show, monitor_training_accuracy=True)
    return net, history, data


def run(args: argparse.Namespace) -> int:
    from .. import plots

    out = _check_out(args.out)
    require_extra("matplotlib", "plot", "nnmath plot")
    # before a network is trained for the figure; a missing folder is created, as --plot DIR
    if out.parent.is_dir():
        check_output_path(out, "--out", example=f"{args.kind}.png")
    else:
        check_output_path(out.parent, "--out", folder=True)
    show = not (args.quiet or args.json)
    result: dict[str, Any] = {"figure": args.kind}
    if args.kind == "activations":
        plots.plot_activations(
            args.z_min,
            args.z_max,
            alpha_leaky=args.alpha_leaky,
            alpha_elu=args.alpha_elu,
            path=out,
            dpi=args.dpi,
        )
    else:
        net, history, data = _network_and_data(args, show)
        result["dataset"] = data.name
        if args.kind == "histograms":
            _draw_histograms(args, net, history, data, out, result)
        elif args.kind == "curves":
            if history is None:
                raise CLIError(
                    f"--model {args.model}: a saved model holds no training history; give the "
                    "--checkpoint FILE of 'nnmath train' instead, or drop --model to train a "
                    "network here and draw its curves"
                )
            title = curves_title(data, net, args)
            plots.plot_learning_curves(history, title=title, path=out, dpi=args.dpi)
            result["epochs"] = history.epochs
        else:
            X, y = getattr(data, args.split)
            y_pred = net.predict(X)
            result["split"] = args.split
            result["accuracy"] = float((y_pred == y).mean())
            if args.kind == "confusion":
                plots.plot_confusion_matrix(
                    y,
                    y_pred,
                    n_classes=data.n_classes,
                    class_names=class_names(data),
                    path=out,
                    dpi=args.dpi,
                    title=f"{data.name} {args.split}: accuracy {result['accuracy']:.2%}",
                )
            else:
                if data.image_shape is None:
                    raise CLIError(f"data set {data.name!r} has no images to show")
                plots.plot_misclassified(
                    X,
                    y,
                    y_pred,
                    data.image_shape,
                    max_images=args.max_images,
                    class_names=class_names(data),
                    path=out,
                    dpi=args.dpi,
                )
                result["misclassified"] = int((y_pred != y).sum())
    result.update(_image_info(out))
    if args.json:
        emit_json(result)
    elif args.quiet:
        print(out)
    else:
        size = f"{result['width']}x{result['height']} " if result["width"] else ""
        print(f"wrote {out} ({size}{result['format']}, {result['bytes']:,} bytes)")
    return 0


def _draw_histograms(
    args: argparse.Namespace, net: Any, history: Any, data: Any, out: Path, result: dict
) -> None:
    """The history's histograms over its epochs, or the network measured once on --split."""
    from .. import plots

    recorded = history is not None and history.extra.get("histograms")
    model = getattr(args, "model", None)
    title = f"{data.name}: {model}" if model else curves_title(data, net, args)
    if recorded:
        plots.plot_histograms(
            history, quantity=args.quantity, log=args.log_y, title=title, path=out, dpi=args.dpi
        )
        result["epochs"] = history.epochs
        return
    X, y = getattr(data, args.split)
    plots.plot_histograms(
        net,
        X,
        y,
        quantity=args.quantity,
        rows=args.rows,
        path=out,
        dpi=args.dpi,
        title=f"{title} ({args.split}, first {min(args.rows, len(y))} rows)",
    )
    result["split"] = args.split


def _image_info(path: Path) -> dict[str, Any]:
    """Path, format and size (pixels for PNG, points for SVG/PDF) of a written figure."""
    fmt = path.suffix.lstrip(".").lower()
    info: dict[str, Any] = {"path": str(path), "format": fmt, "bytes": path.stat().st_size}
    if fmt == "png":
        with path.open("rb") as fh:
            head = fh.read(24)
        info["width"] = int.from_bytes(head[16:20], "big")
        info["height"] = int.from_bytes(head[20:24], "big")
    else:
        info["width"] = info["height"] = None
    return info
