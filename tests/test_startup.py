"""Start-up: what ``nnmath --help`` and ``nnmath train`` import before they do their work.

The times themselves are measured by a benchmark (``benchmarks/startup.py``), never here;
these tests check the imports that made start-up slow and must not come back: scikit-learn
(seconds, pulled in by the embedded digits set), the training loop, the sweeps and the
downloader for ``--help``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

HEAVY = ("sklearn", "scipy", "torch", "jax", "matplotlib", "pandas", "dask", "rich.console")


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_digits_are_read_without_scikit_learn() -> None:
    """The CSV that scikit-learn ships, read directly: the same numbers, no sklearn import."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="needs scikit-learn")
    from nnmath.data.datasets import _digits_arrays

    data, target = _digits_arrays()
    bunch = sklearn_datasets.load_digits()
    assert data.dtype == bunch.data.dtype and np.array_equal(data, bunch.data)
    assert np.array_equal(target, bunch.target)
    loaded = _modules_after("from nnmath.data import load_digits\nload_digits()")
    assert "sklearn" not in loaded


def test_train_on_digits_imports_nothing_heavy(tmp_path) -> None:
    code = "from nnmath.cli import main\nassert main(['train', '--epochs', '1', '--quiet']) == 0"
    loaded = _modules_after(code)
    assert "nnmath.train" in loaded  # it did train
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_help_builds_one_parser_and_imports_no_training() -> None:
    code = (
        "import contextlib, io\n"
        "from nnmath.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])"
    )
    loaded = _modules_after(code)
    unwanted = ("nnmath.train", "nnmath.callbacks", "nnmath.sweep", "nnmath.data.download")
    assert sorted(m for m in (*HEAVY, *unwanted) if m in loaded) == []


def test_help_lists_every_command_and_each_parser_builds() -> None:
    """The lazily built top-level help names every command; each command's own parser (built
    only when asked) still parses its ``--help``."""
    from nnmath.cli import COMMANDS, build_parser

    text = build_parser(["--help"], every_command=False).format_help()
    assert all(name in text for name in COMMANDS)
    for name in COMMANDS:
        with pytest.raises(SystemExit) as done:
            build_parser([name], every_command=False).parse_args([name, "--help"])
        assert done.value.code == 0
