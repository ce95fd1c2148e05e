"""MNIST and Fashion-MNIST from their original IDX files, split as in Nielsen's book.

Training set: the first 50,000 of the 60,000 training images; validation: the last 10,000
(the book's ``mnist.pkl.gz`` holds exactly these, in this order); test: the 10,000 ``t10k``
images. X is float32 in [0, 1] with one image per row (784 pixels), y is int64.

Where the files are looked for, in order (the first folder holding all four files wins):

1. ``path``, when given — then *only* there, so a typo is an error and not silently another
   copy of the data;
2. ``$NNMATH_DATA/<name>/`` (``<name>`` is ``mnist`` or ``fashion-mnist``);
3. the user cache, ``$XDG_CACHE_HOME/nnmath/<name>/`` or ``~/.cache/nnmath/<name>/``;
4. for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist``).

With ``download=True`` missing files are fetched into ``path`` (or the cache) from public
mirrors and checked against their published checksums (:mod:`nnmath.data.download`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cache import cache_dir
from .container import Dataset
from .expanded import join_expanded
from .idx import DataError, check_memory, read_idx, read_idx_header

if TYPE_CHECKING:
    from .download import ProgressCallback

__all__ = [
    "IDX_STEMS",
    "SYSTEM_DIRS",
    "cache_dir",
    "default_n_validation",
    "find_idx_files",
    "load_fashion_mnist",
    "load_idx_folder",
    "load_mnist",
    "locate",
]

#: role -> file name without ``.gz`` (the original names)
IDX_STEMS: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: folders installed by system packages, per data set
SYSTEM_DIRS: dict[str, list[Path]] = {
    "fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")],
}

N_VALIDATION = 10_000  # the book: the last 10,000 of MNIST's 60,000 training images


def default_n_validation(n_train: int) -> int:
    """The validation split's size for ``n_train`` training images: 10,000 (the book's) when
    there are more than 20,000, else a sixth of them (at least one)."""
    return N_VALIDATION if n_train > 2 * N_VALIDATION else max(n_train // 6, 1)


def _expanded_shifts(expanded: bool | int) -> int:
    """The ``shifts`` of ``expanded`` (True: the book's 1), 0 for the original training set."""
    if isinstance(expanded, bool) or expanded == 0:
        return int(expanded)
    if not isinstance(expanded, int | np.integer) or expanded < 0:
        raise ValueError(
            f"expanded must be True (the book's one-pixel shifts), False or a number of "
            f"pixels 1, 2, ...; got {expanded!r}"
        )
    return int(expanded)


def _candidates(stem: str) -> list[str]:
    # the original names, gzipped or not, and the unpacked form "train-images.idx3-ubyte"
    dotted = stem.replace("-idx", ".idx")
    return [f"{stem}.gz", stem, f"{dotted}.gz", dotted]


def find_idx_files(directory: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The four IDX files in ``directory`` by role, or ``None`` when any is missing."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    found = {}
    for role, stem in IDX_STEMS.items():
        for candidate in _candidates(stem):
            if (directory / candidate).is_file():
                found[role] = directory / candidate
                break
        else:
            return None
    return found


def search_dirs(name: str, path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for data set ``name``, in order (see the module docstring)."""
    if path is not None:
        return [Path(path).expanduser()]
    dirs = []
    if os.environ.get("NNMATH_DATA"):
        dirs.append(Path(os.environ["NNMATH_DATA"]).expanduser() / name)
    dirs.append(cache_dir(name))
    dirs.extend(SYSTEM_DIRS.get(name, []))
    return dirs


def locate(name: str, path: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The four IDX files of ``name`` from the first folder that has them all.

    Raises
    ------
    DataError
        When no folder has them; the message lists every place looked and how to get the files.
    """
    dirs = search_dirs(name, path)
    for d in dirs:
        files = find_idx_files(d)
        if files is not None:
            return files
    looked = ", ".join(str(d) for d in dirs)
    names = ", ".join(f"{s}.gz" for s in IDX_STEMS.values())
    raise DataError(
        f"{name} files not found (looked in: {looked}); need {names}. "
        f"Get them with `nnmath data download {name}` or load_{name.replace('-', '_')}"
        f"(download=True), or set NNMATH_DATA to a folder holding a {name}/ subfolder"
    )


def _check_pair(images: np.ndarray, labels: np.ndarray, files: dict[str, Path], split: str) -> None:
    img_file, lab_file = files[f"{split}_images"], files[f"{split}_labels"]
    if images.ndim < 2:
        raise DataError(f"{img_file}: expected images (n, rows, cols), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{lab_file}: expected labels (n,), got shape {labels.shape}")
    if len(labels) == 0:
        raise DataError(f"{lab_file}: the {split} split holds no labels (an empty file?)")
    if 0 in images.shape[1:]:
        raise DataError(
            f"{img_file}: images of shape {images.shape[1:]} have no pixels (zero width)"
        )
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(
            f"{img_file}, {lab_file}: expected uint8 pixels and labels, got "
            f"{images.dtype} and {labels.dtype}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{img_file} has {len(images)} images but {lab_file} has {len(labels)} labels"
        )


def load_idx_folder(
    directory: str | os.PathLike[str] | dict[str, Path],
    name: str | None = None,
    scale: int = 255,
    n_validation: int | None = None,
    n_classes: int | None = None,
    expanded: bool | int = False,
) -> Dataset:
    """Load the four MNIST-style IDX files of a folder into a :class:`Dataset`.

    Parameters
    ----------
    directory : path-like or dict
        A folder holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
        ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``, or the dict
        returned by :func:`locate`.
    name : str, optional
        The data set's name (default: the folder's name).
    scale : {255, 256}
        X = pixel / scale. 255 maps 255 to 1.0; 256 gives exactly the book's
        ``mnist.pkl.gz`` values.
    n_validation : int, optional
        The last ``n_validation`` training images become the validation split. Default
        10,000 when there are more than 20,000 training images (MNIST: 50,000 / 10,000),
        else a sixth of them (at least one).
    n_classes : int, optional
        Default: the largest label + 1.
    expanded : bool or int
        Train on the expanded training set written beside the files by ``nnmath data
        expand`` (:mod:`nnmath.data.expanded`): True for the book's one-pixel shifts, ``k``
        for shifts of 1..k pixels.

    Returns
    -------
    Dataset
        X (n, rows·cols) float32 in [0, 1], y (n,) int64.
    """
    if scale not in (255, 256):
        raise ValueError(
            f"scale must be 255 (pixel/255, 255 -> 1.0) or 256 (the book's pixel/256), "
            f"got {scale!r}"
        )
    shifts = _expanded_shifts(expanded)
    files = directory if isinstance(directory, dict) else _idx_files(directory)
    raw = _read_checked(files)
    shape = raw["train_images"].shape[1:]
    n_train = len(raw["train_labels"])
    if n_validation is None:
        n_validation = default_n_validation(n_train)
    if n_train < 2:
        raise DataError(
            f"{files['train_images']}: {n_train} training image(s); at least 2 are needed "
            "(one to train on, one to validate)"
        )
    if not 0 <= n_validation < n_train:
        raise ValueError(f"n_validation={n_validation} must be below the {n_train} training images")
    n_classes = _classes(raw, files, n_classes)

    def rows(images: np.ndarray) -> np.ndarray:
        X = images.reshape(len(images), -1).astype(np.float32)
        X /= np.float32(scale)
        return X

    X, y = rows(raw["train_images"]), raw["train_labels"].astype(np.int64)
    cut = n_train - n_validation
    data = Dataset(
        name=name or Path(files["train_images"]).parent.name,
        train=(X[:cut], y[:cut]),
        validation=(X[cut:], y[cut:]),
        test=(rows(raw["test_images"]), raw["test_labels"].astype(np.int64)),
        n_classes=n_classes,
        image_shape=tuple(int(s) for s in shape),
    )
    if not shifts:
        return data
    folder = Path(files["train_images"]).parent
    return join_expanded(data, [folder], shifts, scale, f"nnmath data expand mnist --dir {folder}")


def _idx_files(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """The four IDX files of ``directory`` by role, or a :class:`DataError` naming them."""
    found = find_idx_files(directory)
    if found is None:
        names = ", ".join(f"{s}[.gz]" for s in IDX_STEMS.values())
        raise DataError(f"{directory}: not a folder with the four IDX files ({names})")
    return found


def _read_checked(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """Every file read; images and labels of a split agree, test images have the training
    images' shape (else a :class:`DataError` naming the file). What the four headers declare,
    as read and as converted, is checked against the memory available first."""
    _check_declared_sizes(files)
    raw = {role: read_idx(p) for role, p in files.items()}
    _check_pair(raw["train_images"], raw["train_labels"], files, "train")
    _check_pair(raw["test_images"], raw["test_labels"], files, "test")
    shape = raw["train_images"].shape[1:]
    if raw["test_images"].shape[1:] != shape:
        raise DataError(
            f"{files['test_images']}: images of shape {raw['test_images'].shape[1:]} but the "
            f"training images are {shape}"
        )
    return raw


#: bytes per element a role's conversion adds to the array read: float32 pixels, int64 labels
_CONVERTED_ITEMSIZE = {"images": 4, "labels": 8}


def _check_declared_sizes(files: dict[str, Path]) -> None:
    """The four headers' declared sizes, as read and as converted, against the memory
    available (:func:`check_memory`), before any data is inflated or converted."""
    need, parts = 0, []
    for role, path in files.items():
        shape, dtype = read_idx_header(path)  # every file's own checks, on its header alone
        need += math.prod(shape) * (dtype.itemsize + _CONVERTED_ITEMSIZE[role.split("_")[1]])
        parts.append(f"{path.name} {tuple(shape)}")
    what = f"the headers declare {', '.join(parts)}: as float32 pixels and int64 labels"
    check_memory(str(Path(files["train_images"]).parent), need, what)


def _classes(raw: dict[str, np.ndarray], files: dict[str, Path], n_classes: int | None) -> int:
    """The number of classes (the largest label + 1 unless given); a label beyond it is a
    :class:`DataError` naming the file that holds it."""
    tops = {role: int(raw[role].max(initial=0)) for role in ("train_labels", "test_labels")}
    if n_classes is None:
        n_classes = max(tops.values()) + 1
    for role, role_top in tops.items():
        if role_top >= n_classes:
            raise DataError(
                f"{files[role]}: labels go up to {role_top} but there are {n_classes} classes "
                f"(labels 0..{n_classes - 1})"
            )
    return n_classes


def _load_named(
    name: str,
    path: str | os.PathLike[str] | None,
    download: bool,
    scale: int,
    progress: ProgressCallback | None,
    expanded: bool | int = False,
) -> Dataset:
    shifts = _expanded_shifts(expanded)
    try:
        files = locate(name, path)
    except DataError:
        if not download:
            raise
        from .download import download_dataset

        target = download_dataset(name, directory=path, progress=progress)
        files = locate(name, target)
    data = load_idx_folder(files, name=name, scale=scale)  # n_validation: 10,000 for 60,000
    n_train = len(data.train[1]) + len(data.validation[1])
    if (data.image_shape, n_train, len(data.test[1])) != ((28, 28), 60_000, 10_000):
        raise DataError(
            f"{files['train_images'].parent}: expected 28x28 images, 60,000 training and "
            f"10,000 test images for {name}, got {data.image_shape}, {n_train} and "
            f"{len(data.test[1])}"
        )
    for role, split in (
        ("train_labels", (data.train, data.validation)),
        ("test_labels", (data.test,)),
    ):
        if max(int(y.max(initial=0)) for _, y in split) > 9:
            raise DataError(f"{files[role]}: labels above 9 in {name} (its classes are 0..9)")
    data.n_classes = 10
    if not shifts:
        return data
    command = f"nnmath data expand {name}" + ("" if path is None else f" --dir {path}")
    return join_expanded(data, search_dirs(name, path), shifts, scale, command)


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    download: bool = False,
    scale: int = 255,
    progress: ProgressCallback | None = None,
    expanded: bool | int = False,
) -> Dataset:
    """MNIST handwritten digits: 50,000 train / 10,000 validation / 10,000 test, 28×28.

    Parameters
    ----------
    path : path-like, optional
        Folder with the four IDX files (``.gz`` or not). Default: search ``$NNMATH_DATA/mnist``
        then the user cache (see :mod:`nnmath.data.mnist`).
    download : bool
        Fetch the files into ``path`` (or the cache) when they are not found.
    scale : {255, 256}
        X = pixel / scale; 256 reproduces the book's ``mnist.pkl.gz`` values exactly.
    progress : callable, optional
        Download progress callback ``progress(filename, bytes_done, bytes_total)``.
    expanded : bool or int
        True: the training split is the book's expanded one, each of the 50,000 images
        followed by its four one-pixel shifts (250,000 images), written once by ``nnmath
        data expand mnist`` and looked for in the same folders as the files (with ``path``,
        only there); ``k``: shifts of 1..k pixels (``--shifts k``). See
        :func:`nnmath.data.expand`.

    Returns
    -------
    Dataset
        ``train`` (50000, 784) (expanded: (250000, 784)), ``validation`` (10000, 784),
        ``test`` (10000, 784); X float32 in [0, 1], y int64 in 0..9.

    Raises
    ------
    DataError
        Files not found (the message lists where it looked and how to get them), or a file
        truncated or corrupted.
    """
    return _load_named("mnist", path, download, scale, progress, expanded)


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None,
    download: bool = False,
    scale: int = 255,
    progress: ProgressCallback | None = None,
    expanded: bool | int = False,
) -> Dataset:
    """Zalando's Fashion-MNIST: the same layout and splits as :func:`load_mnist`.

    Also found in ``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist``).
    Classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,
    7 sneaker, 8 bag, 9 ankle boot. Parameters and errors as :func:`load_mnist`.
    """
    return _load_named("fashion-mnist", path, download, scale, progress, expanded)
