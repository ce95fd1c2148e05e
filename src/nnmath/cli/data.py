"""``nnmath data``: download MNIST / Fashion-MNIST (verified), show where the files are, and
write the training set expanded by one-pixel shifts (Nielsen, chapter 6)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._common import CLIError, add_output_options, emit_json, positive_int


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "data",
        help="download MNIST / Fashion-MNIST, show where their files are, or expand them",
        description="Get the original IDX files of MNIST and Fashion-MNIST, and write their "
        "training set expanded by one-pixel shifts.",
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
    _add_expand(actions, sorted(FILES))


def _add_expand(actions: Any, names: list[str]) -> None:
    e = actions.add_parser(
        "expand",
        help="write NAME's training set expanded by one-pixel shifts (the book's chapter 6)",
        description="Write the training split (MNIST: the first 50,000 images), each image "
        "followed by its copies shifted 1..SHIFTS pixels down, up, right and left with zeros "
        "let in (Nielsen's expand_mnist.py: 250,000 images), as two IDX files that "
        "load_mnist(expanded=True) reads.",
    )
    e.add_argument("name", choices=names, help="the data set")
    e.add_argument(
        "--dir",
        default=None,
        help="read the IDX files from this folder only (default: wherever the loader finds them)",
    )
    e.add_argument(
        "--out",
        default=None,
        help="folder to write to (default: --dir when given, else the user cache, "
        "~/.cache/nnmath/NAME, where the loader looks)",
    )
    e.add_argument(
        "--shifts",
        type=positive_int,
        default=1,
        help="largest shift in pixels (default: 1, the book's; k gives 1 + 4k images per image)",
    )
    e.add_argument("--gzip", action="store_true", help="gzip the two files (slower, smaller)")
    e.add_argument("--force", action="store_true", help="write again even if they are there")
    add_output_options(e)
    e.set_defaults(run=run_expand)


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


def run_expand(args: argparse.Namespace) -> int:
    from ..data.cache import cache_dir
    from ..data.expanded import find_expanded, write_expanded
    from ..data.idx import read_idx_header
    from ..data.mnist import default_n_validation, locate, search_dirs

    files = locate(args.name, args.dir)
    out = Path(args.out or args.dir or cache_dir(args.name)).expanduser()
    written = None if args.force else find_expanded([out], args.shifts)
    fresh = written is None
    if written is None:
        n_total = read_idx_header(files["train_labels"])[0][0]
        n_train = n_total - default_n_validation(n_total)
        try:
            written = write_expanded(files, n_train, out, args.shifts, compress=args.gzip)
        except PermissionError as exc:
            raise CLIError(
                f"cannot write to {out} ({exc.strerror}): choose a folder with --out, e.g. "
                f"{cache_dir(args.name)}"
            ) from None
    n_images = read_idx_header(written["train_labels"])[0][0]
    searched = {d.resolve() for d in search_dirs(args.name, args.dir)}
    found = out.resolve() in searched
    if args.json:
        emit_json(
            {
                "dataset": args.name,
                "shifts": args.shifts,
                "images": n_images,
                "written": fresh,
                "found_by_loader": found,
                "files": {k: str(v) for k, v in written.items()},
            }
        )
        return 0
    state = "written" if fresh else "already there (--force writes them again)"
    print(f"{args.name}: {n_images:,} training images, {state}: {written['train_images']}")
    if not args.quiet:
        where = "" if args.dir is None else f"{str(args.dir)!r}, "
        flag = "True" if args.shifts == 1 else str(args.shifts)
        call = f"load_{args.name.replace('-', '_')}({where}expanded={flag})"
        print(f"load with {call}" if found else f"note: {call} does not look in {out}")
    return 0
