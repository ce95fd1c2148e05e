"""``nnmath sweep``: a grid of training runs (activation × depth × init × … × seeds), run in
local processes or on a Dask cluster, streamed into a results table, summarised and plotted."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import Any

from ._common import (
    CLIError,
    add_output_options,
    check_output_path,
    comma_list,
    dataset_help,
    emit_json,
    plural,
    positive_int,
    print_table,
    progress,
    require_extra,
)

#: command-line option -> (grid parameter, element type)
GRID_OPTIONS: dict[str, tuple[str, type]] = {
    "activation": ("activation", str),
    "output_activation": ("output_activation", str),
    "depth": ("depth", int),
    "width": ("width", int),
    "init": ("init", str),
    "cost": ("cost", str),
    "eta": ("eta", float),
    "lmbda": ("lmbda", float),
    "optimizer": ("optimizer", str),
    "momentum": ("momentum", float),
    "batch_size": ("mini_batch_size", int),
    "epochs": ("epochs", int),
    "dtype": ("dtype", str),
}


def _grid_help(param: Any) -> str:
    """A grid option's meaning and default (the sweep file's value when it gives one)."""
    text = param.describe()
    if param.default is None or "default" in text:
        return text
    return f"{text} (default {param.default}, or the --config file's)"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of experiments (locally or on Dask) into a results table",
        description="Run every grid point x seed as an independent, deterministic task, "
        "locally in parallel processes or on a Dask cluster (--scheduler), and stream one row "
        "per task into a CSV / JSON-lines / Parquet table. Comma-separated values make a grid, "
        "e.g. nnmath sweep vanishing --activation sigmoid,relu --depth 2,4,6 --seeds 3.",
    )
    from ..sweep.spec import MEASURES, PARAMETERS  # only `nnmath sweep` needs them

    p.add_argument(
        "measure",
        nargs="?",
        choices=MEASURES,
        help="what each run measures (train: cost and accuracy per epoch; "
        "vanishing: also each layer's speed of learning ‖∂C/∂b^l‖)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a sweep file (TOML); options override it (default: none, the options alone)",
    )
    grid = p.add_argument_group("grid (comma-separated values)")
    for opt, (name, kind) in GRID_OPTIONS.items():
        grid.add_argument(
            f"--{opt.replace('_', '-')}",
            dest=f"grid_{opt}",
            type=comma_list(kind),
            metavar=kind.__name__.upper(),
            help=_grid_help(PARAMETERS[name]),
        )
    for remedy in ("batch_norm", "residual"):
        grid.add_argument(
            f"--{remedy.replace('_', '-')}",
            dest=f"grid_{remedy}",
            action="store_true",
            help=f"{PARAMETERS[remedy].describe()}: each network without and with it "
            f"(a sweep file: {remedy} = [false, true])",
        )
    grid.add_argument(
        "--layers",
        dest="grid_layers",
        action="append",
        metavar="TEXT",
        help=f"{PARAMETERS['layers'].describe()}; repeat it for a grid of networks "
        "(default: a dense network, depth x width)",
    )
    p.add_argument("--seeds", type=positive_int, help="runs per grid point (default 1)")
    p.add_argument("--dataset", help=f"{dataset_help()} (default digits)")
    p.add_argument(
        "--subset",
        type=positive_int,
        help="use only the first N training rows (default: all of them)",
    )
    _add_execution_options(p.add_argument_group("execution"))
    add_output_options(p)
    p.set_defaults(run=run_command)


def _add_execution_options(run: Any) -> None:
    """Where the results go, resuming, where the tasks run, plots and TensorBoard runs."""
    run.add_argument(
        "--out",
        default="sweep.csv",
        help="results table: .csv, .jsonl or .parquet (default sweep.csv)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows already in --out and run only the missing tasks",
    )
    run.add_argument("--overwrite", action="store_true", help="start --out afresh")
    run.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on this dask.distributed scheduler instead of locally (default: locally)",
    )
    run.add_argument(
        "--jobs",
        type=int,
        default=-1,
        help="local worker processes (default -1: all cores; 1: this process)",
    )
    run.add_argument(
        "--max-tasks",
        type=positive_int,
        help="stop after N tasks, ≥ 1, and --resume later (default: run every task)",
    )
    run.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the scheduler (default 10)",
    )
    run.add_argument(
        "--plot",
        metavar="DIR",
        help="write the summary plots into DIR (needs matplotlib; default: no plots)",
    )
    run.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="write one TensorBoard run per task into DIR (needs nnmath[tensorboard]; "
        "default: none)",
    )


def build_sweep(args: argparse.Namespace) -> Any:
    """The :class:`~nnmath.sweep.Sweep` from ``--config`` and the command-line options."""
    from ..sweep import Sweep, load_sweep
    from ..sweep.spec import PARAMETERS, SweepError

    overrides: dict[str, Any] = {}
    if args.measure is not None:
        overrides["measure"] = args.measure
    for key in ("seeds", "dataset", "subset"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    grid = {
        name: getattr(args, f"grid_{opt}")
        for opt, (name, _) in GRID_OPTIONS.items()
        if getattr(args, f"grid_{opt}") is not None
    }
    if args.grid_layers is not None:
        grid["layers"] = args.grid_layers
    for remedy in ("batch_norm", "residual"):
        if getattr(args, f"grid_{remedy}"):  # the flag: with and without, side by side
            grid[remedy] = [False, True]
    if grid:
        overrides["grid"] = grid
    if args.config:
        return load_sweep(args.config, overrides)
    if args.measure is None:
        raise CLIError("give a measurement (train or vanishing) or --config FILE")
    overrides.setdefault("grid", {"depth": [PARAMETERS["depth"].default]})  # one grid point
    try:
        return Sweep.from_dict(overrides, source="options")
    except SweepError as exc:  # main() puts "nnmath sweep: error:" in front
        raise CLIError(str(exc).removeprefix("options: ")) from None


def _fmt(mean: Any, std: Any, pattern: str, one_run: bool = False) -> str:
    if mean is None:
        return "-"
    return f"{mean:{pattern}}" if one_run else f"{mean:{pattern}} ± {std:{pattern}}"


def run_command(args: argparse.Namespace) -> int:
    from ..sweep import run_sweep

    sweep = build_sweep(args)
    if args.tensorboard:
        require_extra("tensorboardX", "tensorboard", "--tensorboard")
        check_output_path(args.tensorboard, "--tensorboard", folder=True)
    if args.plot:
        require_extra("matplotlib", "plot", "--plot")
        check_output_path(args.plot, "--plot", folder=True)
    check_output_path(args.out, "--out", example="results.csv")
    show = not (args.quiet or args.json)
    with ExitStack() as stack:
        bar: dict[str, Any] = {}

        def on_start(pending: int, skipped: int) -> None:  # once --out is known to be usable
            if show:
                _print_start(args, sweep, pending, skipped)
            bar["advance"] = stack.enter_context(progress("sweep", pending, enabled=show))

        def on_result(row: dict[str, Any], done: int, total: int) -> None:
            bar["advance"](1, last=row["worker"])

        result = run_sweep(
            sweep,
            args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            scheduler=args.scheduler,
            n_jobs=args.jobs,
            max_tasks=args.max_tasks,
            on_start=on_start,
            on_result=on_result,
            connect_timeout=args.connect_timeout,
            tensorboard=args.tensorboard,
        )
    summary = result.summary()
    plots: list[str] = []
    if args.plot and summary:
        from ..plots.sweep import plot_sweep

        plots = [str(p) for p in plot_sweep(summary, args.plot, result.rows)]
    out = {
        "out": str(result.path),
        "parquet": None if result.parquet is None else str(result.parquet),
        "ran": result.ran,
        "skipped": result.skipped,
        "total": result.total,
        "complete": result.complete,
        "seconds": result.seconds,
        "summary": summary,
        "plots": plots,
    }
    args.result = result
    if args.json:
        emit_json(out)
        return 0
    status = "" if result.complete else f" ({result.total - len(result.rows)} still missing)"
    if not args.quiet and summary:
        _print_summary(sweep.measure, summary)
    print(
        f"{len(result.rows)}/{result.total} rows in {result.path}{status}; ran "
        f"{plural(result.ran, 'task')} in {result.seconds:.1f} s"
    )
    for p in plots:
        print(f"wrote {p}")
    return 0


def _print_start(args: argparse.Namespace, sweep: Any, pending: int, skipped: int) -> None:
    """The status lines on stderr: what runs where, and how many tasks a resume skips."""
    n_tasks = sweep.n_tasks
    where = args.scheduler or f"local processes (jobs {args.jobs})"
    print(
        f"nnmath sweep: {sweep.measure} on {sweep.dataset}, {plural(n_tasks, 'task')} "
        f"({plural(n_tasks // sweep.seeds, 'grid point')} x {plural(sweep.seeds, 'seed')}) "
        f"on {where}",
        file=sys.stderr,
    )
    layers = sweep.grid.get("layers", ())
    if len(layers) == 1:
        print(f"nnmath sweep: network {layers[0]}", file=sys.stderr)
    if skipped:
        print(
            f"nnmath sweep: resuming: {plural(skipped, 'task')} done already, {pending} to run",
            file=sys.stderr,
        )


def _print_summary(measure: str, summary: list[dict[str, Any]]) -> None:
    """One row per group of the summary: the swept values, n, speed at init, accuracy; with
    one run per group, the values alone (a standard deviation of one run says nothing)."""
    keys = [
        k for k in summary[0] if k not in ("n", "diverged") and not k.endswith(("_mean", "_std"))
    ]
    one_run = all(g["n"] == 1 for g in summary)
    cols = [*keys] if one_run else [*keys, "n"]
    if "speed_l1_mean" in summary[0]:
        cols.append("speed_l1 at init")
    cols += ["validation acc.", "diverged"]
    rows = []
    for g in summary:
        row = [g[k] for k in keys] + ([] if one_run else [g["n"]])
        if "speed_l1_mean" in g:
            row.append(_fmt(g["speed_l1_mean"], g["speed_l1_std"], ".3g", one_run))
        row += [
            _fmt(g["validation_accuracy_mean"], g["validation_accuracy_std"], ".3f", one_run),
            g["diverged"],
        ]
        rows.append(row)
    title = "one run per grid point" if one_run else "mean ± std over seeds"
    print_table(f"nnmath sweep {measure}: {title}", cols, rows)
