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


def _killed_mid_write(path) -> None:
    """A real process that starts an atomic write of ``path`` and is SIGKILLed inside it."""
    import signal
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from nnmath._files import atomic_write\n"
        "with atomic_write(sys.argv[1]) as fh:\n"
        "    fh.write(b'x' * 100000); fh.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"writing\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_the_next_write_removes_a_killed_writes_temporary(tmp_path):
    path = tmp_path / "model.bin"
    for _ in range(2):
        _killed_mid_write(path)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(n.startswith(".model.bin.") and n.endswith(".tmp") for n in left)
    other = tmp_path / ".other.bin.1-abc.tmp"  # another file's temporary is not this one's
    other.write_bytes(b"")
    with atomic_write(path) as fh:
        fh.write(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "model.bin"]
    assert path.read_bytes() == b"new"


def test_a_running_writers_temporary_is_kept(tmp_path):
    path = tmp_path / "t.txt"
    mine = tmp_path / f".t.txt.{os.getpid()}-inflight.tmp"  # a write still going on
    mine.write_bytes(b"")
    with atomic_write(path, "w") as fh:
        fh.write("done")
    assert mine.exists()
