"""The user guide, the API reference and the notebooks build with Sphinx, warnings as errors,
as the README says (``python -m sphinx -W --keep-going -b html docs docs/_build/html``), and
the site needs no network: MathJax ships with it, no page loads a remote script.

The build runs on a copy of docs/ in a temporary folder (autosummary writes its generated
pages into the source folder, so the tree is never touched) and with
``nb_execution_mode=off``: tests/test_notebooks.py executes the notebooks already.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import headless_chromium

DOCS = Path(__file__).resolve().parents[1] / "docs"
MODULES = [
    "nnmath",
    "nnmath.activations",
    "nnmath.costs",
    "nnmath.init",
    "nnmath.network",
    "nnmath.layers",
    "nnmath.layer_network",
    "nnmath.optim",
    "nnmath.schedules",
    "nnmath.callbacks",
    "nnmath.diagnostics",
    "nnmath.data",
    "nnmath.io",
    "nnmath.display",
    "nnmath.train",
    "nnmath.estimator",
    "nnmath.ensemble",
    "nnmath.sweep",
    "nnmath.plots",
    "nnmath.plots.sweep",
    "nnmath.reproduce",
    "nnmath.playground",
    "nnmath.nielsen",
    "nnmath.backend",
    "nnmath.checkpoint",
    "nnmath.dropout",
    "nnmath.engine",
    "nnmath.fast",
    "nnmath.validation",
    "nnmath.cli",
]
SRC = DOCS.parent / "src" / "nnmath"

for _module in ("sphinx", "numpydoc", "myst_nb", "mathjax"):
    pytest.importorskip(_module, reason=f"the docs build needs {_module}: pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML of a warnings-as-errors build of a copy of docs/."""
    root = tmp_path_factory.mktemp("docs")
    source, out = root / "docs", root / "html"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated"))
    _store_the_init_table_output(source / "notebooks" / "05_remedies.ipynb")
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
    # the modules the reference used to miss
    assert 'id="nnmath.nielsen.Network.SGD"' in page("nnmath.nielsen")
    assert 'id="nnmath.reproduce.run"' in page("nnmath.reproduce")
    assert 'id="nnmath.plots.plot_learning_curves"' in page("nnmath.plots")
    assert 'id="nnmath.plots.sweep.plot_sweep"' in page("nnmath.plots.sweep")
    assert 'id="nnmath.playground.create_app"' in page("nnmath.playground")
    assert 'id="nnmath.backend.get_backend"' in page("nnmath.backend")
    assert 'id="nnmath.checkpoint.restore"' in page("nnmath.checkpoint")


def test_the_notebooks_are_pages(built: Path) -> None:
    notebooks = sorted((DOCS / "notebooks").glob("*.ipynb"))
    assert notebooks
    index = (built / "index.html").read_text(encoding="utf-8")
    for notebook in notebooks:
        html = built / "notebooks" / f"{notebook.stem}.html"
        assert html.is_file(), f"{notebook.name} is not in the docs"
        assert f"notebooks/{notebook.stem}.html" in index, f"{notebook.name} is not in the toctree"


def test_every_public_module_of_the_source_is_in_the_reference():
    public = {
        f"nnmath.{p.stem if p.is_file() else p.name}"
        for p in SRC.iterdir()
        if not p.name.startswith(("_", "."))
        and (p.suffix == ".py" or (p / "__init__.py").is_file())
    }
    assert public, "the source's modules must be found"
    assert public <= set(MODULES), f"public modules without an API page: {public - set(MODULES)}"


def test_the_guide_is_in_the_site(built: Path) -> None:
    pages = sorted((DOCS / "guide").glob("*.md"))
    assert len(pages) >= 10
    guide = (built / "guide" / "index.html").read_text(encoding="utf-8")
    assert "guide/index.html" in (built / "index.html").read_text(encoding="utf-8")
    for page in pages:
        assert (built / "guide" / f"{page.stem}.html").is_file(), f"{page.name} is not built"
        if page.stem != "index":
            assert f'href="{page.stem}.html"' in guide, f"{page.name} is not in the toctree"
    # the figures it shows are copied into the site
    assert list((built / "_images").glob("vanishing_init*.png"))
    assert list((built / "_images").glob("he2015*.png"))


def _tags(built: Path, tag: str, attribute: str) -> dict[str, list[str]]:
    """Every ``attribute`` of every ``<tag>`` in the site's HTML pages, by page."""
    found: dict[str, list[str]] = {}
    pattern = re.compile(rf"<{tag}\b[^>]*?\b{attribute}=[\"']([^\"']*)[\"']", re.I)
    for page in built.rglob("*.html"):
        found[str(page.relative_to(built))] = pattern.findall(page.read_text(encoding="utf-8"))
    return found


def test_no_page_loads_a_remote_script_or_stylesheet(built: Path) -> None:
    remote = re.compile(r"^(https?:)?//", re.I)
    scripts = _tags(built, "script", "src")
    assert sum(map(len, scripts.values())) > 0, "the pattern must find the pages' scripts"
    bad = [f"{page}: {src}" for page, srcs in scripts.items() for src in srcs if remote.match(src)]
    links = _tags(built, "link", "href")
    bad += [f"{page}: {h}" for page, hrefs in links.items() for h in hrefs if remote.match(h)]
    assert bad == [], f"pages load remote files: {bad[:5]}"


