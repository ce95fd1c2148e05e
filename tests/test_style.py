"""The tree's style and shape, checked by the test command: ruff lint, ruff format, and the
import-linter contract in ``pyproject.toml`` (nnmath's layers point down)."""

from __future__ import annotations

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
