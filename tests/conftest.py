"""Shared fixtures: float64 finite differences and paths to the shared data."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from nnmath.activations import ACTIVATIONS
from nnmath.costs import COSTS

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@contextmanager
def headless_chromium(window: str = "1400,900") -> Iterator[object]:
    """Debian's headless Chromium driven by selenium (quit after the block); the test skips
    with the packages to install when either is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium")
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not Path("/usr/bin/chromedriver").exists():
        pytest.skip("no Chromium: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    flags = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu")
    for arg in (*flags, f"--window-size={window}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Interrupt:
    """A callback that stops training with KeyboardInterrupt after epoch ``k`` (0-based):
    a run cut off as a user's Ctrl-C would, for the resume tests."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, net, history, epoch):
        if epoch == self.k:
            raise KeyboardInterrupt


def central_difference(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, one entry of ``x`` at a time (float64)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


#: every activation of the registry by its own name (aliases such as "linear" left out), so
#: that a test parametrized over it tests a new entry without an edit
ACTIVATION_NAMES = sorted({cls.name for cls in ACTIVATIONS.values()})
ELEMENTWISE_NAMES = [n for n in ACTIVATION_NAMES if ACTIVATIONS[n].elementwise]
COST_NAMES = sorted(COSTS)


def outputs_for(cost: str) -> list[str]:
    """The registry's output activations whose values ``cost`` is defined for."""
    allowed = COSTS[cost].output_activations
    return [n for n in ACTIVATION_NAMES if allowed is None or n in allowed]


def mnist_folder(name: str = "mnist") -> Path:
    """Where the tests find ``name``'s IDX files: ``$NNMATH_DATA/<name>/`` when that holds
    them (the loaders' own search order), else the shared ``../shared/data/<name>/``; a test
    skips with a reason naming both when neither has ``train-images-idx3-ubyte.gz``."""
    import os

    env = os.environ.get("NNMATH_DATA")
    if env and (Path(env).expanduser() / name / "train-images-idx3-ubyte.gz").is_file():
        return Path(env).expanduser() / name
    return SHARED_DATA / name


#: the MNIST folder of the tests (:func:`mnist_folder`)
MNIST_FOLDER = mnist_folder()


@contextmanager
def time_limit(seconds: int, what: str) -> Iterator[None]:
    """Fail, not hang: ``what`` (a read of a FIFO, which blocks until a writer comes, or of a
    device that never ends) is interrupted by SIGALRM after ``seconds`` with TimeoutError."""

    def stop(signum, frame):
        raise TimeoutError(f"{what} still running after {seconds} s: it would never end")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    """Run ``nnmath argv`` in-process; returns (exit code, stdout, stderr)."""
    from nnmath.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse exits for --help and bad options
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def block_names(source: str) -> tuple[set[str], set[str]]:
    """The names a Python code block defines (assigned, imported, def, class) and those it
    reads, for the tests that check a document's blocks run on their own."""
    import ast

    tree = ast.parse(source)
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return defined, used