def test_mathjax_ships_with_the_site(built: Path) -> None:
    loading = {
        page: src
        for page, srcs in _tags(built, "script", "src").items()
        for src in srcs
        if "mathjax" in src.lower()
    }
    assert "notebooks/01_layer_and_activations.html" in loading  # a page with equations
    for page, src in loading.items():
        assert "//" not in src, f"{page} loads MathJax from the network: {src}"
        script = (built / page).parent / src.split("?")[0]
        assert script.resolve().is_relative_to(built.resolve()), f"{page} loads {src}"
        assert script.stat().st_size > 1_000_000, f"{page}: {src} is not MathJax"
    assert (built / "_static" / "mathjax" / "LICENSE").is_file()


def test_equations_render_offline_in_a_browser(built: Path) -> None:
    """Opened from file:// in headless Chromium (no server, no network), the notebook's
    equations become MathJax's SVG."""
    with headless_chromium() as browser:
        browser.get((built / "notebooks" / "01_layer_and_activations.html").as_uri())
        count, deadline = 0, time.monotonic() + 60
        while count == 0 and time.monotonic() < deadline:
            time.sleep(0.25)
            count = browser.execute_script(
                "return document.querySelectorAll('mjx-container svg').length"
            )
        errors = browser.execute_script("return document.querySelectorAll('mjx-merror').length")
    assert count > 10, "MathJax rendered no equation from the local copy"
    assert errors == 0


def _init_table_markdown() -> str:
    """What notebook 05's init-table cell displays, computed here as the kernel would."""
    notebook = json.loads((DOCS / "notebooks" / "05_remedies.ipynb").read_text("utf-8"))
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    (source,) = [c for c in cells if "nm.init.__doc__" in c]
    *body, last = source.rstrip().splitlines()
    assert last.startswith("Markdown(") and last.endswith(")"), "the cell displays Markdown"
    import nnmath as nm

    namespace = {"nm": nm}
    exec("\n".join(body + [f"markdown = {last.removeprefix('Markdown(')[:-1]}"]), namespace)
    return namespace["markdown"]


def _store_the_init_table_output(path: Path) -> None:
    """Give the copy of notebook 05 the init-table cell's output, as an executed notebook has
    it (the build runs with execution off), so the test sees how the site renders it."""
    notebook = json.loads(path.read_text("utf-8"))
    (cell,) = [c for c in notebook["cells"] if "nm.init.__doc__" in "".join(c["source"])]
    data = {"text/markdown": _init_table_markdown(), "text/plain": "<Markdown object>"}
    cell["execution_count"] = 1
    cell["outputs"] = [
        {"output_type": "execute_result", "execution_count": 1, "data": data, "metadata": {}}
    ]
    path.write_text(json.dumps(notebook), encoding="utf-8")


def test_notebook_05_draws_the_init_table_as_a_markdown_table() -> None:
    import nnmath as nm

    rows = _init_table_markdown().splitlines()
    assert rows[0] == "| name | weights | biases |" and rows[1] == "|---|---|---|"
    assert len(rows) == 2 + len(nm.init.INITS)
    assert all(r.startswith("| `") and r.count(" | ") == 2 for r in rows[2:])
    assert not any("===" in r for r in rows)  # no reStructuredText rule left


def test_notebook_05_init_table_is_rendered_as_a_table(built: Path) -> None:
    html = (built / "notebooks" / "05_remedies.html").read_text(encoding="utf-8")
    tables = re.findall(r"<table.*?</table>", html, flags=re.S)
    (table,) = [t for t in tables if "scaled_normal" in t and "biases" in t]
    assert table.count("<tr") == 1 + 9 and "<th" in table


def test_the_guide_lists_every_declared_activation() -> None:
    """The lecture's table has a row per activation of the registry (its σ, σ' and class, as
    ``nnmath.activations`` exports them) and training.md names them all, aliases too."""
    from nnmath.activations import ACTIVATIONS

    lecture = (DOCS / "guide" / "lecture.md").read_text(encoding="utf-8")
    rows = [line for line in lecture.splitlines() if "`activations." in line]
    listed = (DOCS / "guide" / "training.md").read_text(encoding="utf-8")
    listed = listed[listed.index("**Activations**") : listed.index("**Optimizers**")]
    for key, cls in ACTIVATIONS.items():
        assert re.search(rf"\b{key}\b", listed), f"training.md does not list {key!r}"
        if key != cls.name:
            continue  # an alias has no row of its own
        names = [f.__name__ for f in getattr(cls, "functions", None) or (cls.fn, cls.fn_prime)]
        first = f"`activations.{names[0]}`"
        row = next((r for r in rows if first in r), None)
        assert row is not None, f"lecture.md's table has no row for {first}"
        assert f"`{cls.__name__}`" in row, f"{cls.name}: {cls.__name__} is not in {row}"
        for name in names[1:]:  # σ' beside σ; softmax's Jacobian has a row of its own
            assert any(f"`{name}`" in r or f".{name}`" in r for r in rows), f"no {name} row"
