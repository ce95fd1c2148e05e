"""nnmath._files.atomic_write: the one way nnmath publishes a file."""

from __future__ import annotations

import os

import pytest

from nnmath._files import atomic_write, usual_mode


def test_writes_the_file_with_the_usual_mode(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_write(path, fsync=True) as fh:
        fh.write(b"\x00\x01")
        assert not path.exists()  # nothing is published before the block ends
    assert path.read_bytes() == b"\x00\x01"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask == usual_mode()
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_text_mode_with_encoding_and_newline(tmp_path):
    path = tmp_path / "t.csv"
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("σ,δ\r\n")
    assert path.read_bytes() == "σ,δ\r\n".encode()


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, error):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(type(error)), atomic_write(path, "w") as fh:
        fh.write("half of the new")
        raise error
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_refuses_modes_that_do_not_write_a_new_file(tmp_path):
    with pytest.raises(ValueError, match="mode 'wb' or 'w'"), atomic_write(tmp_path / "x", "a"):
        pass
    assert not list(tmp_path.iterdir())
