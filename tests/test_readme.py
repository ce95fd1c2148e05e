"""The README is the front door: at most 300 lines, its set-up commands are the ones CI runs,
its one screen of Python runs as written, its links into the guide and the files it cites
exist, and the tests find MNIST where the loaders do ($NNMATH_DATA first). The examples that
moved into the guide run in tests/test_guide.py."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

from conftest import SHARED_DATA, block_names, mnist_folder

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.S | re.M)


def _block(first_line: str) -> int:
    """The index of the README's python block that contains ``first_line``."""
    found = [i for i, b in enumerate(BLOCKS) if first_line in b]
    assert len(found) == 1, f"{first_line!r} is in {len(found)} python blocks of the README"
    return found[0]


#: blocks run here (cheap on the digits), each in the namespace the blocks before it left, as
#: a reader running them in turn would; the others are checked for names nothing defines
RUN = [
    "data = load_digits()  # train / validation / test",
    "from nnmath.layers import Conv2D, Dense, Dropout, Input, MaxPool2D",
]
#: why a block is not run here (every other block runs)
NOT_RUN: dict[str, str] = {}
MAX_LINES = 300


def test_every_python_block_is_run_or_has_a_reason():
    run = {_block(line) for line in RUN}
    skipped = {_block(line) for line in NOT_RUN}
    assert run.isdisjoint(skipped)
    assert run | skipped == set(range(len(BLOCKS))), "a new README block: add it to RUN or NOT_RUN"


def _undefined(source: str, known: set[str]) -> set[str]:
    """Names the block reads that neither it (before or after: a reader sees the whole
    block) nor the blocks before it nor Python define."""
    defined, used = block_names(source)
    defined |= set(known) | set(dir(builtins))
    return used - defined


def test_the_readme_examples_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # nothing is written where the tests run
    run = {_block(line) for line in RUN}
    namespace: dict = {}
    for i, source in enumerate(BLOCKS):
        missing = _undefined(source, set(namespace) | _names_of_blocks_before(i))
        assert not missing, f"README python block {i} uses undefined names {sorted(missing)}"
        if i in run:
            exec(compile(source, f"README.md python block {i}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "0.9" in out  # the accuracy the block prints


def _names_of_blocks_before(i: int) -> set[str]:
    """What the blocks before block ``i`` define (run or not): a reader has them."""
    names: set[str] = set()
    for source in BLOCKS[:i]:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_the_readme_is_a_front_door_of_at_most_300_lines():
    lines = README.splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; move prose into the guide"
    for picture in ("docs/playground.png", "docs/vanishing_init.png"):
        assert f"]({picture})" in README, f"the README shows no {picture}"


def test_the_setup_commands_are_the_ones_ci_runs():
    install = "python -m pip install -e . && nnmath train"
    tests = 'python -m pip install -e ".[test]" && python -m pytest'
    assert f"\n{install}\n" in README and f"\n{tests}\n" in README
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_links_to_every_page_of_the_guide():
    linked = set(re.findall(r"\]\((docs/guide/[\w-]+\.md)(?:#[\w-]+)?\)", README))
    pages = {f"docs/guide/{p.name}" for p in (ROOT / "docs" / "guide").glob("*.md")}
    assert linked, "the README links into the guide"
    assert linked <= pages, f"links to missing guide pages: {sorted(linked - pages)}"
    assert pages - {"docs/guide/index.md"} <= linked, f"not linked: {sorted(pages - linked)}"
    assert "python -m sphinx -W --keep-going -b html docs docs/_build/html" in README


def test_the_readme_cites_no_missing_file():
    cited = set(re.findall(r"`([\w.-]+(?:/[\w.-]+)+\.[a-z]+)`", README))
    cited |= {p for p in re.findall(r"\]\(([^)#:\s]+)\)", README)}
    assert cited, "the README cites files: the pattern must find them"
    missing = [
        p for p in sorted(cited) if not (ROOT / p).exists() and not (ROOT / "src" / p).exists()
    ]
    assert not missing, f"the README cites files that do not exist: {missing}"


def test_tests_find_mnist_through_nnmath_data(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    monkeypatch.setenv("NNMATH_DATA", str(tmp_path))
    assert mnist_folder() == SHARED_DATA / "mnist"  # $NNMATH_DATA/mnist without the files
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"")
    assert mnist_folder() == folder  # with them: the loaders' order, $NNMATH_DATA first
    # and no test builds the shared folder's path itself, past $NNMATH_DATA
    own = re.compile(r"""["']shared["']\s*\)?\s*/\s*["']data["']""")
    offenders = [
        p.name
        for p in sorted((ROOT / "tests").glob("test_*.py"))
        if own.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"these tests look for MNIST past $NNMATH_DATA: {offenders}"


def test_no_test_refers_to_numba_without_a_skip_message():
    # Numba was removed: a test that still names it would skip (or pass) silently
    pattern = re.compile(r"numba", re.I)
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name == "test_readme.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                assert "removed" in line or "were removed" in line, (
                    f"{path.name}:{n} still refers to Numba: {line.strip()}"
                )
