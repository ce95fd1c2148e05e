"""``nnmath vanishing``: the speed of learning of every hidden layer, Nielsen's chapter 5.

By default: MNIST's first 1,000 training images, the networks [784,30,30,10],
[784,30,30,30,10] and [784,30,30,30,30,10], sigmoid everywhere, cross-entropy,
N(0, 1/n_in) weights; the speed of learning ‖∂C/∂b^l‖ of each hidden layer at
initialisation, beside the book's numbers, and with ``--epochs`` during training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS
from ..backend import DTYPES
from ..costs import COSTS
from ..init import INITS
from ._common import (
    ACTIVATION,
    COST,
    INIT,
    CLIError,
    add_name_option,
    add_output_options,
    check_output_path,
    comma_list,
    dataset,
    dataset_help,
    emit_json,
    names,
    plural,
    positive_int,
    print_table,
    progress,
    require_extra,
    without_empty_columns,
)

#: Nielsen, "Neural Networks and Deep Learning", chapter 5: one random draw each,
#: speeds ‖∂C/∂b^l‖ of the hidden layers at initialisation (first 1,000 MNIST images)
BOOK_SPEEDS: dict[tuple[int, ...], list[float]] = {
    (784, 30, 30, 10): [0.07, 0.31],
    (784, 30, 30, 30, 10): [0.012, 0.060, 0.283],
    (784, 30, 30, 30, 30, 10): [0.003, 0.017, 0.070, 0.285],
}
DEFAULT_HIDDEN = ([30, 30], [30, 30, 30], [30, 30, 30, 30])


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "vanishing",
        help="speed of learning per hidden layer (Nielsen ch. 5), and remedies side by side",
        description="Measure the speed of learning ‖∂C/∂b^l‖ of every hidden layer at "
        "initialisation (and with --epochs, during training), averaged over --seeds "
        "initialisations. Default: Nielsen's chapter 5 on MNIST (first 1,000 images), "
        "with the book's numbers beside ours.",
    )
    _add_network_options(p)
    _add_training_options(p)
    p.add_argument(
        "--dtype",
        default="float32",
        choices=sorted(DTYPES),
        help="floating-point type of the networks and the gradients (default float32)",
    )
    p.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="write a figure (PNG/SVG): speed per layer against epoch, or per "
        "activation at initialisation (needs matplotlib; default: no figure)",
    )
    p.add_argument(
        "--factors",
        action="store_true",
        help="also explain each network (first seed, at initialisation): the ratio "
        "‖δ^l‖/‖δ^{l+1}‖ split into weight and activation factors, saturation, and "
        "singular values of the layer Jacobians",
    )
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print the tables as Markdown (for notes and READMEs)",
    )
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        default=None,
        help="write one TensorBoard run per network and seed into DIR: per layer the speeds, "
        "σ', saturated and dead units, histograms (at initialisation, and per epoch with "
        "--epochs; needs nnmath[tensorboard]; default: none)",
    )
    add_output_options(p)
    p.set_defaults(run=run)


def _add_network_options(p: argparse.ArgumentParser) -> None:
    """The data and the networks compared: sizes, activations, inits, output and cost."""
    p.add_argument(
        "--dataset",
        type=dataset,
        default=None,
        help=f"{dataset_help()} (default: mnist when its files are found, else digits)",
    )
    p.add_argument(
        "--subset", type=int, default=1000, help="use the first N training rows (default 1000)"
    )
    p.add_argument(
        "--sizes",
        type=comma_list(int),
        action="append",
        default=None,
        help="a network's layer sizes, e.g. 784,30,30,10; repeat for several "
        "(default: 2, 3 and 4 hidden layers of 30)",
    )
    p.add_argument(
        "--activation",
        type=comma_list(ACTIVATION),
        default=["sigmoid"],
        help=f"hidden activations to compare, e.g. sigmoid,tanh,relu: {names(ACTIVATIONS)}",
    )
    p.add_argument(
        "--init",
        type=comma_list(INIT),
        default=["scaled_normal"],
        help=f"initialisations to compare, e.g. scaled_normal,he: {names(INITS)}",
    )
    add_name_option(
        p,
        "--output-activation",
        ACTIVATION,
        "sigmoid",
        "output activation (default sigmoid, as in the book)",
    )
    add_name_option(p, "--cost", COST, "cross_entropy", f"{names(COSTS)} (default cross_entropy)")
    for flag, what in (
        ("--batch-norm", "batch normalisation before each hidden σ (Dense, BatchNorm, σ)"),
        ("--residual", "an identity shortcut around each hidden layer as wide as the one below"),
    ):
        p.add_argument(
            flag, action="store_true", help=f"also measure each network with {what}, beside it"
        )


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """Seeds, and the book's training settings for ``--epochs``."""
    p.add_argument(
        "--seeds", type=int, default=1, help="number of initialisations to average over (default 1)"
    )
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument(
        "--epochs",
        type=int,
        default=0,
        help="also train and track the speeds for N epochs (book: 500)",
    )
    p.add_argument("--batch-size", type=int, default=1000, help="mini-batch size (book: 1000)")
    p.add_argument("--eta", type=float, default=0.1, help="learning rate (book: 0.1)")
    p.add_argument("--lmbda", type=float, default=5.0, help="L2 regularisation (book: 5.0)")
    p.add_argument(
        "--track-every",
        type=positive_int,
        default=None,
        help="record every K mini-batches instead of every epoch (default: every epoch)",
    )


