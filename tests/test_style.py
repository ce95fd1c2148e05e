"""The tree's style and shape, checked by the test command: ruff lint, ruff format, and the
import-linter contract in ``pyproject.toml`` (nnmath's layers point down)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECKS = {
    "ruff check": ["ruff", "check", "."],
    "ruff format": ["ruff", "format", "--check", "."],
    # --no-cache: no .grimp_cache folder left in the work tree, and never a stale graph
    "lint-imports": ["lint-imports", "--no-cache", "--no-logo"],
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_tool_passes(name: str) -> None:
    command = CHECKS[name]
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed (pip install -e '.[test]' brings it)")
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        f"`{' '.join(command)}` exited with {proc.returncode}; fix what it reports "
        f"(ruff check --fix / ruff format fix most of it):\n{proc.stdout}\n{proc.stderr}"
    )


SOURCES = sorted((ROOT / "src" / "nnmath").rglob("*.py"))
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 80, 500


def test_no_function_over_80_lines_and_no_module_over_500() -> None:
    import ast

    long_functions, long_modules = [], []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT / "src").as_posix()
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1  # docstring included
                if lines > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}:{node.lineno} {node.name}: {lines} lines")
    assert not long_functions, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them into named steps): {long_functions}"
    )
    assert not long_modules, (
        f"modules over {MAX_MODULE_LINES} lines (one job a module: split them): {long_modules}"
    )


C_SOURCES = sorted((ROOT / "src" / "nnmath" / "engine").glob("*.[ch]"))


def _c_functions(text: str) -> list[tuple[int, str, int]]:
    """(line, signature, lines) of each function defined in a C file of this project's
    layout: a signature from column 0 (maybe over several lines) up to its closing brace,
    the first ``}`` in column 0 after it."""
    found, start = [], None
    for i, line in enumerate(text.splitlines()):
        opens = line[:1].isalpha() and "(" in line and not line.rstrip().endswith(";")
        if start is None and opens and not line.startswith(("typedef", "static struct")):
            start = i
        elif start is not None and line.startswith("}"):
            name = re.search(r"NNM\((\w+)\)|(\w+)\s*\(", text.splitlines()[start])
            found.append((start + 1, name.group(1) or name.group(2), i - start + 1))
            start = None
    return found


def test_c_sources_keep_the_same_limits() -> None:
    """The compiled epoch's C files are held to the Python limits: no function over 80
    lines, no file over 500."""
    assert C_SOURCES, "no C sources found in src/nnmath/engine"
    long_functions, long_files = [], []
    for path in C_SOURCES:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long_files.append(f"{path.name}: {text.count(chr(10))} lines")
        functions = _c_functions(text)
        assert functions, f"{path.name}: the function finder found none"
        long_functions += [
            f"{path.name}:{line} {name}: {n} lines"
            for line, name, n in functions
            if n > MAX_FUNCTION_LINES
        ]
    assert not long_functions, f"C functions over {MAX_FUNCTION_LINES} lines: {long_functions}"
    assert not long_files, f"C files over {MAX_MODULE_LINES} lines: {long_files}"
