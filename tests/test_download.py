"""The download path against real HTTP servers on 127.0.0.1 (never the internet).

One server, started by the tests on a random port in a thread, serves the files in several
ways under different URL prefixes: ``/good/``, ``/corrupt/`` (one byte flipped, same length),
``/truncated/`` (announces the full length, sends half, closes) and ``/missing/`` (404).
A mirror that is down is a closed port.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import nnmath.data.download as download_module
from conftest import MNIST_FOLDER
from nnmath.cli import main
from nnmath.data import DataError, DownloadError, load_idx_folder, load_mnist, write_idx
from nnmath.data.download import FILES, RemoteFile, checksum_problem
from nnmath.data.download import download_dataset as download
from nnmath.data.mnist import cache_dir

SHARED_MNIST = MNIST_FOLDER  # $NNMATH_DATA/mnist, else ../shared/data/mnist (conftest)
BUILTIN_MIRRORS = copy.deepcopy(download_module.MIRRORS)  # before any test replaces them


class _Handler(BaseHTTPRequestHandler):
    source: Path
    requests: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        parts = self.path.strip("/").split("/")
        mode, name = parts[0], parts[-1]
        path = self.source / name
        if mode == "missing" or not path.is_file():
            self.send_error(404, "not here")
            return
        data = path.read_bytes()
        if mode == "corrupt":
            flipped = bytearray(data)
            flipped[len(data) // 2] ^= 0x01
            data = bytes(flipped)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "truncated":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


def _serve(source: Path):
    handler = type("Handler", (_Handler,), {"source": source, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, handler


class Server:
    def __init__(self, base: str, handler: type) -> None:
        self.base, self.handler = base, handler

    def url(self, mode: str) -> str:
        return f"{self.base}/{mode}/"

    @property
    def requests(self) -> list[str]:
        return self.handler.requests


def _start(source: Path):
    server, thread, handler = _serve(source)
    host, port = server.server_address[:2]
    return server, thread, Server(f"http://{host}:{port}", handler)


def _stop(server, thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def down_mirror() -> str:
    """The URL of a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NNMATH_DATA", raising=False)
    # any test that forgot to name its mirrors fails instead of reaching the internet
    monkeypatch.setitem(download_module.MIRRORS, "mnist", ["http://127.0.0.1:9/"])
    monkeypatch.setitem(download_module.MIRRORS, "fashion-mnist", ["http://127.0.0.1:9/"])


@pytest.fixture
def tiny_remote(tmp_path, monkeypatch):
    """Four small IDX files served in place of MNIST's, with their checksums in FILES."""
    src = tmp_path / "remote"
    src.mkdir()
    rng = np.random.default_rng(1)
    remotes = []
    for remote in FILES["mnist"]:
        n = 600 if remote.name.startswith("train") else 100
        if "images" in remote.name:
            array = rng.integers(0, 256, size=(n, 5, 5), dtype=np.uint8)
        else:
            array = (np.arange(n) % 10).astype(np.uint8)
        path = write_idx(src / remote.name, array)
        raw = path.read_bytes()
        remotes.append(
            RemoteFile(
                remote.name, len(raw), hashlib.md5(raw).hexdigest(), hashlib.sha256(raw).hexdigest()
            )
        )
    monkeypatch.setitem(download_module.FILES, "mnist", tuple(remotes))
    server, thread, handle = _start(src)
    yield handle
    _stop(server, thread)


@pytest.fixture(scope="module")
def mnist_server():
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the shared MNIST files are not at {SHARED_MNIST}")
    server, thread, handle = _start(SHARED_MNIST)
    yield handle
    _stop(server, thread)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------------ the real files


def test_mirrors_tried_in_turn_real_mnist(mnist_server, down_mirror, monkeypatch):
    monkeypatch.setitem(
        download_module.MIRRORS,
        "mnist",
        [
            down_mirror,
            mnist_server.url("missing"),
            mnist_server.url("corrupt"),
            mnist_server.url("good"),
        ],
    )
    calls: list[tuple[str, int, int | None]] = []
    data = load_mnist(download=True, scale=256, progress=lambda *c: calls.append(c))
    folder = cache_dir("mnist")
    assert _leftovers(folder) == sorted(r.name for r in FILES["mnist"])  # no .part files
    for remote in FILES["mnist"]:
        assert checksum_problem(folder / remote.name, remote) is None
        assert (folder / remote.name).read_bytes() == (SHARED_MNIST / remote.name).read_bytes()
        last = [c for c in calls if c[0] == remote.name][-1]
        assert last[1] == last[2] == remote.size
    assert len(data.train[1]) == 50_000 and data.test[0].shape == (10_000, 784)
    # each file: the missing, then the corrupt, then the good mirror were asked
    modes = [p.split("/")[1] for p in mnist_server.requests]
    assert modes.count("good") == 4 and modes.count("corrupt") == 4 and modes.count("missing") == 4
    # the data is now found in the cache without download
    assert load_mnist().test[1][:3].tolist() == [7, 2, 1]


# ------------------------------------------------------------------------ failure handling


def test_every_mirror_failing_is_one_clear_error(tiny_remote, down_mirror, tmp_path):
    target = tmp_path / "dl"
    with pytest.raises(DownloadError) as err:
        download("mnist", target, mirrors=[down_mirror, tiny_remote.url("corrupt")])
    msg = str(err.value)
    assert "could not download train-images-idx3-ubyte.gz of mnist" in msg
    assert down_mirror in msg and "checksum mismatch: MD5" in msg and "--mirror" in msg
    assert _leftovers(target) == []