def _load(name: str | None) -> Any:
    from ..data import load_dataset

    if name is not None:
        return load_dataset(name)
    try:
        return load_dataset("mnist")
    except (ValueError, OSError) as exc:
        print(
            f"nnmath vanishing: MNIST not available ({str(exc).splitlines()[0]}); using digits",
            file=sys.stderr,
        )
        return load_dataset("digits")


def _architectures(args: argparse.Namespace, n_in: int, n_out: int) -> list[list[int]]:
    if args.sizes is None:
        return [[n_in, *h, n_out] for h in DEFAULT_HIDDEN]
    for sizes in args.sizes:
        if len(sizes) < 3:
            raise CLIError(f"--sizes {','.join(map(str, sizes))}: give at least one hidden layer")
        if sizes[0] != n_in or sizes[-1] != n_out:
            raise CLIError(
                f"--sizes {','.join(map(str, sizes))} does not fit the data: it has {n_in} "
                f"inputs and {n_out} classes, so sizes must start with {n_in} and end with {n_out}"
            )
    return [list(s) for s in args.sizes]


def measure(
    sizes: list[int],
    activation: str,
    init: str,
    X: np.ndarray,
    y: np.ndarray,
    args: argparse.Namespace,
    advance: Any,
    remedy: str = "plain",
) -> dict[str, Any]:
    """Speeds of the hidden layers for every seed: a dict ready for JSON and the plot
    (``remedy``: a key of :data:`nnmath.layers.remedies.REMEDIES`)."""
    from ..diagnostics import GradientTracker, gradient_norms, speed_index

    n_hidden = len(sizes) - 2
    runs, epochs = [], [0]
    for s in range(args.seeds):
        net = _network(sizes, activation, init, args.seed + s, args, remedy)
        speed = speed_index(net) or list(range(len(net.biases)))
        tag = "" if remedy == "plain" else f"-{remedy}"
        watch = _tensorboard(args, sizes, activation + tag, init, args.seed + s, X, y)
        if args.epochs > 0:
            tracker = GradientTracker(X, y, every=args.track_every, max_rows=len(y))
            history = net.fit(
                X,
                y,
                epochs=args.epochs,
                mini_batch_size=args.batch_size,
                eta=args.eta,
                lmbda=args.lmbda,
                seed=args.seed + s,
                callbacks=[tracker, *watch],
            )
            rec = history.extra["gradient_norms"]
            epochs = rec["epoch"]
            runs.append([[row[i] for i in speed][:n_hidden] for row in rec["nabla_b"]])
        else:
            if watch:  # zero epochs: the callbacks see the network at initialisation
                net.fit(X, y, epochs=0, callbacks=watch)
            runs.append([gradient_norms(net, X, y).speed[:n_hidden]])
        advance(1)
    speeds = np.asarray(runs)  # (seeds, entries, hidden layers)
    factors = None
    if args.factors:
        from ..diagnostics import vanishing_factors

        net = _network(sizes, activation, init, args.seed, args, remedy)
        factors = vanishing_factors(net, X, y)
    book = None
    if (activation, init, args.cost, remedy) == (
        "sigmoid",
        "scaled_normal",
        "cross_entropy",
        "plain",
    ):
        book = BOOK_SPEEDS.get(tuple(sizes))
    return {
        "label": f"{','.join(map(str, sizes))} {activation} {init}"
        + ("" if remedy == "plain" else f" +{remedy}"),
        "sizes": sizes,
        "activation": activation,
        "init": init,
        "remedy": remedy,
        "layers": list(range(2, 2 + n_hidden)),
        "seeds": list(range(args.seed, args.seed + args.seeds)),
        "epoch": [float(e) for e in epochs],
        "mean": speeds.mean(axis=0).tolist(),
        "std": speeds.std(axis=0).tolist(),
        "min": speeds.min(axis=0).tolist(),
        "max": speeds.max(axis=0).tolist(),
        "initial_per_seed": speeds[:, 0, :].tolist(),
        "book": book,
        "factors": None if factors is None else factors.to_dict(),
        "_factors": factors,
    }


