"""Tests of nnmath.data.expand (the book's one-pixel shifts), the expanded training set on
disk (nnmath.data.expanded, ``load_mnist(expanded=True)``) and ``nnmath data expand``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import MNIST_FOLDER, run_cli
from nnmath.data import DataError, expand, load_idx_folder, load_mnist, write_idx
from nnmath.data import shifts as shifts_module

needs_mnist = pytest.mark.skipif(
    not (MNIST_FOLDER / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"the MNIST files are not at {MNIST_FOLDER} (set NNMATH_DATA to a folder with mnist/)",
)


@pytest.fixture(autouse=True)
def _isolated_search(tmp_path, monkeypatch):
    """No test sees the user's real cache or NNMATH_DATA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNMATH_DATA", raising=False)


def book_expand(images: np.ndarray) -> list[np.ndarray]:
    """The book's expand_mnist.py for one image, as its facts are stated: the original, then
    for (shift, axis) in (1,0), (-1,0), (1,1), (-1,1) the image rolled, the row or column
    that wrapped round set to zero."""
    out = [images]
    for d, axis, index in ((1, 0, 0), (-1, 0, -1), (1, 1, 0), (-1, 1, -1)):
        new = np.roll(images, d, axis)
        if axis == 0:
            new[index, :] = 0
        else:
            new[:, index] = 0
        out.append(new)
    return out


