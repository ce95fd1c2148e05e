"""Shared pieces of the command line: one-line errors, progress bars, tables, output modes, and
option values checked against the registries."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._registry import canonical_names
from .._words import plural
from ..activations import ACTIVATIONS, get_activation
from ..costs import COSTS, get_cost
from ..data import LOADERS, dataset_key
from ..init import INITS
from ..optim import OPTIMIZERS

__all__ = [
    "ACTIVATION",
    "COST",
    "INIT",
    "OPTIMIZER",
    "CLIError",
    "HelpFormatter",
    "Parser",
    "add_debug_option",
    "add_name_option",
    "add_output_options",
    "check_output_path",
    "comma_list",
    "dataset",
    "dataset_help",
    "describe_data",
    "describe_network",
    "names",
    "plural",
    "registry_name",
    "emit_json",
    "number",
    "positive_int",
    "print_table",
    "without_empty_columns",
    "progress",
    "require_extra",
    "suggest",
]


class CLIError(Exception):
    """An error the command line reports as one line on stderr with exit code 2."""


class HelpFormatter(argparse.HelpFormatter):
    """Help text up to 100 columns wide, one line per sub-command.

    argparse lists a sub-command group under its metavar (a lone ``COMMAND`` line); that line
    is dropped so each sub-command is one line of its own.
    """

    def __init__(self, prog: str) -> None:
        import shutil

        width = min(shutil.get_terminal_size((100, 24)).columns, 100) - 2
        super().__init__(prog, width=width, max_help_position=28)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            # argparse measures sub-command names without their extra indent; add it
            longest = max(len(name) for name in action.choices)
            self._action_max_length = max(
                self._action_max_length, longest + self._current_indent + self._indent_increment
            )

    def _get_help_string(self, action: argparse.Action) -> str:
        """The option's help, with ``(default X)`` added when the text does not state it."""
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "default" not in text.lower()
            and not any(default is v for v in (None, False, argparse.SUPPRESS))  # 0 is a value
            and not isinstance(action, argparse._SubParsersAction)
        ):
            shown = ",".join(map(str, default)) if isinstance(default, list) else default
            text += f" (default {str(shown).replace('%', '%%')})"
        return text

    def _format_action(self, action: argparse.Action) -> str:
        text = super()._format_action(action)
        if isinstance(action, argparse._SubParsersAction):
            text = text.split("\n", 1)[1] if "\n" in text else text
        return text


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``nnmath train: error: ...``), exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {_with_suggestion(message)}\n")


def _with_suggestion(message: str) -> str:
    """argparse's ``invalid choice: 'trian' (choose from ...)`` with ``did you mean``."""
    import re

    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return message
    choices = re.findall(r"'([^']*)'", found.group(2)) or found.group(2).split(", ")
    hint = suggest(found.group(1), choices)
    return message.replace(found.group(0), found.group(0) + hint) if hint else message


def comma_list(kind: type = str) -> Any:
    """argparse type: ``"a,b,c"`` -> ``[kind(a), kind(b), kind(c)]``."""

    def parse(text: str) -> list[Any]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError("expected a comma-separated list")
        try:
            return [kind(t) for t in items]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__} values, got {text!r}"
            ) from None

    return parse


def names(registry: Collection[str]) -> str:
    """The names of a registry for a help text, aliases left out: ``"adam | rmsprop | sgd"``."""
    return " | ".join(canonical_names(registry))


def registry_name(
    kind: str, registry: Collection[str], canonical: Callable[[str], str] | None = None
) -> Callable[[str], str]:
    """argparse type: a name of ``registry`` (a dict of nnmath's, read when the value is parsed).

    ``canonical`` maps another spelling (an alias, another case) to the registry's name; it
    may raise ``ValueError`` for a name it does not know. Anything else is one error line:
    ``unknown cost 'hinge': choose one of [...]``.
    """

    def parse(text: str) -> str:
        try:
            key = canonical(text) if canonical is not None else text
        except (ValueError, TypeError):
            key = None
        if key not in registry:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {text!r}{suggest(text, registry)}: choose one of "
                f"{', '.join(sorted(registry))}"
            )
        return key

    parse.__name__ = kind  # argparse names the type in some of its messages
    parse.registry = registry  # type: ignore[attr-defined]
    return parse


