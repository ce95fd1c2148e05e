"""``nnmath reproduce``: rerun a paper's experiment and check its claims by number.

Prints the Markdown report (protocol; per claim the paper's number or words beside ours, the
threshold and the verdict; tables; figure paths with ``--plot``), or ``--json``, or with
``--quiet`` one line per experiment (its verdict and the count of each claim's); ``--out FILE.md``
writes the report into a file instead, its figure paths relative to it. Exit code 0
when no claim failed: each reproduced, passed a quick protocol's smoke check (a threshold
below the paper's number: never called reproduced), or has a source that contradicts itself
(reported with both numbers); 1 when one did not (it is reported, with what was measured).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..backend import BACKENDS
from ._common import CLIError, add_output_options, check_output_path, comma_list, names


def add_parser(sub: Any) -> None:
    from ..reproduce import EXPERIMENTS

    p = sub.add_parser(
        "reproduce",
        help="rerun a paper's experiment (Nielsen, Glorot & Bengio, He et al., ...) and "
        "check its claims",
        description="Run one of the reproductions of the vanishing-gradient literature and "
        "check the paper's claims by number, each against a stated threshold. Experiments: "
        + ", ".join(EXPERIMENTS)
        + " ('--list' describes them; 'all' runs every one). Exit code 1 when a claim "
        "does not reproduce (or fails a quick smoke check); a claim whose source contradicts "
        "itself is reported as 'source inconsistent' and does not fail the run.",
    )
    p.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        choices=[*EXPERIMENTS, "all"],
        help=f"the experiment: {', '.join(EXPERIMENTS)}, or all",
    )
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument(
        "--quick",
        action="store_true",
        help="the reduced protocol (seconds to a minute, as in the tests), with its thresholds",
    )
    p.add_argument(
        "--seeds",
        type=comma_list(int),
        default=None,
        help="comma-separated seeds, e.g. 0,1,2 (default: the experiment's own)",
    )
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="folder of MNIST's IDX files, or one holding mnist/ (default: the usual search)",
    )
    p.add_argument(
        "--rung",
        type=int,
        default=None,
        metavar="N",
        help="an experiment of rungs (nielsen-ch6): run only rung N (default: every rung)",
    )
    p.add_argument(
        "--work-dir",
        default=None,
        metavar="DIR",
        help="an experiment of rungs: keep each network's result, model and checkpoint in DIR "
        "and go on from there when run again (default: none, nothing kept)",
    )
    p.add_argument(
        "--backend",
        default=None,
        choices=sorted(BACKENDS),
        help="an experiment of rungs: the array backend its networks train on "
        f"({names(BACKENDS)}; default numpy)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="an experiment of rungs: cpu | cuda (default: cpu; cuda for --backend cupy)",
    )
    p.add_argument(
        "--plot", default=None, metavar="DIR", help="write the figures into DIR (default: none)"
    )
    p.add_argument(
        "--out",
        metavar="FILE.md",
        help="write the Markdown report into FILE.md, its figure paths relative to that file "
        "(default: the report on stdout, figure paths as --plot gives them)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_output_options(p)
    p.set_defaults(run=run)


def _check_backend(backend: str, device: str | None) -> None:
    """The backend and its device exist here, before any data is read."""
    from ..backend import get_backend

    try:
        get_backend(backend, device)
    except (ImportError, ValueError, RuntimeError) as exc:
        where = f"--backend {backend}" + (f" --device {device}" if device else "")
        raise CLIError(f"{where}: {exc}") from None


def _list() -> int:
    from ..reproduce import EXPERIMENTS

    width = max(len(n) for n in EXPERIMENTS)
    for name, exp in EXPERIMENTS.items():
        data = "" if exp.needs_mnist else " (no data needed)"
        print(f"{name:<{width}}  {exp.title}{data}\n{'':<{width}}  {exp.source}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if args.name is None:
        raise CLIError("give an experiment NAME, or --list to see them")
    from ..reproduce import EXPERIMENTS, plot
    from ..reproduce import run as run_experiment

    if args.seeds is not None and len(args.seeds) == 0:
        raise CLIError("--seeds: give at least one seed, e.g. --seeds 0,1,2")
    if args.data is not None:
        if not Path(args.data).is_dir():
            raise CLIError(f"--data {args.data}: no such folder")
    if args.out:
        _check_out(args.out, args.overwrite)
    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    ladder = {
        "rung": args.rung,
        "work_dir": args.work_dir,
        "backend": args.backend,
        "device": args.device,
    }
    if any(v is not None for v in ladder.values()):
        if args.name == "all" or not EXPERIMENTS[args.name].rungs:
            raise CLIError(
                "--rung, --work-dir, --backend and --device take one experiment of rungs: "
                "nielsen-ch6"
            )
        if args.backend is not None or args.device is not None:
            _check_backend(args.backend or "numpy", args.device)
        if args.rung is not None and not 1 <= args.rung <= EXPERIMENTS[args.name].rungs:
            raise CLIError(f"--rung {args.rung}: choose 1–{EXPERIMENTS[args.name].rungs}")
    ladder = {k: v for k, v in ladder.items() if v is not None}
    reports = []
    for name in names:
        if not (args.json or args.quiet):
            print(f"nnmath reproduce: running {name} ...", file=sys.stderr, flush=True)
        report = run_experiment(
            name, quick=args.quick, seeds=args.seeds, data_dir=args.data, **ladder
        )
        if args.plot:
            plot(report, args.plot)
        reports.append(report)
        if args.quiet and not args.json:
            print(f"{name}: {report.verdict} ({report.summary()})")
        elif not (args.json or args.out):
            print(report.to_markdown())
    if args.out:
        path = write_report(reports, args.out)
        if not (args.json or args.quiet):
            print(f"nnmath reproduce: wrote {path}", file=sys.stderr)
    if args.json:
        from ._common import emit_json

        emit_json([r.to_dict() for r in reports] if args.name == "all" else reports[0].to_dict())
    return 0 if all(r.passed for r in reports) else 1


def _check_out(out: str, overwrite: bool) -> None:
    """Refuse, before an experiment runs, an ``--out`` that cannot be written or that exists
    (without ``--overwrite``)."""
    path = check_output_path(out, "--out", example="report.md")
    if path.exists() and not overwrite:
        raise CLIError(f"--out {out}: the file exists; add --overwrite to replace it")


def write_report(reports: list[Any], out: str | os.PathLike[str]) -> Path:
    """Write the reports' Markdown into ``out`` at once; each figure path is made relative to
    ``out``'s folder, so the images show wherever the report is opened from.

    Returns
    -------
    Path
        The file written.
    """
    from .._files import atomic_write

    path = Path(out).expanduser()
    folder = path.absolute().parent
    for report in reports:
        report.figures[:] = [
            Path(os.path.relpath(Path(f).absolute(), folder)).as_posix() for f in report.figures
        ]
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(r.to_markdown() for r in reports))
    return path
