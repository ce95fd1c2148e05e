"""Run the book's chapter-1 and chapter-3 snippets as printed, through :mod:`nnmath.nielsen`.

Each snippet runs in its own Python process exactly as a reader pastes it (only the import
differs from the book); this script reads the lines it prints ("Epoch j: c / 10000" for
chapter 1, "Accuracy on evaluation data: c / 10000" for chapter 3) and reports the best
accuracy, the book's figure beside it, and the wall and CPU time of the whole process (data
loading included).

Usage::

    NNMATH_DATA=../shared/data python benchmarks/nielsen_snippets.py --runs 3 # both, full
    NNMATH_DATA=../shared/data python benchmarks/nielsen_snippets.py --quick  # 1 epoch each
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (name, the snippet as the book prints it, the line that carries its accuracy, book's best %)
SNIPPETS = (
    (
        "chapter 1, network.py",
        "training_data, validation_data, test_data = nielsen.load_data_wrapper()\n"
        "net = nielsen.Network([784, 30, 10])\n"
        "net.SGD(training_data, {epochs}, 10, 3.0, test_data=test_data)\n",
        r"Epoch \d+: (\d+) / (\d+)",
        95.42,
    ),
    (
        "chapter 3, network2.py",
        "training_data, validation_data, test_data = nielsen.load_data_wrapper()\n"
        "net = nielsen.Network2([784, 30, 10], cost=nielsen.CrossEntropyCost)\n"
        "net.SGD(training_data, {epochs}, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,\n"
        "        monitor_evaluation_accuracy=True)\n",
        r"Accuracy on evaluation data: (\d+) / (\d+)",
        96.49,
    ),
)


def run(code: str, pattern: str) -> tuple[float, int, float, float]:
    """Best accuracy (%), epochs seen, wall and CPU seconds of one snippet's process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "from nnmath import nielsen\n" + code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    hits = [100.0 * int(c) / int(n) for c, n in re.findall(pattern, out)]
    if not hits:
        raise SystemExit(f"no accuracy line in the snippet's output:\n{out}")
    return max(hits), len(hits), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch per snippet")
    parser.add_argument(
        "--runs", type=int, default=1, help="runs of each snippet (unseeded, as printed)"
    )
    args = parser.parse_args()
    epochs = 1 if args.quick else 30
    print("| snippet | epochs | best accuracy | the book | wall s | CPU s |")
    print("|---|---|---|---|---|---|")
    for name, code, pattern, book in SNIPPETS:
        for _ in range(args.runs):
            best, seen, wall, cpu = run(code.format(epochs=epochs), pattern)
            print(f"| {name} | {seen} | {best:.2f} % | {book:.2f} % | {wall:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
