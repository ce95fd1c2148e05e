"""The ``nnmath`` command line: one sub-command per module in this package.

Every error is one line on stderr with exit code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from ._common import CLIError, Parser

__all__ = ["main", "COMMANDS"]

#: sub-command name -> module of this package with ``add_parser(subparsers)`` and ``run(args)``
COMMANDS: dict[str, str] = {
    "train": "train",
    "vanishing": "vanishing",
    "gradcheck": "gradcheck",
    "trace": "trace",
}


def build_parser() -> Parser:
    from .. import __version__

    parser = Parser(prog="nnmath", description="The mathematics of neural networks, runnable.")
    parser.add_argument("--version", action="version", version=f"nnmath {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS.values():
        importlib.import_module(f".{module}", __name__).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("nnmath: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, OSError, ImportError) as exc:
        if args.debug:
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"nnmath {args.command}: error: {message}", file=sys.stderr)
        return 2


def entry_point() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())
