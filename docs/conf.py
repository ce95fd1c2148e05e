"""Sphinx configuration: nnmath's API reference (autodoc + autosummary, numpydoc docstrings)
and the lecture's notebooks (myst-nb).

Build, warnings as errors (tests/test_docs.py does the same into a temporary folder)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import importlib
import inspect
import shutil
from pathlib import Path
from typing import Any

import mathjax  # MathJax 3's files (the django-static-mathjax package; Django not needed)
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

import nnmath

project = "nnmath"
author = "nnmath contributors"
copyright = "nnmath contributors"
release = version = nnmath.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# The API: one page per public module, the modules listed once, in docs/api/index.rst's
# autosummary (its pages generated into docs/api/generated at every build, not committed, from
# _templates/autosummary/module.rst); read from there for the hooks below.
API_MODULES = tuple(
    line.strip()
    for line in (Path(__file__).parent / "api" / "index.rst").read_text("utf-8").splitlines()
    if line.startswith("   nnmath")
)
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections state the types and the shapes
numpydoc_show_class_members = False  # autodoc's members document the methods, once
numpydoc_attributes_as_param_list = True

# The notebooks: executed when they change, their outputs (the rich displays) kept in
# docs/_build/.jupyter_cache. tests/test_notebooks.py executes them at every test run, so
# tests/test_docs.py builds with -D nb_execution_mode=off and does not run them twice.
nb_execution_mode = "cache"
nb_execution_timeout = 120
nb_execution_raise_on_error = True
nb_render_markdown_format = "myst"  # Markdown outputs (the notebooks' tables) with tables
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3  # the guide links to its sections: training.md#watching-it-learn

# MathJax ships with the docs so the equations render offline, from file:// too: the one-file
# TeX build with every extension (nothing loaded on demand) and SVG output (its glyphs inside
# the script: no font files, which browsers refuse to load from file:// pages).
MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax"
MATHJAX_FILES = ("LICENSE", "es5/tex-svg-full.js")
mathjax_path = "mathjax/es5/tex-svg-full.js"

html_theme = "alabaster"
html_theme_options = {"page_width": "1180px", "body_max_width": "none"}  # the guide's tables
html_title = f"nnmath {release}"


def home(obj: Any, name: str = "") -> str | None:
    """The module of API_MODULES whose page documents ``obj``: the longest that holds it.

    A package re-exports what its private modules define (``nnmath.activations._objects``
    -> ``nnmath.activations``); a value without ``__module__`` (a registry dict) belongs to
    the API module that has it as ``name``."""
    if inspect.ismodule(obj):
        return obj.__name__ if obj.__name__ in API_MODULES else None
    where = getattr(obj, "__module__", None)
    if isinstance(where, str):
        inside = [m for m in API_MODULES if where == m or where.startswith(m + ".")]
        return max(inside, key=len, default=None)
    for module in API_MODULES[1:]:
        if getattr(importlib.import_module(module), name, None) is obj:
            return module
    return None


_page: dict[str, str | None] = {"module": None}  # the module whose page autodoc writes


def _remember_module(app: Any, what: str, name: str, *args: Any) -> None:
    if what == "module":
        _page["module"] = name


def _skip_member(app: Any, what: str, name: str, obj: Any, skip: bool, options: Any) -> Any:
    """Document each object once, on its home module's page (``GradientTracker`` is
    ``nnmath.diagnostics``' even though ``nnmath.callbacks`` re-exports it), and leave out
    the methods other libraries add to a class (scikit-learn's ``set_*_request``)."""
    if what == "class" and getattr(obj, "__module__", "nnmath").partition(".")[0] != "nnmath":
        return True
    if what == "module":
        where = home(obj, name)
        if where not in (None, "nnmath", _page["module"]):
            return True
    return None


class Exports(SphinxDirective):
    """``.. nnmath-exports::`` — a table of ``nnmath.__all__``, each name linked to the page
    of the module that documents it."""

    def run(self) -> list[Any]:
        lines = [".. autosummary::", ""]  # names relative to the current module, nnmath
        for name in nnmath.__all__:
            obj = getattr(nnmath, name)
            where = home(obj, name)
            if where is None or name.startswith("__"):
                continue
            path = where if inspect.ismodule(obj) else f"{where}.{name}"
            lines.append(f"   {path.removeprefix('nnmath.')}")
        container = nodes.container()
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return container.children


def _copy_mathjax(app: Any, exception: Exception | None) -> None:
    """Put MathJax's script and its licence beside the pages that load it (mathjax_path)."""
    if exception is not None or app.builder.format != "html":
        return
    for name in MATHJAX_FILES:
        source, target = MATHJAX / name, Path(app.outdir) / "_static" / "mathjax" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def setup(app: Any) -> None:
    app.connect("build-finished", _copy_mathjax)
    app.connect("autodoc-process-docstring", _remember_module)
    app.connect("autodoc-skip-member", _skip_member)
    app.add_directive("nnmath-exports", Exports)
