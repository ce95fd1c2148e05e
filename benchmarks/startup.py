"""Start-up: wall-clock seconds of ``nnmath --help`` and ``nnmath train`` (embedded digits).

Each command runs ``--runs`` times as a fresh process, interleaved with a bare
``python -c pass`` (the interpreter's own start-up on this machine, whatever its
``site-packages`` load), and the script prints the minimum and median of each (the goals are
judged on the median). Goals (issue 21): ``nnmath --help`` under 0.3 s, ``nnmath train`` on
digits under 1.5 s end to end.
Bytecode is written as a normal install does (``PYTHONDONTWRITEBYTECODE`` is removed from
the environment; one untimed run of each command compiles it first).

Usage::

    python benchmarks/startup.py
    python benchmarks/startup.py --runs 20
    python -X importtime -m nnmath --help 2> imports.txt   # what each import costs
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

GOALS = {"nnmath --help": 0.3, "nnmath train": 1.5}


def _commands() -> dict[str, list[str]]:
    nnmath = shutil.which("nnmath")
    entry = [nnmath] if nnmath else [sys.executable, "-m", "nnmath"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "nnmath --help": [*entry, "--help"],
        "nnmath train": [*entry, "train", "--quiet"],
    }


def _seconds(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = _commands()
    for cmd in commands.values():  # compile the bytecode, outside the timing
        _seconds(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(_seconds(cmd, env))
    print("| command | min s | median s | goal |")
    print("| --- | --- | --- | --- |")
    for name, ts in times.items():
        goal = GOALS.get(name)
        met = goal is not None and statistics.median(ts) < goal
        verdict = "" if goal is None else f"< {goal} s: " + ("met" if met else "NOT met")
        print(f"| `{name}` | {min(ts):.3f} | {statistics.median(ts):.3f} | {verdict} |")
    print(f"\n{args.runs} runs of each, interleaved.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
