"""``nnmath playground``: the local web application of :mod:`nnmath.playground`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import CLIError, add_output_options, emit_json


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "playground",
        help="train a small network on 2-D data in the browser, every number from nnmath",
        description="Start the playground: a local web page where a network trains on toy "
        "2-D data (or your CSV) while its decision regions, hidden units, weights, costs and "
        "per-layer speed of learning ‖∂C/∂b^l‖ change as you watch. Needs the extra "
        "nnmath[playground]. Binds 127.0.0.1 only, unless --host and --allow-remote are given "
        "(then the printed address carries a token every visitor needs).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other machines can reach (a classroom network); adds a token",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another name browsers may use for this server (repeatable); requests naming "
        "any other host are refused, against DNS rebinding",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be between 0 and 65535, got {args.port}")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CLIError(
            f"the playground needs {exc.name}: pip install 'nnmath[playground]'"
        ) from None
    from ..playground.serve import Server, bind

    try:
        sock, address = bind(args.host, args.port, args.allow_remote)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    server = Server(sock, address, allowed=args.allowed_host)
    _announce(args, address)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(address.url)
    try:
        server.run()
    finally:
        sock.close()
    return 0


def _announce(args: argparse.Namespace, address: Any) -> None:
    """Where the page is, once the socket listens: a line for people, the bare URL with
    ``--quiet``, or ``{"url", "host", "port"}`` with ``--json`` (for a script that opens it)."""
    if args.json:
        emit_json({"url": address.url, "host": address.host, "port": address.port})
    elif args.quiet:
        print(address.url)
    else:
        print(f"nnmath playground: {address.url}  (Ctrl+C stops it)")
    sys.stdout.flush()