def _network(
    sizes: list[int], act: str, init: str, seed: int, args: argparse.Namespace, remedy: str
) -> Any:
    """One network of the comparison, with the command's output activation, cost and dtype,
    and the remedy's layers (:func:`~nnmath.layers.remedies.remedied_layers`)."""
    from ..layers.remedies import REMEDIES, remedied_layers
    from ..network import Network

    batch_norm, residual = REMEDIES[remedy]
    layers = remedied_layers(
        sizes, act, args.output_activation, batch_norm=batch_norm, residual=residual
    )
    return Network(layers, cost=args.cost, init=init, seed=seed, dtype=args.dtype)


def _tensorboard(
    args: argparse.Namespace, sizes: list[int], act: str, init: str, seed: int, X: Any, y: Any
) -> list[Any]:
    """A TensorBoard callback for one network and seed (``--tensorboard``), or none: the run
    ``DIR/784x30x30x10-sigmoid-scaled_normal-seed0``, measured on the same rows as the speeds."""
    if not args.tensorboard:
        return []
    from ..callbacks import TensorBoard

    name = f"{'x'.join(map(str, sizes))}-{act}-{init}-seed{seed}"
    return [TensorBoard(Path(args.tensorboard) / name, X=X, Y=y, max_rows=len(y))]


def _checkpoints(epochs: list[float], k: int = 6) -> list[int]:
    """Indices of about ``k`` entries spread over the run (first and last included)."""
    n = len(epochs)
    return sorted({int(round(t)) for t in np.linspace(0, n - 1, min(k, n))})


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise CLIError(f"--seeds must be at least 1, got {args.seeds}")
    if args.subset < 1:
        raise CLIError(f"--subset must be at least 1, got {args.subset}")
    if args.epochs < 0:
        raise CLIError(f"--epochs must be 0 or more, got {args.epochs}")
    if args.tensorboard:
        require_extra("tensorboardX", "tensorboard", "--tensorboard")
        check_output_path(args.tensorboard, "--tensorboard", folder=True)
    if args.plot:
        require_extra("matplotlib", "plot", "--plot")
        check_output_path(args.plot, "--plot", example="speeds.png")
    data = _load(args.dataset)
    X, y = data.train[0][: args.subset], data.train[1][: args.subset]
    archs = _architectures(args, data.n_features, data.n_classes)
    remedies = ["plain", *(["batch_norm"] * args.batch_norm), *(["residual"] * args.residual)]
    configs = [
        (s, a, i, r) for s in archs for a in args.activation for i in args.init for r in remedies
    ]
    show = not (args.quiet or args.json)
    results = []
    with progress("networks × seeds", len(configs) * args.seeds, enabled=show) as advance:
        for sizes, act, init, remedy in configs:
            results.append(measure(sizes, act, init, X, y, args, advance, remedy))
    if args.plot:
        from ..plots.vanishing import plot_speeds

        plot_speeds(
            results,
            args.plot,
            title=f"speed of learning, {data.name} ({plural(len(y), 'image')}), "
            f"{plural(args.seeds, 'seed')}",
        )
    factor_tables = [(r["label"], r.pop("_factors")) for r in results]
    out = {
        "dataset": data.name,
        "subset": int(len(y)),
        "seeds": args.seeds,
        "epochs": args.epochs,
        "cost": args.cost,
        "output_activation": args.output_activation,
        "batch_size": args.batch_size,
        "eta": args.eta,
        "lmbda": args.lmbda,
        "results": results,
    }
    args.result = out
    if args.json:
        emit_json(out)
        return 0
    if args.quiet:  # the speeds at the end: after training with --epochs, else at the start
        for r in results:
            speeds = " ".join(f"{v:.3g}" for v in r["mean"][-1])
            print(f"{r['label']}: {speeds}")
        return 0
    _print_initial(results, data.name, len(y), args.seeds, args.markdown)
    if args.epochs > 0:
        _print_training(results, args.markdown, args.seeds)
    for label, factors in factor_tables:
        if factors is not None:
            print(f"why it vanishes: {label} (seed {args.seed}, at initialisation)\n")
            print(factors.to_markdown() + "\n")
    if args.plot:
        print(f"nnmath vanishing: figure written to {args.plot}", file=sys.stderr)
    return 0