def suggest(text: str, known: Collection[str]) -> str:
    """``" (did you mean 'sigmoid'?)"`` for a misspelt name close to one of ``known``, else
    ``""`` (:func:`difflib.get_close_matches`, case ignored)."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(text.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def add_name_option(
    p: Any, flag: str, kind: Callable[[str], str], default: str | None, help: str
) -> None:
    """``flag NAME``: one name of the registry of ``kind`` (a :func:`registry_name` type).

    Its ``choices`` are the registry's names, so a new entry is a valid value at once.
    """
    registry = kind.registry  # type: ignore[attr-defined]
    p.add_argument(
        flag, type=kind, choices=sorted(registry), metavar="NAME", default=default, help=help
    )


#: argparse types of the registries' names (aliases such as ``mse`` or ``linear`` accepted)
ACTIVATION = registry_name("activation", ACTIVATIONS, lambda t: get_activation(t).name)
COST = registry_name("cost", COSTS, lambda t: get_cost(t).name)
INIT = registry_name("init", INITS)
OPTIMIZER = registry_name("optimizer", OPTIMIZERS, str.lower)


def dataset(text: str) -> str:
    """argparse type: a data set of :data:`nnmath.data.LOADERS` or a folder of IDX files."""
    key = dataset_key(text)
    if key in LOADERS:
        return key
    if Path(text).expanduser().is_dir():
        return text
    raise argparse.ArgumentTypeError(
        f"unknown dataset {text!r}{suggest(text, LOADERS)}: choose one of "
        f"{', '.join(sorted(LOADERS))} or "
        "give a folder with the four IDX files"
    )


def describe_network(net: Any) -> str:
    """A network in words for people (its repr is for Python): ``network 64,30,10: sigmoid
    hidden layer, softmax output, log_likelihood cost, float32``."""
    import numpy as np

    if getattr(net, "layered", False):  # a network of layers: its description
        from ..layers import describe

        where = "" if net.backend.name == "numpy" else f", {net.backend.name}:{net.backend.device}"
        text = f"{describe(net.layers)}: {net.cost_name} cost, {np.dtype(net.dtype).name}"
        return f"network {text}{where}"
    acts = [a.name for a in net.activation_functions]
    hidden = sorted(set(acts[:-1]))
    layers = "hidden layers" if len(acts) > 2 else "hidden layer"
    parts = [f"{'/'.join(hidden)} {layers}"] if hidden else []
    parts += [f"{acts[-1]} output", f"{net.cost_name} cost", np.dtype(net.dtype).name]
    return f"network {','.join(map(str, net.sizes))}: {', '.join(parts)}"


def describe_data(data: Any) -> str:
    """A data set in words: ``data digits: 1257 training, 180 validation, 360 test rows,
    64 features``."""
    rows = ", ".join(
        f"{len(getattr(data, split)[1])} {word}"
        for split, word in (("train", "training"), ("validation", "validation"), ("test", "test"))
    )
    return f"data {data.name}: {rows} rows, {data.n_features} features"


def dataset_help() -> str:
    """What ``--dataset`` accepts, for its help: the registered names, or a folder."""
    return f"{', '.join(LOADERS)}, or a folder with the four IDX files"


def number(
    kind: type = float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "",
) -> Callable[[str], Any]:
    """argparse type: an ``int`` or a finite ``float`` in ``[low, high]`` (an end left out with
    ``low_open`` / ``high_open``); the error names the range: ``expected a finite number > 0,
    got 'nan'``.

    argparse puts the option's name in front (``argument --lmbda: expected ...``).
    """
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '≥'} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '≤'} {high:g}")
    noun = "an integer" if kind is int else "a finite number"
    wanted = f"{noun} {' and '.join(bounds)}".strip() + (f" ({what})" if what else "")

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        bad_low = low is not None and (value <= low if low_open else value < low)
        bad_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or bad_low or bad_high:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def check_output_path(
    path: str | os.PathLike[str],
    option: str,
    *,
    folder: bool = False,
    example: str = "model.safetensors",
) -> Path:
    """Refuse, before any data is loaded, an output that cannot be written at the end.

    A file (``--save``, ``--checkpoint``, ``--log``) must not be a folder, and must go into
    an existing, writable folder; a folder (``--plot DIR``, ``--tensorboard DIR``) must not
    be a file, and is created if missing, inside an existing writable folder. ``example``
    is the file name suggested inside a folder given for a file.

    Raises
    ------
    CLIError
        Naming the option, the path and what to do.
    """
    out = Path(path).expanduser()
    if folder:
        if out.exists() and not out.is_dir():
            raise CLIError(f"{option} {path}: is a file, not a folder; give a folder name")
        if out.is_dir():
            _writable(out, option, path)
            return out
        parent = next((p for p in out.absolute().parents if p.exists()), None)
        if parent is None or not parent.is_dir():
            raise CLIError(f"{option} {path}: no folder above it exists")
        _writable(parent, option, path)
        return out
    if out.is_dir():
        raise CLIError(
            f"{option} {path}: is a folder; give a file name inside it, e.g. {out / example}"
        )
    parent = out.absolute().parent
    if not parent.is_dir():
        raise CLIError(
            f"{option} {path}: the folder {parent} does not exist; create it first "
            f"(mkdir -p {parent})"
        )
    _writable(parent, option, path)
    if out.exists() and not os.access(out, os.W_OK):
        raise CLIError(f"{option} {path}: the file exists and is not writable")
    return out


def _writable(folder: Path, option: str, path: Any) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {path}: cannot write into {folder} (permission denied)")


def require_extra(module: str, extra: str, option: str) -> None:
    """Refuse an option whose optional package is not installed, before any work starts:
    ``--plot needs matplotlib: pip install 'nnmath[plot]'``."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise CLIError(f"{option} needs {module}: pip install 'nnmath[{extra}]'")


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_debug_option(p: argparse.ArgumentParser) -> None:
    """``--debug`` that may also follow a sub-command (``nnmath train --debug``).

    Its default is ``SUPPRESS``, so a sub-command that does not see it leaves the value that
    the main parser set untouched.
    """
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``--json`` (machine-readable result on stdout) and ``--quiet`` (no progress, no table)."""
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the final result")


def emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=float)
    sys.stdout.write("\n")


def without_empty_columns(
    columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[list[str], list[list[Any]]]:
    """The columns with something in at least one row (a blank column says nothing)."""
    keep = [j for j in range(len(columns)) if any(str(r[j]) != "" for r in rows)] if rows else []
    keep = keep if rows else list(range(len(columns)))
    return [columns[j] for j in keep], [[r[j] for j in keep] for r in rows]


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table with rich; numbers are never cut short.

    On a terminal the table is laid out for its width and long cells wrap; written to a file
    or a pipe it takes the width it needs (rich would otherwise assume 80 columns and
    abbreviate cells with "…").
    """
    from rich.console import Console
    from rich.table import Table

    columns, rows = without_empty_columns(columns, rows)
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c != columns[0] else "left", overflow="fold")
    for r in rows:
        table.add_row(*[str(v) for v in r])
    console = Console()
    if not console.is_terminal:
        console = Console(width=1000)  # a table is only as wide as its cells need
    console.print(table)


@contextmanager
def progress(description: str, total: int, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr, drawn only when stderr is a terminal.

    Yields a function ``advance(n=1, **fields)``.
    """
    if not enabled or not sys.stderr.isatty():
        yield lambda n=1, **fields: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields: Any) -> None:
            bar.update(task, advance=n, info=" ".join(f"{k} {v}" for k, v in fields.items()))

        yield advance