def tiny_idx_folder(folder, n_train=60, n_test=20, seed=0):
    """Four small IDX files of 4×3 uint8 images (labels 0, 1, 2, 0, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 4, 3), np.uint8)
        )
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 3).astype(np.uint8))
    return folder


# ------------------------------------------------------------------------ expand


def test_a_3x3_image_by_hand_pixel_by_pixel():
    X = np.arange(1, 10).reshape(1, 9)
    X_exp, y_exp = expand(X, np.array([7]))
    expected = [
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],  # the original
        [[0, 0, 0], [1, 2, 3], [4, 5, 6]],  # down: the top row let in as zeros
        [[4, 5, 6], [7, 8, 9], [0, 0, 0]],  # up
        [[0, 1, 2], [0, 4, 5], [0, 7, 8]],  # right
        [[2, 3, 0], [5, 6, 0], [8, 9, 0]],  # left
    ]
    assert X_exp.shape == (5, 9) and X_exp.dtype == X.dtype
    assert X_exp.reshape(5, 3, 3).tolist() == expected
    assert y_exp.tolist() == [7] * 5


def test_28x28_images_as_the_book_expands_them():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    y = np.arange(6)
    expected = np.stack([im for image in images for im in book_expand(image)])
    rows, labels = expand(images.reshape(6, 784), y)
    assert rows.shape == (30, 784) and rows.dtype == np.uint8
    assert np.array_equal(rows.reshape(30, 28, 28), expected)
    assert labels.tolist() == np.repeat(y, 5).tolist()
    for shape in ((6, 28, 28), (6, 1, 28, 28)):  # images, and images with a channel axis
        same, _ = expand(images.reshape(shape), y)
        assert same.shape == (30, *shape[1:])
        assert np.array_equal(same.reshape(30, 28, 28), expected)


def test_float_rows_and_one_hot_labels_keep_their_types():
    X = np.random.default_rng(1).random((4, 16)).astype(np.float32)
    Y = np.eye(4)[[0, 3, 1, 2]]
    X_exp, Y_exp = expand(X, Y)
    assert X_exp.dtype == np.float32 and X_exp.shape == (20, 16)
    assert Y_exp.shape == (20, 4) and np.array_equal(Y_exp[::5], Y)
    assert np.array_equal(X_exp[::5], X)  # each image first, then its four copies


def test_shifts_of_two_pixels_follow_those_of_one():
    image = np.arange(1, 26).reshape(5, 5)
    X_exp, y_exp = expand(image.reshape(1, 25), [3], shifts=2)
    assert X_exp.shape == (9, 25) and y_exp.tolist() == [3] * 9
    copies = X_exp.reshape(9, 5, 5)
    assert np.array_equal(copies[:5], np.stack(book_expand(image)))
    down2 = np.zeros_like(image)
    down2[2:] = image[:3]
    left2 = np.zeros_like(image)
    left2[:, :3] = image[:, 2:]
    assert np.array_equal(copies[5], down2) and np.array_equal(copies[8], left2)
    assert np.array_equal(expand(image.reshape(1, 25), [3], shifts=0)[0], image.reshape(1, 25))


def test_rows_of_other_images_need_their_shape():
    X = np.arange(12).reshape(1, 12)
    right = expand(X, [0], image_shape=(4, 3))[0][3].reshape(4, 3)
    assert right.tolist() == [[0, 0, 1], [0, 3, 4], [0, 6, 7], [0, 9, 10]]
    with pytest.raises(
        ValueError, match=r"X has 12 features, not a square image: give image_shape"
    ):
        expand(X, [0])
    with pytest.raises(ValueError, match=r"image_shape=\(5, 5\) does not fit rows of 12 pixels"):
        expand(X, [0], image_shape=(5, 5))
    with pytest.raises(ValueError, match=r"image_shape=\(3, 3\) but X holds \(28, 28\) images"):
        expand(np.zeros((1, 28, 28)), [0], image_shape=(3, 3))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"shifts": -1}, ValueError, r"shifts must be 0 or more pixels .* got -1"),
        ({"shifts": 1.5}, TypeError, r"shifts must be a whole number of pixels"),
        ({"shifts": True}, TypeError, r"shifts must be a whole number of pixels"),
        ({"shifts": 3}, ValueError, r"shifts=3 would move 3x3 images out of the frame"),
        ({"y": [0, 1]}, ValueError, r"y has 2 labels but X has 3 images"),
        ({"X": np.zeros(9)}, ValueError, r"X must hold images as rows"),
    ],
)
def test_bad_arguments_say_what_to_do(kwargs, error, message):
    args = {"X": np.zeros((3, 9)), "y": [0, 1, 2], **kwargs}
    with pytest.raises(error, match=message):
        expand(**args)


def test_the_result_is_checked_against_the_memory_before_allocating(monkeypatch):
    monkeypatch.setattr(shifts_module, "available_memory", lambda: 1000)
    with pytest.raises(ValueError, match=r"into 250,000 needs .* more than the 1000 bytes"):
        expand(np.zeros((50_000, 784), np.uint8), np.zeros(50_000, np.uint8))


# ------------------------------------------------------------------------ on disk and CLI


def test_cli_expand_writes_what_load_idx_folder_reads(tmp_path, capsys):
    folder = tiny_idx_folder(tmp_path / "tiny")
    code, out, err = run_cli(capsys, "data", "expand", "mnist", "--dir", folder)
    assert (code, err) == (0, "")
    assert "mnist: 250 training images, written" in out
    assert f"load_mnist({str(folder)!r}, expanded=True)" in out
    plain, data = load_idx_folder(folder), load_idx_folder(folder, expanded=True)
    X, y = data.train
    assert X.shape == (250, 12) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(X[::5], plain.train[0]) and np.array_equal(
        y, np.repeat(plain.train[1], 5)
    )
    images = plain.train[0].reshape(50, 4, 3)
    assert np.array_equal(X.reshape(50, 5, 4, 3)[:, 2], expand(images, plain.train[1])[0][2::5])
    for split in ("validation", "test"):
        assert np.array_equal(getattr(data, split)[0], getattr(plain, split)[0])
    code, out, _ = run_cli(capsys, "data", "expand", "mnist", "--dir", folder)
    assert code == 0 and "already there (--force writes them again)" in out
    code, out, _ = run_cli(capsys, "data", "expand", "mnist", "--dir", folder, "--force", "--json")
    report = json.loads(out)
    assert code == 0 and report["written"] and report["images"] == 250
    assert report["found_by_loader"] and report["shifts"] == 1


def test_cli_expand_with_shifts_gzip_and_another_folder(tmp_path, capsys):
    folder = tiny_idx_folder(tmp_path / "tiny")
    out_dir = tmp_path / "elsewhere"
    argv = ("data", "expand", "mnist", "--dir", folder, "--out", out_dir, "--shifts", "2", "--gzip")
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and f"does not look in {out_dir}" in out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "train-images-expanded2-idx3-ubyte.gz",
        "train-labels-expanded2-idx1-ubyte.gz",
    ]
    for name in ("train-images-expanded2-idx3-ubyte.gz", "train-labels-expanded2-idx1-ubyte.gz"):
        shutil.copy(out_dir / name, folder / name)
    assert load_idx_folder(folder, expanded=2).train[0].shape == (450, 12)
    code, _, err = run_cli(capsys, "data", "expand", "mnist", "--dir", folder, "--shifts", "0")
    assert code == 2 and "expected a positive integer, got 0" in err


def test_missing_or_foreign_expanded_files_are_data_errors(tmp_path, capsys):
    folder = tiny_idx_folder(tmp_path / "tiny")
    with pytest.raises(
        DataError, match=r"no expanded training set .* `nnmath data expand mnist --dir"
    ):
        load_idx_folder(folder, expanded=True)
    with pytest.raises(DataError, match=r"--shifts 2`"):
        load_idx_folder(folder, expanded=2)
    with pytest.raises(ValueError, match=r"expanded must be True .* got -1"):
        load_idx_folder(folder, expanded=-1)
    other = tiny_idx_folder(tmp_path / "other", seed=1)  # the same sizes, other pixels
    assert run_cli(capsys, "data", "expand", "mnist", "--dir", other)[0] == 0
    for p in other.glob("*expanded1*"):
        shutil.copy(p, folder / p.name)
    with pytest.raises(DataError, match=r"not made from the training images .* --force`"):
        load_idx_folder(folder, expanded=True)
    smaller = tiny_idx_folder(tmp_path / "smaller", n_train=30)
    for p in other.glob("*expanded1*"):
        shutil.copy(p, smaller / p.name)
    with pytest.raises(DataError, match=r"25 training images .* make 125"):
        load_idx_folder(smaller, expanded=True)


def test_cli_expand_without_the_files_or_a_writable_folder_is_one_line(
    tmp_path, capsys, monkeypatch
):
    code, _, err = run_cli(capsys, "data", "expand", "mnist", "--dir", tmp_path / "none")
    assert code == 2 and err.startswith("nnmath data: error: mnist files not found")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("nnmath.data.expanded.write_expanded", refused)
    folder = tiny_idx_folder(tmp_path / "tiny")
    code, _, err = run_cli(capsys, "data", "expand", "mnist", "--dir", folder)
    assert code == 2 and err.count("\n") == 1
    assert f"cannot write to {folder} (Permission denied): choose a folder with --out" in err


@needs_mnist
def test_cli_expand_mnist_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNMATH_DATA", str(MNIST_FOLDER.parent))  # read-only: written to the cache
    code, out, _ = run_cli(capsys, "data", "expand", "mnist")
    assert code == 0 and "mnist: 250,000 training images, written" in out
    assert "load with load_mnist(expanded=True)" in out
    assert (
        tmp_path / "xdg-cache" / "nnmath" / "mnist" / "train-images-expanded1-idx3-ubyte"
    ).is_file()
    plain, data = load_mnist(scale=256), load_mnist(scale=256, expanded=True)
    X, y = data.train
    assert X.shape == (250_000, 784) and y.shape == (250_000,)
    assert np.array_equal(X[::5], plain.train[0]) and np.array_equal(y[::5], plain.train[1])
    first = X[:5].reshape(5, 28, 28)
    assert np.array_equal(first, np.stack(book_expand(plain.train[0][0].reshape(28, 28))))
    assert np.array_equal(data.validation[0], plain.validation[0])
    assert np.array_equal(data.test[1], plain.test[1])
