"""``nnmath train``: train a network on a data set, with a progress bar and a summary table."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

from ._common import (
    CLIError,
    add_output_options,
    check_output_path,
    describe_data,
    describe_network,
    emit_json,
    print_table,
    progress,
    require_extra,
)
from ._layers import check_expanded, check_layer_options, layer_network, refuse_save_early
from ._options import add_training_options, chosen_eta


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a network on a data set (default: the embedded 8x8 digits)",
        description="Train a network by mini-batch gradient descent and report test accuracy. "
        "Defaults: Nielsen's chapter-3 network (sigmoid, cross-entropy, N(0,1/n_in) weights).",
    )
    add_training_options(p)
    p.add_argument(
        "--plot",
        metavar="DIR",
        default=None,
        help="write curves.png, confusion.png (and misclassified.png for image data) into DIR, "
        "created if missing (needs matplotlib; default: no figures)",
    )
    p.add_argument(
        "--save",
        metavar="FILE",
        default=None,
        help="save the trained network to FILE (safetensors, loads with nnmath.load; default: "
        "not saved)",
    )
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        default=None,
        help="save a checkpoint to FILE after every epoch (default: none); Ctrl-C then prints "
        "the command that continues the run",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in --checkpoint FILE (--epochs is the total)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh and replace an existing --checkpoint FILE (without it, or --resume, "
        "an existing FILE is an error)",
    )
    add_watch_options(p)
    add_output_options(p)
    p.set_defaults(run=run)


def add_watch_options(p: argparse.ArgumentParser) -> None:
    """``--tensorboard DIR``, ``--log FILE`` and ``--histograms``: watch the run while it
    trains."""
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        default=None,
        help="write TensorBoard files into DIR: per layer ‖∂C/∂b^l‖, ‖∂C/∂w^l‖, σ', saturated "
        "and dead units, histograms; costs, accuracies, η (needs nnmath[tensorboard]; default: "
        "none)",
    )
    p.add_argument(
        "--log",
        metavar="FILE",
        default=None,
        help="write one row per epoch as it ends to FILE (.csv or .jsonl): costs, "
        "accuracies, η, per-layer speeds ‖∂C/∂b^l‖ (default: none)",
    )
    p.add_argument(
        "--histograms",
        action="store_true",
        help="record per layer the histograms of z^l, a^l, δ^l and the update ratio "
        "‖Δw^l‖/‖w^l‖ after every epoch, in the history (kept in --checkpoint FILE: draw them "
        "with 'nnmath plot histograms --model FILE')",
    )


def watch_callbacks(args: argparse.Namespace) -> list[Any]:
    """The callbacks of ``--tensorboard`` and ``--log`` (checked before any data is loaded),
    and :class:`~nnmath.callbacks.Histograms` for ``--histograms``."""
    from ..callbacks import EpochLogger, Histograms, TensorBoard

    out: list[Any] = []
    if getattr(args, "tensorboard", None):
        require_extra("tensorboardX", "tensorboard", "--tensorboard")
        out.append(TensorBoard(check_output_path(args.tensorboard, "--tensorboard", folder=True)))
    if getattr(args, "log", None):
        out.append(EpochLogger(check_output_path(args.log, "--log", example="log.csv")))
    if getattr(args, "histograms", False):
        out.append(Histograms())
    return out


def _load(name: str, expanded: bool = False) -> Any:
    """The data set ``name``; ``expanded``: its training set expanded by one-pixel shifts."""
    from ..data import load_dataset

    return load_dataset(name, expanded=True) if expanded else load_dataset(name)


def build_network(args: argparse.Namespace, n_in: int, n_out: int) -> Any:
    from .. import Network

    sizes = args.sizes or [n_in, 30, n_out]
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise CLIError(
            f"--sizes {','.join(map(str, sizes))} does not fit the data: it has {n_in} inputs "
            f"and {n_out} classes, so sizes must start with {n_in} and end with {n_out}"
        )
    acts = args.activation or ["sigmoid"]
    act: Any = acts[0] if len(acts) == 1 else acts
    out_act = args.output_activation
    if isinstance(act, list) and out_act is None and len(act) == len(sizes) - 2:
        raise CLIError("with one --activation per hidden layer, also give --output-activation")
    dropout = getattr(args, "dropout", None) or 0.0
    return Network(
        sizes,
        activation=act,
        output_activation=out_act,
        cost=args.cost,
        init=args.init,
        seed=args.seed,
        dtype=args.dtype,
        backend=getattr(args, "backend", "numpy"),
        device=getattr(args, "device", None),
        **({"dropout": dropout} if dropout > 0 else {}),
    )


def run(args: argparse.Namespace) -> int:
    if args.resume and not args.checkpoint:
        raise CLIError("--resume needs --checkpoint FILE (the run to continue)")
    show = not (args.quiet or args.json)
    net, history, data, seconds = train_network(
        args, show, monitor_training_accuracy=args.plot is not None
    )
    test_acc = net.accuracy(*data.test)
    result = {
        "dataset": data.name,
        "expanded": bool(getattr(args, "expanded", False)),
        "sizes": net.sizes,
        "layers": getattr(args, "layers", None),
        "activations": [a.name for a in net.activation_functions],
        "cost": net.cost_name,
        "epochs": history.epochs,
        # 0-based, as History.best_epoch and NNMathClassifier.best_epoch_ (printed: + 1)
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "training_cost": history.training_cost[-1] if history.epochs else None,
        "validation_accuracy": history.validation_accuracy[-1] if history.epochs else None,
        "test_accuracy": test_acc,
        "seconds": seconds,
        "seconds_per_epoch": sum(history.epoch_time) / max(history.epochs, 1),
        "backend": f"{net.backend.name}:{net.backend.device}",
        "warnings": args.warnings,
        "notes": args.notes,
    }
    if args.save:
        result["saved"] = str(net.save(args.save))
    if args.plot is not None:
        from ._figures import write_training_plots

        written = write_training_plots(net, history, data, args.plot, args)
        result["plots"] = [str(p) for p in written]
    args.result = (net, history, data, result)
    if args.json:
        emit_json(result)
    elif args.quiet:
        print(f"test accuracy {test_acc:.2%}")
    else:
        _print_summary(net, history, data, result)
    return 0


def _print_summary(net: Any, history: Any, data: Any, result: dict[str, Any]) -> None:
    best = result["best_epoch"]
    print_table(
        "nnmath train: summary",
        ["", "value"],
        [
            ["data set", f"{data.name} ({len(data.train[1])} train / {len(data.test[1])} test)"],
            *_network_rows(net, result),
            ["cost", net.cost_name],
            ["epochs", history.epochs],
            *([] if best is None else [["best validation epoch", best + 1]]),
            ["final training cost", f"{result['training_cost']:.4f}"],
            ["final validation accuracy", f"{result['validation_accuracy']:.2%}"],
            ["test accuracy", f"{result['test_accuracy']:.2%}"],
            [
                "time",
                f"{result['seconds']:.1f} s ({result['seconds_per_epoch']:.3f} s/epoch)",
            ],
        ]
        + [["plot", p] for p in result.get("plots", [])],
    )


def _network_rows(net: Any, result: dict[str, Any]) -> list[list[Any]]:
    """The summary's network: its sizes and σ, or the description of its layers."""
    if result.get("layers"):
        return [["layers", result["layers"]]]
    return [
        ["network", ",".join(map(str, net.sizes))],
        ["activations", ",".join(result["activations"])],
    ]


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any data is loaded, outputs that could not be written at the end:
    ``--save`` and ``--checkpoint`` files, the ``--plot`` folder (and matplotlib for it)."""
    for option in ("save", "checkpoint"):
        if getattr(args, option, None):
            check_output_path(getattr(args, option), f"--{option}")
    _check_checkpoint(args)
    if getattr(args, "plot", None) is not None:
        require_extra("matplotlib", "plot", "--plot")
        check_output_path(args.plot, "--plot", folder=True)


def _check_checkpoint(args: argparse.Namespace) -> None:
    """An existing ``--checkpoint FILE`` is continued (``--resume``) or replaced
    (``--overwrite``), never silently restarted."""
    from pathlib import Path

    path, resume = getattr(args, "checkpoint", None), getattr(args, "resume", False)
    overwrite = getattr(args, "overwrite", False)
    if resume and overwrite:
        raise CLIError(
            "--resume and --overwrite exclude each other: continue the run or replace it"
        )
    if path and not resume and not overwrite and Path(path).expanduser().exists():
        raise CLIError(
            f"--checkpoint {path}: the file exists (an earlier run); add --resume to continue "
            "it, or --overwrite to start afresh and replace it"
        )


def epoch_seconds(seconds: float) -> str:
    """``"  (0.18 s)"`` after an epoch's line; nothing for an epoch under a hundredth of a
    second, whose time would print as 0.00 on every line."""
    return f"  ({seconds:.2f} s)" if seconds >= 0.01 else ""


def _note(text: str) -> None:
    print(f"nnmath train: {text}", file=sys.stderr, flush=True)


def _fit_the_data(args: argparse.Namespace, net: Any, data: Any) -> None:
    """Clip ``--batch-size`` to the training rows (with a note), and refuse mini-batch
    buffers that need more memory than the machine has, before training starts."""
    from .._fit_checks import check_pass_memory

    n = len(data.train[1])
    if args.batch_size > n:
        _note(f"note: --batch-size {args.batch_size} is more than the {n} training rows; using {n}")
        args.batch_size = n
    check_pass_memory(net, args.batch_size, f"a training pass over --batch-size {args.batch_size}")


def _after_training(args: argparse.Namespace, net: Any, history: Any, data: Any) -> None:
    """The learnt-nothing warning, the saturation note and the early-stopping note, on stderr
    (and in ``--json`` under ``warnings`` and ``notes``)."""
    from ..callbacks.control import constant_output_cost
    from ._advice import early_stopping_note, learning_warnings, saturation_note

    settings = {"eta": chosen_eta(args), "optimizer": args.optimizer, "init": args.init}
    y = data.train[1]
    constant = constant_output_cost(net, net.check_targets(y, len(y)))
    found = learning_warnings(net, history, data.n_classes, settings, constant)
    args.warnings = [*args.raised, *found]
    saturated = saturation_note(net, data.validation[0])
    args.notes = [] if saturated is None else [saturated]
    quiet = getattr(args, "quiet", False) or getattr(args, "json", False)
    for text in args.warnings[len(args.raised) :]:  # the raised ones were shown as they came
        _note(f"warning: {text}")
    note = early_stopping_note(history, args.patience)
    for text in [*args.notes, *([] if note is None else [note])]:
        if not quiet:
            _note(f"note: {text}" if text in args.notes else text)


@contextlib.contextmanager
def _plain_warnings(args: argparse.Namespace) -> Iterator[None]:
    """Python warnings raised while the network is built and trained (a sigmoid output under
    log-likelihood, a cost that blew up): one line each on stderr as they come,
    ``nnmath train: warning: ...``, and in ``--json``'s ``warnings`` (``args.raised``)."""
    args.raised = getattr(args, "raised", [])

    def show(message: Any, *_: Any, **__: Any) -> None:
        args.raised.append(str(message))
        _note(f"warning: {message}")

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def train_network(
    args: argparse.Namespace, show: bool, monitor_training_accuracy: bool = False
) -> tuple[Any, Any, Any, float]:
    """Load ``args.dataset``, build the network and train it (progress shown when ``show``).

    Returns ``(net, history, data, seconds)``.
    """
    check_layer_options(args)
    check_expanded(args)
    check_outputs(args)
    watching = watch_callbacks(args)
    expanded = getattr(args, "expanded", False)
    data = _load(args.dataset, expanded=True) if expanded else _load(args.dataset)
    with _plain_warnings(args):
        if getattr(args, "layers", None):
            net = layer_network(args, data)
        else:
            net = build_network(args, data.n_features, data.n_classes)
    refuse_save_early(args, net)
    _fit_the_data(args, net, data)
    if show:
        print(f"{describe_data(data)}\n{describe_network(net)}")
    t0 = time.perf_counter()
    with progress("training", args.epochs, enabled=show) as advance, _plain_warnings(args):

        def report(net: Any, history: Any, epoch: int) -> None:
            acc = history.validation_accuracy[-1]
            advance(1, cost=f"{history.training_cost[-1]:.4f}", val=f"{acc:.2%}")
            if show:
                print(
                    f"epoch {epoch + 1:>3}/{args.epochs}  cost {history.training_cost[-1]:.4f}  "
                    f"validation accuracy {acc:.2%}{epoch_seconds(history.epoch_time[-1])}",
                    flush=True,
                )

        history = net.fit(
            *data.train,
            epochs=args.epochs,
            mini_batch_size=args.batch_size,
            eta=chosen_eta(args),
            lmbda=args.lmbda,
            optimizer=args.optimizer,
            momentum=args.momentum,
            validation_data=data.validation,
            seed=args.seed,
            patience=args.patience,
            monitor_training_accuracy=monitor_training_accuracy,
            callbacks=[report, *watching],
            checkpoint=getattr(args, "checkpoint", None),
            resume=getattr(args, "resume", False),
            schedule=getattr(args, "schedule", None),
        )
    seconds = time.perf_counter() - t0
    _after_training(args, net, history, data)
    return net, history, data, seconds
