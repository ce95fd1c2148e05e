"""Install size and time: a fresh virtual environment, ``pip install -e .`` (and extras).

For each requested target (``core`` is ``.``; ``test`` is ``.[test]``, ...) this script makes
a new venv in a temporary folder, times ``pip install --no-cache-dir -e TARGET`` into it
(packages downloaded from the registry, the C epoch compiled), and measures the venv's size
on disk; then deletes it. The figures depend on the network; they are what a new user of
this machine waits for.

Usage::

    python benchmarks/install_size.py                 # core and test
    python benchmarks/install_size.py --targets core
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _size_mb(folder: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total / 2**20


def measure(target: str) -> dict:
    spec = "." if target == "core" else f".[{target}]"
    with tempfile.TemporaryDirectory(prefix="nnmath-venv-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        empty = _size_mb(env_dir)
        t0 = time.perf_counter()
        subprocess.run(
            [str(python), "-m", "pip", "install", "--no-cache-dir", "-q", "-e", spec],
            cwd=ROOT,
            check=True,
        )
        seconds = time.perf_counter() - t0
        return {"target": spec, "seconds": seconds, "mb": _size_mb(env_dir), "empty_mb": empty}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default="core,test", help="core, or extras: test, plot, ...")
    args = p.parse_args(argv)
    print("| pip install -e | seconds | venv MB (empty venv) |")
    print("| --- | --- | --- |")
    for target in args.targets.split(","):
        r = measure(target)
        print(f"| `{r['target']}` | {r['seconds']:.0f} | {r['mb']:.0f} ({r['empty_mb']:.0f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
