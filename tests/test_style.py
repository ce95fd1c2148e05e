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
