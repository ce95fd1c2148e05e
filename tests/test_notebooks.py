"""The notebooks of docs/notebooks: each is committed without outputs, runs top to bottom in
a real kernel (nbclient + ipykernel) without an error cell, and shows nnmath's rich displays,
read back from the executed notebook's output MIME bundles.

Every ``*.ipynb`` found is executed (a new notebook is tested without an edit); ``EXPECTED``
names the displays each of the lecture's five notebooks must show.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

#: the display's kind (``<div class="nnmath nnmath-KIND">``) -> the MIME types of its bundle
DISPLAYS: dict[str, set[str]] = {
    "network": {"text/html"},  # Network: the layer table and an SVG diagram
    "history": {"text/html"},  # History: SVG charts and the epoch table
    "trace": {"text/html", "text/latex", "text/markdown"},  # Trace: BP1-BP4 with numbers
    "gradcheck": {"text/html", "text/markdown"},  # GradCheck
    "factors": {"text/html", "text/markdown"},  # VanishingFactors
}
#: the displays each notebook of the lecture shows; "image/png": a matplotlib figure or
#: LivePlot's image (only asserted where matplotlib is installed)
EXPECTED: dict[str, set[str]] = {
    "01_layer_and_activations.ipynb": {"network", "image/png"},
    "02_backpropagation.ipynb": {"network", "trace", "gradcheck"},
    "03_training.ipynb": {"history", "image/png"},
    "04_vanishing_gradient.ipynb": {"factors", "history", "image/png"},
    "05_remedies.ipynb": {"history"},
}
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
#: the kernel draws figures into its outputs (never an interactive window)
INLINE = "module://matplotlib_inline.backend_inline"

_executed: dict[Path, Any] = {}  # each notebook runs once for all the tests that read it


def execute(path: Path, workdir: Path) -> Any:
    """``path`` executed by nbclient in a fresh ``python3`` kernel started in ``workdir``."""
    if path not in _executed:
        nbclient = pytest.importorskip(
            "nbclient", reason="executing the notebooks needs nbclient: pip install -e '.[test]'"
        )
        nbformat = pytest.importorskip(
            "nbformat", reason="executing the notebooks needs nbformat: pip install -e '.[test]'"
        )
        pytest.importorskip(
            "ipykernel", reason="executing the notebooks needs ipykernel: pip install -e '.[test]'"
        )
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        )
        start = time.perf_counter()
        try:
            client.execute(env={**os.environ, "MPLBACKEND": INLINE})
        except Exception as exc:  # CellExecutionError: kept, so every test reading it fails
            _executed[path] = exc
        else:
            nb.metadata["execution_seconds"] = time.perf_counter() - start
            _executed[path] = nb
    result = _executed[path]
    if isinstance(result, Exception):
        pytest.fail(f"{path.name} failed to run: {result}")
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


def bundles(nb: Any) -> list[dict[str, Any]]:
    """The MIME bundle (``data``) of every display and result of every code cell."""
    return [
        out["data"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type in ("display_data", "execute_result")
    ]


def kind(bundle: dict[str, Any]) -> str | None:
    """nnmath's display kind of a bundle, from its HTML's outer ``div``; None for others."""
    match = re.match(r'<div class="nnmath nnmath-([a-z]+)">', bundle.get("text/html", ""))
    return match.group(1) if match else None


def test_the_lecture_notebooks_are_there() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"
    missing = sorted(set(EXPECTED) - {p.name for p in NOTEBOOKS})
    assert not missing, f"EXPECTED names notebooks that are not in {NOTEBOOK_DIR}: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    """Outputs are made by running the notebook, never committed (strip them before a commit:
    ``jupyter nbconvert --clear-output --inplace docs/notebooks/*.ipynb``)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"] is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or an execution count; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_without_an_error(path: Path, workdir: Path) -> None:
    nb = execute(path, workdir)
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors, f"{path.name}: {errors}"
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells), "a cell did not run"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rich_displays(name: str, workdir: Path) -> None:
    """Each object's display is there with every MIME type the object provides."""
    nb = execute(NOTEBOOK_DIR / name, workdir)
    found = bundles(nb)
    for expected in sorted(EXPECTED[name]):
        if expected == "image/png":
            if HAVE_MPL:
                assert any("image/png" in b for b in found), f"{name}: no figure shown"
            continue
        shown = [b for b in found if kind(b) == expected]
        assert shown, f"{name}: no {expected} display among the outputs"
        for bundle in shown:
            missing = DISPLAYS[expected] - set(bundle)
            assert not missing, f"{name}: the {expected} display lacks {sorted(missing)}"


def test_displays_show_their_content(workdir: Path) -> None:
    """The rich displays carry their pictures and equations, not only a table."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for name in EXPECTED:
        for bundle in bundles(execute(NOTEBOOK_DIR / name, workdir)):
            by_kind.setdefault(kind(bundle) or "other", []).append(bundle)
    assert all("<svg" in b["text/html"] for b in by_kind["network"])  # the diagram
    assert all("<svg" in b["text/html"] for b in by_kind["history"])  # the learning curves
    for bundle in by_kind["trace"]:
        latex = bundle["text/latex"]
        assert latex.startswith("$$\\begin{aligned}") and "(BP1)" in latex
        assert "δ^l" in bundle["text/markdown"]
    assert all("∂C/∂w" in b["text/markdown"] for b in by_kind["gradcheck"])
    assert all("weight factor" in b["text/markdown"] for b in by_kind["factors"])