def _name(r: dict[str, Any]) -> str:
    """A network's sizes, and its remedy when it has one: ``784,30,30,10 +batch_norm``."""
    remedy = "" if r["remedy"] == "plain" else f" +{r['remedy']}"
    return ",".join(map(str, r["sizes"])) + remedy


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _initial_rows(r: dict[str, Any], seeds: int) -> list[list[str]]:
    """Rows (hidden layer, mean, std, min–max, next/this, book) of one network at epoch 0."""
    mean = r["mean"][0]
    rows = []
    for j, l in enumerate(r["layers"]):
        rows.append(
            [
                f"{j + 1} (l={l})",
                _fmt(mean[j]),
                _fmt(r["std"][0][j]) if seeds > 1 else "",
                f"{_fmt(r['min'][0][j])}–{_fmt(r['max'][0][j])}" if seeds > 1 else "",
                "" if j + 1 == len(mean) else f"{mean[j + 1] / mean[j]:.2f}",
                "" if r["book"] is None else _fmt(r["book"][j]),
            ]
        )
    return rows


def _print_initial(
    results: list[dict[str, Any]], name: str, n: int, seeds: int, markdown: bool
) -> None:
    title = (
        f"speed of learning ‖∂C/∂b^l‖ at initialisation: {name}, first "
        f"{plural(n, 'training row')}, "
        f"{'one seed' if seeds == 1 else f'mean over {seeds} seeds'}"
    )
    head = ["hidden layer", "mean", "std", "min–max", "next/this", "book (1 draw)"]
    if markdown:
        print(f"{title}\n")
        rows = []
        for r in results:
            for j, row in enumerate(_initial_rows(r, seeds)):
                lead = [_name(r), r["activation"], r["init"]]
                rows.append((lead if j == 0 else ["", "", ""]) + row)
        _print_markdown(["network", "σ", "init", *head], rows)
        return
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["activation"], r["init"]), []).append(r)
    for (act, init), rs in groups.items():
        rows = []
        for r in rs:
            for j, row in enumerate(_initial_rows(r, seeds)):
                rows.append([_name(r) if j == 0 else "", *row])
        print_table(f"{title}; σ = {act}, init = {init}", ["network", *head], rows)


def _print_training(results: list[dict[str, Any]], markdown: bool, seeds: int) -> None:
    epochs = results[0]["epoch"]
    picks = _checkpoints(epochs)
    head = ["network", "hidden layer", *[f"epoch {epochs[k]:g}" for k in picks]]
    rows = []
    for r in results:
        for j, l in enumerate(r["layers"]):
            rows.append(
                [
                    r["label"] if j == 0 else "",
                    f"{j + 1} (l={l})",
                    *[_fmt(r["mean"][k][j]) for k in picks],
                ]
            )
    over = "one seed" if seeds == 1 else f"mean over {seeds} seeds"
    title = f"speed of learning ‖∂C/∂b^l‖ during training ({over})"
    if markdown:
        print(f"{title}\n")
        _print_markdown(head, rows)
    else:
        print_table(title, head, rows)


def _print_markdown(head: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, its blank columns left out, and a blank line after it."""
    head, rows = without_empty_columns(head, rows)
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
