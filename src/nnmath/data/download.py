"""Download the MNIST and Fashion-MNIST files from public mirrors, verified and atomic.

Each file is fetched over HTTPS from the mirrors in :data:`MIRRORS`, tried in turn: a mirror
that is down, answers an error, sends fewer bytes than it announced or serves a file whose
checksum differs from the published one is skipped, and the next is tried. The bytes go to a
temporary file beside the target and are moved into place with ``os.replace`` only after the
checksum matched, so an interrupted or corrupted download never leaves a file that later
loads. Only the standard library (``urllib``) is used.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._files import atomic_write
from .cache import cache_dir
from .idx import DataError
from .names import dataset_key

__all__ = [
    "FILES",
    "MIRRORS",
    "DownloadError",
    "ProgressCallback",
    "RemoteFile",
    "checksum_problem",
    "download_dataset",
]

#: ``progress(filename, bytes_done, bytes_total_or_None)``, called as bytes arrive.
ProgressCallback = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, size in bytes and checksums (hex digests)."""

    name: str
    size: int
    md5: str
    sha256: str | None = None


#: The four original files of each data set with their published MD5 sums. The MNIST SHA-256
#: sums were computed from files whose MD5 equals the published one.
FILES: dict[str, tuple[RemoteFile, ...]] = {
    "mnist": (
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            9_912_422,
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            28_881,
            "d53e105ee54ea40749a09fcbcd1e9432",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            1_648_877,
            "9fb629c4189551a2d022fa330f9573f3",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            4_542,
            "ec29112dd5afa0611ce80d1b7f02629c",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    ),
    # Zalando's published MD5 sums (github.com/zalandoresearch/fashion-mnist).
    "fashion-mnist": (
        RemoteFile("train-images-idx3-ubyte.gz", 26_421_880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        RemoteFile("train-labels-idx1-ubyte.gz", 29_515, "25c81989df183df01b3e8a0aad5dffbe"),
        RemoteFile("t10k-images-idx3-ubyte.gz", 4_422_102, "bef4ecab320f06d8554ea6380940ec79"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", 5_148, "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
}

#: Base URLs tried in turn (a file's URL is the base + its name). Tests replace these with
#: servers on 127.0.0.1.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

_CHUNK = 1 << 16
_USER_AGENT = "nnmath-data-download/0.1 (+python urllib)"


class DownloadError(DataError):
    """No mirror delivered a file with the published checksum."""


def _key(name: str) -> str:
    key = dataset_key(name)
    if key not in FILES:
        raise ValueError(f"unknown data set {name!r} to download: choose one of {sorted(FILES)}")
    return key


def checksum_problem(path: Path, remote: RemoteFile) -> str | None:
    """``None`` when ``path`` has ``remote``'s size and checksums, else what differs."""
    size = path.stat().st_size
    if size != remote.size:
        return f"{size} bytes, expected {remote.size}"
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            md5.update(chunk)
            sha.update(chunk)
    return _digest_problem(md5.hexdigest(), sha.hexdigest(), remote)


def _digest_problem(md5: str, sha256: str, remote: RemoteFile) -> str | None:
    if md5 != remote.md5:
        return f"MD5 {md5}, expected {remote.md5}"
    if remote.sha256 is not None and sha256 != remote.sha256:
        return f"SHA-256 {sha256}, expected {remote.sha256}"
    return None


def _fetch(
    url: str,
    directory: Path,
    remote: RemoteFile,
    progress: ProgressCallback | None,
    timeout: float,
) -> None:
    """Fetch one URL into ``directory/remote.name`` or raise; never leaves a partial file.

    The bytes go to a temporary file (:func:`nnmath._files.atomic_write`) that replaces the
    target only once every byte arrived and the checksums matched.
    """
    import urllib.request  # here, not at import: it pulls in http.client and ssl

    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with (
        atomic_write(directory / remote.name, fsync=True) as out,
        urllib.request.urlopen(request, timeout=timeout) as resp,
    ):
        announced = resp.headers.get("Content-Length")
        total = int(announced) if announced and announced.isdigit() else None
        done = 0
        if progress is not None:
            progress(remote.name, 0, total or remote.size)
        while chunk := resp.read(_CHUNK):
            out.write(chunk)
            md5.update(chunk)
            sha.update(chunk)
            done += len(chunk)
            if done > remote.size:
                raise DownloadError(f"more than the expected {remote.size} bytes")
            if progress is not None:
                progress(remote.name, done, total or remote.size)
        if total is not None and done != total:
            raise DownloadError(f"truncated: {done} of {total} announced bytes arrived")
        problem = _digest_problem(md5.hexdigest(), sha.hexdigest(), remote)
        if problem is None and done != remote.size:
            problem = f"{done} bytes, expected {remote.size}"
        if problem is not None:
            raise DownloadError(f"checksum mismatch: {problem}")


def download_dataset(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 60.0,
    force: bool = False,
) -> Path:
    """Download the four IDX files of ``name`` into ``directory``, verified.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    directory : path-like, optional
        Where the files go (created if needed). Default: the user cache,
        ``$XDG_CACHE_HOME/nnmath/<name>`` or ``~/.cache/nnmath/<name>``. When the download
        fails, the folders created for it are removed again if they are still empty.
    mirrors : sequence of str, optional
        Base URLs to try in turn instead of ``MIRRORS[name]``.
    progress : callable, optional
        ``progress(filename, bytes_done, bytes_total)``, called as bytes arrive (the command
        line draws a bar with it; the library prints nothing).
    timeout : float
        Seconds to wait for a mirror to answer.
    force : bool
        Download again even when a verified file is already there.

    Returns
    -------
    pathlib.Path
        The directory holding the four verified files.

    Raises
    ------
    DownloadError
        When every mirror failed for some file; the message lists each mirror's failure.
    """
    key = _key(name)
    target = Path(directory) if directory is not None else cache_dir(key)
    bases = list(mirrors) if mirrors is not None else list(MIRRORS[key])
    if not bases:
        raise ValueError("no mirrors to download from")
    created = _make_dirs(target)
    try:
        _download_files(key, target, bases, progress, timeout, force)
    except BaseException:
        _remove_empty(created)
        raise
    return target


def _make_dirs(target: Path) -> list[Path]:
    """Create ``target`` and its missing parents; return those created, deepest first."""
    missing = list(itertools.takewhile(lambda p: not p.exists(), (target, *target.parents)))
    target.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is still empty; keep any with files."""
    for folder in folders:
        try:
            folder.rmdir()  # fails on a folder that is not empty, which then stays
        except OSError:
            return


def _download_files(
    key: str,
    target: Path,
    bases: list[str],
    progress: ProgressCallback | None,
    timeout: float,
    force: bool,
) -> None:
    """Fetch every file of data set ``key`` into ``target``, trying ``bases`` in turn."""
    from http.client import HTTPException

    for remote in FILES[key]:
        dest = target / remote.name
        if dest.exists() and not force and checksum_problem(dest, remote) is None:
            if progress is not None:
                progress(remote.name, remote.size, remote.size)
            continue
        failures = []
        for base in bases:
            url = base if base.endswith("/") else base + "/"
            url += remote.name
            try:
                _fetch(url, target, remote, progress, timeout)
                break
            except (OSError, HTTPException, DownloadError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                failures.append(f"{url}: {reason}")
        else:
            raise DownloadError(
                f"could not download {remote.name} of {key}; every mirror failed: "
                + "; ".join(failures)
                + ". Check the network, or give another mirror (--mirror URL)"
            )
