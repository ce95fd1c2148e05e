"""The ``nnmath`` command line: one sub-command per module in this package.

Every error is one line on stderr with exit code 2 (``--debug``, before or after the
sub-command, shows the traceback instead). Output piped into a reader that stops early
(``nnmath gradcheck --json | head``) ends quietly with exit code 1, as Python's own
SIGPIPE recipe does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ._common import CLIError, Parser, add_debug_option

__all__ = ["main", "COMMANDS"]

#: sub-command name -> module of this package with ``add_parser(subparsers)`` and ``run(args)``
COMMANDS: dict[str, str] = {
    "train": "train",
    "predict": "predict",
    "plot": "plot",
    "vanishing": "vanishing",
    "gradcheck": "gradcheck",
    "trace": "trace",
    "data": "data",
    "sweep": "sweep",
    "reproduce": "reproduce",
    "export": "export",
    "playground": "playground",
}

#: errors a user can cause and fix (bad option values, files, missing extras, what a network
#: of layers cannot go through yet): one line, no hint
EXPECTED_ERRORS = (CLIError, ValueError, TypeError, OSError, ImportError, NotImplementedError)


class _HelpLineOnly(Exception):
    """Ends a command module's ``add_parser`` once its one help line is recorded."""


class _HelpLines:
    """Stands in for the sub-parsers action while the command modules that were not asked
    for run their ``add_parser``: each registers its name, aliases and one-line help (what
    ``nnmath --help`` lists, and what a misspelt command is compared with), and none of its
    options is built."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        self.sub.add_parser(name, help=kwargs.get("help"), aliases=kwargs.get("aliases", ()))
        raise _HelpLineOnly


def _command_in(argv: Sequence[str] | None) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option: nnmath's own
    options take no value), or ``None``."""
    words = sys.argv[1:] if argv is None else argv
    return next((w for w in words if not w.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None, *, every_command: bool = True) -> Parser:
    """The command line's parser. With ``every_command=False`` only the sub-command that
    ``argv`` names gets its options (the others their help line), so that ``nnmath --help``
    and ``nnmath train ...`` build one command's parser instead of every one's."""
    from .. import __version__

    parser = Parser(
        prog="nnmath",
        description="The mathematics of neural networks, runnable.",
        epilog="Run 'nnmath COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"nnmath {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands", parser_class=Parser
    )
    asked = _command_in(argv)
    for name, module in COMMANDS.items():
        add_parser = importlib.import_module(f".{module}", __name__).add_parser
        if every_command or name == asked:
            add_parser(sub)
            continue
        try:
            add_parser(_HelpLines(sub))
        except _HelpLineOnly:
            pass
    for leaf in _leaf_parsers(parser):
        if leaf is not parser:
            add_debug_option(leaf)
    return parser


def _leaf_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and every sub-command parser below it (once each; aliases share one)."""
    seen: set[int] = set()
    stack = [parser]
    while stack:
        p = stack.pop()
        if id(p) in seen:
            continue
        seen.add(id(p))
        yield p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _stdout_to_devnull() -> None:
    """Point stdout's file descriptor at ``os.devnull`` after the reader closed the pipe.

    Python flushes stdout at exit; without this, what is still buffered raises a second
    ``BrokenPipeError`` there (the recipe of the ``signal`` module's note on SIGPIPE).
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # stdout replaced by a stream without a file
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _interrupted(args: argparse.Namespace, argv: Sequence[str] | None) -> str:
    """What Ctrl-C prints: with a ``--checkpoint``, the command that continues the run."""
    checkpoint = getattr(args, "checkpoint", None)
    if not checkpoint or not os.path.exists(checkpoint):
        return "nnmath: interrupted"
    from ._advice import resume_command

    words = sys.argv[1:] if argv is None else argv
    return (
        f"nnmath: interrupted; {checkpoint} holds the last finished epoch. Continue with:\n"
        f"  {resume_command(words)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser(argv, every_command=False)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error(f"give a command: {', '.join(COMMANDS)} ('nnmath --help' describes them)")
    name = " ".join(filter(None, [args.command, getattr(args, "kind", None)]))
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
        return code
    except BrokenPipeError:
        _stdout_to_devnull()
        return 1
    except KeyboardInterrupt:
        print(_interrupted(args, argv), file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as exc:
        if args.debug:
            raise
        print(f"nnmath {name}: error: {_first_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"nnmath {name}: internal error: {type(exc).__name__}: {_first_line(exc)} "
            "(rerun with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 2


def entry_point() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())
