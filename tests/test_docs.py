"""The API reference and the notebooks build with Sphinx, warnings as errors, as the README
says (``python -m sphinx -W --keep-going -b html docs docs/_build/html``).

The build runs on a copy of docs/ in a temporary folder (autosummary writes its generated
pages into the source folder, so the tree is never touched) and with
``nb_execution_mode=off``: tests/test_notebooks.py executes the notebooks already.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
MODULES = [
    "nnmath",
    "nnmath.activations",
    "nnmath.costs",
    "nnmath.init",
    "nnmath.network",
    "nnmath.optim",
    "nnmath.schedules",
    "nnmath.callbacks",
    "nnmath.diagnostics",
    "nnmath.data",
    "nnmath.io",
    "nnmath.display",
    "nnmath.train",
    "nnmath.estimator",
    "nnmath.sweep",
]

for _module in ("sphinx", "numpydoc", "myst_nb"):
    pytest.importorskip(_module, reason=f"the docs build needs {_module}: pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML of a warnings-as-errors build of a copy of docs/."""
    root = tmp_path_factory.mktemp("docs")
    source, out = root / "docs", root / "html"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated"))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    cmd += ["-D", "nb_execution_mode=off", "-d", str(root / "doctrees"), str(source), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"sphinx failed:\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
    return out


def test_build_succeeds_with_warnings_as_errors(built: Path) -> None:
    assert (built / "index.html").is_file()
    assert (built / "api" / "index.html").is_file()
    assert (built / "genindex.html").is_file() and (built / "py-modindex.html").is_file()


@pytest.mark.parametrize("module", MODULES)
def test_every_public_module_has_its_page(built: Path, module: str) -> None:
    page = built / "api" / "generated" / f"{module}.html"
    assert page.is_file(), f"no API page for {module}"
    assert f'id="module-{module}"' in page.read_text(encoding="utf-8")


def test_api_pages_document_the_objects(built: Path) -> None:
    def page(module: str) -> str:
        return (built / "api" / "generated" / f"{module}.html").read_text(encoding="utf-8")

    network = page("nnmath.network")
    assert 'id="nnmath.network.Network"' in network
    assert 'id="nnmath.network.Network.backprop"' in network
    assert "δ^l" in network or "δ<sup>l</sup>" in network  # the lecture's equations, shown
    assert 'id="nnmath.activations.softmax_jacobian"' in page("nnmath.activations")
    assert 'id="nnmath.diagnostics.trace"' in page("nnmath.diagnostics")
    assert 'id="nnmath.train.fit"' in page("nnmath.train")
    # a re-exported object is documented once, on its own module's page, and linked from
    # the top level: GradientTracker lives in nnmath.diagnostics, History in nnmath.callbacks
    assert 'id="nnmath.callbacks.GradientTracker"' not in page("nnmath.callbacks")
    assert 'id="nnmath.callbacks.History"' in page("nnmath.callbacks")
    assert "nnmath.network.html#nnmath.network.Network" in page("nnmath")


def test_the_notebooks_are_pages(built: Path) -> None:
    notebooks = sorted((DOCS / "notebooks").glob("*.ipynb"))
    assert notebooks
    index = (built / "index.html").read_text(encoding="utf-8")
    for notebook in notebooks:
        html = built / "notebooks" / f"{notebook.stem}.html"
        assert html.is_file(), f"{notebook.name} is not in the docs"
        assert f"notebooks/{notebook.stem}.html" in index, f"{notebook.name} is not in the toctree"
