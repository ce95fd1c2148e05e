"""``nnmath data``: download MNIST / Fashion-MNIST (verified) and show where the files are."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ._common import add_output_options, emit_json


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "data",
        help="download MNIST / Fashion-MNIST, or show where their files are",
        description="Get the original IDX files of MNIST and Fashion-MNIST.",
    )
    from ..data.download import FILES  # only `nnmath data` needs it (urllib, ssl)

    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    p.set_defaults(run=_missing_action, parser=p)

    d = actions.add_parser(
        "download",
        help="download the four IDX files, verify their checksums, store them in the cache",
        description="Fetch the four IDX files over HTTPS from public mirrors (tried in turn), "
        "check each against its published checksum and move it into place atomically.",
    )
    d.add_argument("name", choices=sorted(FILES), help="the data set")
    d.add_argument(
        "--dir",
        default=None,
        help="folder to store the files in (default: the user cache, "
        "~/.cache/nnmath/NAME or $XDG_CACHE_HOME/nnmath/NAME)",
    )
    d.add_argument(
        "--mirror",
        action="append",
        default=None,
        metavar="URL",
        help="base URL to download from instead of the built-in mirrors "
        "(repeat to try several in turn; default: the built-in ones)",
    )
    d.add_argument(
        "--force",
        action="store_true",
        help="download again even if verified files are already there",
    )
    d.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a mirror")
    add_output_options(d)
    d.set_defaults(run=run_download)

    w = actions.add_parser("where", help="show the folder the loader would read NAME from")
    w.add_argument("name", choices=sorted(FILES), help="the data set")
    w.add_argument(
        "--dir", default=None, help="look only in this folder (default: every usual place)"
    )
    add_output_options(w)
    w.set_defaults(run=run_where)


def _missing_action(args: argparse.Namespace) -> int:
    args.parser.print_help()
    return 2


@contextmanager
def _byte_progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None] | None]:
    """A rich bar per file on stderr (only on a terminal); yields the download callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, Any] = {}

        def callback(filename: str, done: int, total: int | None) -> None:
            if filename not in tasks:
                tasks[filename] = bar.add_task(filename, total=total)
            bar.update(tasks[filename], completed=done, total=total)

        yield callback


def run_download(args: argparse.Namespace) -> int:
    from ..data.download import download_dataset

    show = not (args.quiet or args.json)
    with _byte_progress(show) as callback:
        target = download_dataset(
            args.name,
            directory=args.dir,
            mirrors=args.mirror,
            progress=callback,
            timeout=args.timeout,
            force=args.force,
        )
    if args.json:
        emit_json({"dataset": args.name, "directory": str(target)})
    else:
        print(f"{args.name}: four verified files in {target}")
    return 0


def run_where(args: argparse.Namespace) -> int:
    from ..data.mnist import locate

    files = locate(args.name, args.dir)
    folder = files["train_images"].parent
    if args.json:
        emit_json(
            {
                "dataset": args.name,
                "directory": str(folder),
                "files": {k: str(v) for k, v in files.items()},
            }
        )
    else:
        print(folder)
    return 0