def test_truncated_download_leaves_no_file(tiny_remote, tmp_path):
    target = tmp_path / "dl"
    with pytest.raises(DownloadError, match="truncated"):
        download("mnist", target, mirrors=[tiny_remote.url("truncated")])
    assert _leftovers(target) == []
    with pytest.raises(DataError, match="mnist files not found"):
        load_mnist(target)
    # the next mirror in the list repairs it
    download("mnist", target, mirrors=[tiny_remote.url("truncated"), tiny_remote.url("good")])
    data = load_idx_folder(target)
    assert data.test[0].shape == (100, 25) and len(data.validation[1]) == 100


def test_failed_download_removes_only_the_empty_folders_it_created(
    tiny_remote, down_mirror, tmp_path
):
    # the default cache folder and its parents did not exist: all of them go again
    cache = tmp_path / "cache"
    assert not cache.exists()
    with pytest.raises(DownloadError):
        download("mnist", mirrors=[down_mirror])
    assert not cache.exists()
    # a folder that existed before stays, and so does its parent
    before = tmp_path / "before"
    before.mkdir()
    with pytest.raises(DownloadError):
        download("mnist", before, mirrors=[down_mirror])
    assert before.is_dir() and _leftovers(before) == []
    # new folders below an existing one: the new ones go, the existing one stays
    with pytest.raises(DownloadError):
        download("mnist", before / "a" / "b", mirrors=[down_mirror])
    assert before.is_dir() and _leftovers(before) == []
    # a folder the download created but that holds files is kept with them
    (tmp_path / "remote" / "t10k-labels-idx1-ubyte.gz").unlink()  # the last file is missing
    partial = tmp_path / "partial" / "mnist"
    with pytest.raises(DownloadError, match="t10k-labels-idx1-ubyte.gz"):
        download("mnist", partial, mirrors=[tiny_remote.url("good")])
    assert _leftovers(partial) == sorted(r.name for r in FILES["mnist"][:3])


def test_verified_files_are_kept_and_bad_ones_replaced(tiny_remote, tmp_path):
    target = tmp_path / "dl"
    download("mnist", target, mirrors=[tiny_remote.url("good")])
    assert len(tiny_remote.requests) == 4
    download("mnist", target, mirrors=[tiny_remote.url("good")])
    assert len(tiny_remote.requests) == 4  # nothing fetched again
    victim = target / "t10k-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:50])  # a damaged cached file
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        load_idx_folder(target)
    download("mnist", target, mirrors=[tiny_remote.url("good")])
    assert len(tiny_remote.requests) == 5  # only the damaged one
    assert load_idx_folder(target).test[0].shape == (100, 25)
    download("mnist", target, mirrors=[tiny_remote.url("good")], force=True)
    assert len(tiny_remote.requests) == 9


def test_download_into_explicit_path(tiny_remote, tmp_path, monkeypatch):
    monkeypatch.setitem(download_module.MIRRORS, "mnist", [tiny_remote.url("good")])
    target = tmp_path / "here"
    with pytest.raises(DataError, match="expected 28x28 images"):  # tiny files are 5x5
        load_mnist(target, download=True)
    assert sorted(_leftovers(target)) == sorted(r.name for r in FILES["mnist"])
    assert _leftovers(cache_dir("mnist")) == []


def test_unknown_name_and_empty_mirrors(tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        download("cifar", tmp_path)
    with pytest.raises(ValueError, match="no mirrors"):
        download("mnist", tmp_path, mirrors=[])


def test_builtin_mirrors_are_https():
    for name in ("mnist", "fashion-mnist"):
        assert len(BUILTIN_MIRRORS[name]) >= 2
        assert all(url.startswith("https://") for url in BUILTIN_MIRRORS[name])
        assert [r.name for r in FILES[name]] == [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ]
        assert all(len(r.md5) == 32 for r in FILES[name])


def test_fashion_published_sizes_match_debian_recompressed_files():
    """Debian stores the same gzip streams without the original file name in the header."""
    debian = Path("/usr/share/datasets/fashion-mnist")
    if not debian.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    for remote in FILES["fashion-mnist"]:
        raw = (debian / remote.name).read_bytes()
        fname = remote.name.removesuffix(".gz").encode() + b"\x00"
        assert len(raw) + len(fname) == remote.size
        assert len(gzip.decompress(raw)) in (47_040_016, 60_008, 7_840_016, 10_008)


# ------------------------------------------------------------------------ command line


def test_cli_download(tiny_remote, down_mirror, tmp_path, capsys):
    target = tmp_path / "cli"
    code = main(
        [
            "data",
            "download",
            "mnist",
            "--dir",
            str(target),
            "--mirror",
            down_mirror,
            "--mirror",
            tiny_remote.url("good"),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == f"mnist: four verified files in {target}"
    assert len(_leftovers(target)) == 4
    umask = os.umask(0)
    os.umask(umask)
    for f in target.iterdir():  # published with the usual permissions, not mkstemp's 0600
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask


def test_cli_download_failure_is_one_line(tiny_remote, down_mirror, tmp_path, capsys):
    code = main(
        ["data", "download", "mnist", "--dir", str(tmp_path / "x"), "--mirror", down_mirror]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("nnmath data: error: could not download") and err.count("\n") == 1


def test_cli_failed_download_leaves_no_empty_cache_folder(down_mirror, tmp_path, capsys):
    assert main(["data", "download", "mnist", "--mirror", down_mirror]) == 2
    assert "could not download" in capsys.readouterr().err
    assert not cache_dir("mnist").exists() and not (tmp_path / "cache").exists()
