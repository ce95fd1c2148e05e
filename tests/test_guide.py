"""The user guide (docs/guide/*.md) keeps the README's tested examples tested: each page's
Python blocks run as written, in the order a reader meets them on that page (a page is read
on its own, so each starts from an empty namespace), and the guide cites no missing file."""

from __future__ import annotations

import builtins
import re
from pathlib import Path

import pytest

from conftest import block_names

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
PAGES = {p.name: p.read_text(encoding="utf-8") for p in sorted(GUIDE.glob("*.md"))}
BLOCKS = {
    name: re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    for name, text in PAGES.items()
}

#: blocks run here (cheap, on the digits): (page, a line of the block)
RUN = [
    ("lecture.md", "data = load_digits()  # train / validation / test, rows = examples"),
    ("training.md", "from nnmath.callbacks import EarlyStopping, ProgressBar"),
    ("interop.md", "model = make_pipeline(StandardScaler(), nm.NNMathClassifier(random_state=0))"),
    ("layers.md", "from nnmath.layers import Conv2D, Dense, Dropout, Input, MaxPool2D"),
    ("layers.md", 'nm.to_onnx(net, "digits-conv.onnx")'),
    ("layers.md", "from nnmath.layers import Activation, BatchNorm, LayerNorm"),
    ("layers.md", "from nnmath.diagnostics import gradcheck, layer_statistics, trace"),
    ("layers.md", "from nnmath.layers import describe, parse"),
    ("layers.md", "from nnmath.layers import Residual, describe"),
    ("figures.md", "from nnmath import plots"),
    ("figures.md", "trace(net, [0.5, 0.1], [1.0, 0.0])"),
]
#: why a block is not run here (every other block runs)
NOT_RUN = {
    ("vanishing.md", "from nnmath.diagnostics import gradcheck, gradient_norms"): "MNIST",
    ("gpu.md", 'backend="torch", device="cuda"'): "a GPU",
    ("reproductions.md", "load_mnist(scale=256)"): "MNIST",
    ("sweeps.md", "from nnmath.sweep import Sweep"): "a sweep of 18 processes",
    ("interop.md", 'Client("tcp://127.0.0.1:8786")'): "a Dask scheduler",
    ("training.md", "from nnmath.callbacks import EpochLogger, LivePlot"): "TensorBoard, a window",
    ("speed.md", "fast=False)  # the reference loop"): "MNIST, 60 epochs",
    ("speed.md", 'h.extra["monitor"]'): "MNIST",
    ("nielsen.md", "net = nielsen.Network([784, 30, 10])"): "MNIST (tests/test_nielsen.py)",
    ("nielsen.md", "cost=nielsen.CrossEntropyCost"): "MNIST (tests/test_nielsen.py)",
}


def _block(page: str, line: str) -> int:
    """The index of ``page``'s python block that contains ``line``."""
    found = [i for i, b in enumerate(BLOCKS[page]) if line in b]
    assert len(found) == 1, f"{line!r} is in {len(found)} python blocks of {page}"
    return found[0]


def _undefined(page: str, i: int) -> set[str]:
    """Names block ``i`` of ``page`` reads that neither it, nor the page's blocks before it,
    nor Python define: a reader of that page alone could not run it."""
    known = set(dir(builtins))
    for source in BLOCKS[page][: i + 1]:
        known |= block_names(source)[0]
    return block_names(BLOCKS[page][i])[1] - known


def test_every_python_block_is_run_or_has_a_reason():
    assert set(PAGES) >= {"lecture.md", "training.md", "speed.md", "playground.md"}
    run = {(page, _block(page, line)) for page, line in RUN}
    skipped = {(page, _block(page, line)) for page, line in NOT_RUN}
    assert run.isdisjoint(skipped)
    every = {(page, i) for page, blocks in BLOCKS.items() for i in range(len(blocks))}
    assert run | skipped == every, "a new guide block: add it to RUN or NOT_RUN"


@pytest.mark.parametrize("page", sorted(p for p in BLOCKS if BLOCKS[p]))
def test_each_page_defines_what_its_blocks_use(page):
    for i in range(len(BLOCKS[page])):
        missing = _undefined(page, i)
        assert not missing, f"{page} python block {i} uses undefined names {sorted(missing)}"


@pytest.mark.parametrize("page", sorted({page for page, _ in RUN}))
def test_the_guide_examples_run_as_written(page, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason="the Plots example needs matplotlib (nnmath[plot])")
    pytest.importorskip("sklearn", reason="the scikit-learn example needs scikit-learn")
    pytest.importorskip("torch", reason="the example converts to PyTorch (nnmath[torch])")
    monkeypatch.chdir(tmp_path)  # the examples write digits.safetensors, curves.png, ...
    run = {_block(p, line) for p, line in RUN if p == page}
    namespace: dict = {}
    for i in sorted(run):
        exec(compile(BLOCKS[page][i], f"{page} python block {i}", "exec"), namespace)
    out = capsys.readouterr().out
    if page in ("lecture.md", "training.md"):
        assert "0.9" in out  # the accuracies the blocks print
    if page == "figures.md":
        assert (tmp_path / "curves.png").stat().st_size > 0
    if page == "interop.md":
        assert (tmp_path / "digits.safetensors").stat().st_size > 0


def test_the_guide_cites_no_missing_file():
    missing = []
    for name, text in PAGES.items():
        for path in re.findall(r"`([\w.-]+(?:/[\w.-]+)+\.[a-z]+)`", text):
            if not (ROOT / path).exists() and not (ROOT / "src" / path).exists():
                missing.append(f"{name}: {path}")
        for link in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", text):
            if not (GUIDE / link).exists():
                missing.append(f"{name}: {link}")
    assert not missing, f"the guide cites files that do not exist: {missing}"
