"""Tests of nnmath.data: the IDX reader, the MNIST / Fashion-MNIST loaders, load_dataset."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import MNIST_FOLDER, time_limit
from nnmath import Network
from nnmath.cli import main
from nnmath.data import (
    LOADERS,
    DataError,
    load_dataset,
    load_fashion_mnist,
    load_idx_folder,
    load_mnist,
    locate,
    read_idx,
    write_idx,
)
from nnmath.data.download import FILES
from nnmath.data.mnist import SYSTEM_DIRS, cache_dir, search_dirs

SHARED_MNIST = MNIST_FOLDER  # $NNMATH_DATA/mnist, else ../shared/data/mnist (conftest)
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
SRC = Path(__file__).resolve().parents[1] / "src"

needs_mnist = pytest.mark.skipif(
    not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"the shared MNIST files are not at {SHARED_MNIST}",
)
needs_fashion = pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION} is absent)",
)


@pytest.fixture(autouse=True)
def _isolated_search(tmp_path, monkeypatch):
    """No test sees the user's real cache or NNMATH_DATA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNMATH_DATA", raising=False)


@pytest.fixture(scope="module")
def mnist():
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the shared MNIST files are not at {SHARED_MNIST}")
    return load_mnist(SHARED_MNIST, scale=256)


def tiny_idx_folder(folder: Path, n_train: int = 60, n_test: int = 20, gz: bool = True) -> Path:
    """Four small MNIST-style IDX files with known content (pixel = (i + j) mod 256)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 4, 3), dtype=np.uint8)
        labels = (np.arange(n) % 3).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return folder


# ------------------------------------------------------------------------ IDX reader


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if dtype == "uint8":
        a = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / f"a-idx3{suffix}", a)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == (2, 3, 5)
    np.testing.assert_array_equal(out, a)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_header_bytes_are_mnist_layout(tmp_path):
    path = write_idx(tmp_path / "labels", np.array([7, 2, 1], dtype=np.uint8))
    raw = path.read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x01"  # MNIST labels' magic number 0x00000801
    assert raw[4:8] == (3).to_bytes(4, "big")
    assert raw[8:] == bytes([7, 2, 1])


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "no-suffix"
    write_idx(path, a, compress=True)
    np.testing.assert_array_equal(read_idx(path), a)


def test_idx_truncated_raw_file(tmp_path):
    path = write_idx(tmp_path / "imgs", np.zeros((10, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"imgs: file is truncated.*\(10, 28, 28\)"):
        read_idx(path)


def test_idx_file_longer_than_header(tmp_path):
    path = write_idx(tmp_path / "imgs", np.zeros((2, 2), dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(DataError, match="longer than its header says"):
        read_idx(path)


def test_idx_truncated_gzip(tmp_path):
    path = write_idx(tmp_path / "imgs.gz", np.arange(5000, dtype=np.int32))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"imgs\.gz: the gzip stream ends early"):
        read_idx(path)


def test_idx_corrupted_gzip(tmp_path):
    path = write_idx(tmp_path / "imgs.gz", np.arange(5000, dtype=np.int32))
    raw = bytearray(path.read_bytes())
    raw[-6] ^= 0xFF  # break the CRC-32 / length trailer
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"imgs\.gz: .*corrupted"):
        read_idx(path)


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not an IDX file at all")
    with pytest.raises(DataError, match=r"notes\.txt: not an IDX file \(magic number"):
        read_idx(path)


def test_idx_unknown_type_code(tmp_path):
    path = tmp_path / "odd"
    path.write_bytes(b"\x00\x00\x07\x01" + (1).to_bytes(4, "big") + b"\x00")
    with pytest.raises(DataError, match="unknown IDX element type code 0x07"):
        read_idx(path)


def test_idx_too_short_and_truncated_header(tmp_path):
    short = tmp_path / "short"
    short.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="too short"):
        read_idx(short)
    header = tmp_path / "header"
    header.write_bytes(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big"))
    with pytest.raises(DataError, match="truncated header"):
        read_idx(header)


def _idx_header(code: int, dims: list[int]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize(
    "dims, words",
    [
        ([2**32 - 1] * 4, "more than the 16.0 GiB nnmath reads"),  # the product overflows int64
        ([1] * 255, "declares 255 dimensions; arrays have at most 64"),
        ([70000, 28, 28, 28, 28], "more than the"),  # 43 GB: absurd
    ],
)
def test_idx_absurd_headers_are_data_errors(tmp_path, dims, words):
    path = tmp_path / "odd-idx"
    path.write_bytes(_idx_header(0x0E, dims) + b"\x00" * 64)
    with pytest.raises(DataError, match=re.escape(words)) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_an_empty_shape_whose_other_dimensions_overflow_is_a_data_error(tmp_path):
    """(0, 2**31 + 1, 2**32 - 1) declares 0 bytes, but NumPy refuses the shape with a bare
    "array is too big" ValueError (found by the fuzzer of declared sizes)."""
    path = tmp_path / "empty-idx"
    path.write_bytes(_idx_header(0x08, [0, 2**31 + 1, 2**32 - 1]))
    with pytest.raises(DataError, match="multiply past what NumPy can index"):
        read_idx(path)
    path.write_bytes(_idx_header(0x08, [0, 2**16, 2**16]))
    assert read_idx(path).shape == (0, 2**16, 2**16)


BOMB_PEAK = """
import resource, sys, tracemalloc
from nnmath.data import DataError, read_idx
tracemalloc.start()
try:
    read_idx(sys.argv[1])
except DataError as exc:
    print("DataError", exc)
print("peak", tracemalloc.get_traced_memory()[1])
"""


@pytest.mark.parametrize("declared", [[1000], [4096, 256]])
def test_idx_gzip_bomb_is_refused_in_bounded_memory(tmp_path, declared):
    """1 MB of gzip inflating to 1 GiB, under a header that declares 1 kB or 1 MB: refused
    after the declared bytes, with memory within the declared size plus a small constant."""
    member = gzip.compress(bytes(1 << 20), compresslevel=9)  # 1 MiB of zeros in ~1 kB
    path = tmp_path / "bomb-idx1-ubyte.gz"  # gzip members back to back inflate as one stream
    path.write_bytes(gzip.compress(_idx_header(0x08, declared)) + member * 1024)
    assert path.stat().st_size < 1_100_000
    proc = subprocess.run([sys.executable, "-c", BOMB_PEAK, str(path)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert "DataError" in proc.stdout and "longer than its header says" in proc.stdout
    peak = int(proc.stdout.split("peak")[1])
    assert peak < np.prod(declared) + 2**21, peak


def test_idx_declaring_more_than_its_gzip_can_hold(tmp_path):
    path = tmp_path / "small.gz"
    path.write_bytes(gzip.compress(_idx_header(0x08, [60000, 2000, 2000])))  # 240 GB
    with pytest.raises(DataError, match="more than the"):
        read_idx(path)
    path.write_bytes(gzip.compress(_idx_header(0x08, [60000, 200, 200])))  # 2.4 GB in 60 bytes
    with pytest.raises(DataError, match="more than a .*-byte gzip file can hold"):
        read_idx(path)


UNDER_A_LIMIT = """
import resource, sys
from nnmath.data import DataError, load_idx_folder
vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm * 1024 + 2 * 2**30, resource.RLIM_INFINITY))
try:
    load_idx_folder(sys.argv[1])
except (DataError, MemoryError) as exc:
    print(type(exc).__name__, exc)
# VmHWM: this process's peak (ru_maxrss keeps the parent's peak across exec)
print("peak", next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def _gzip_of_a_gib(header: bytes) -> bytes:
    """About 1 MB of gzip that truly inflates to ``header`` and then 1 GiB of zeros."""
    member = gzip.compress(bytes(1 << 20), compresslevel=9)  # 1 MiB of zeros in ~1 kB
    return gzip.compress(header) + member * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmSize from /proc")
def test_a_folder_declaring_more_than_memory_holds_is_refused_before_reading(tmp_path):
    """1 MB of gzip declaring (and holding) 1 GiB of pixels, 5 GiB as uint8 and float32, with
    2 GiB of address space left: a DataError naming the size before anything is inflated,
    where the loader used to read the GiB, then fail converting it with a MemoryError."""
    folder = tiny_idx_folder(tmp_path / "d")
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(_gzip_of_a_gib(_idx_header(0x08, [1024, 1024, 1024])))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(1024, dtype=np.uint8) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((1, 1024, 1024), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(1, dtype=np.uint8))
    assert images.stat().st_size < 1_100_000
    proc = subprocess.run([sys.executable, "-c", UNDER_A_LIMIT, str(folder)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.stdout.startswith(f"DataError {folder}: the headers declare "), proc.stdout
    assert "(1024, 1024, 1024)" in proc.stdout and "5.0 GiB, more than the" in proc.stdout
    assert "of memory available" in proc.stdout
    assert int(proc.stdout.split("peak")[1]) * 1024 < 2**28  # nothing of the GiB was inflated


def test_declared_sizes_count_what_the_data_becomes(tmp_path):
    """MAX_IDX_BYTES bounds the loaded data set: pixels as read and as float32."""
    folder = tiny_idx_folder(tmp_path / "d")
    # 3.5 GiB of uint8 pixels: 17.5 GiB loaded, above the 16 GiB bound (read alone, it is not)
    header = _idx_header(0x08, [3584, 1024, 1024])
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header) + bytes(4 << 20))
    loaded = r"as float32 pixels and int64 labels: 17\.5 GiB, more than the 16\.0 GiB nnmath"
    with pytest.raises(DataError, match=loaded):
        load_idx_folder(folder)
    alone = r"declares shape \(20, 4, 3\) of uint8: 240 bytes, more than the 100 bytes nnmath"
    with pytest.raises(DataError, match=alone):
        read_idx(folder / "t10k-images-idx3-ubyte.gz", max_bytes=100)
    assert read_idx(folder / "t10k-labels-idx1-ubyte.gz", max_bytes=20).shape == (20,)


def test_idx_special_files_are_refused(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading it would block for ever
    with time_limit(10, "read_idx(FIFO)"), pytest.raises(DataError, match="it is a FIFO"):
        read_idx(fifo)
    with pytest.raises(DataError, match="it is a folder"):
        read_idx(tmp_path)
    if Path("/dev/zero").exists():  # reading it would never end
        with (
            time_limit(10, "read_idx('/dev/zero')"),
            pytest.raises(DataError, match="it is a device"),
        ):
            read_idx("/dev/zero")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="IDX cannot store dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.complex64))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ folders and search


def test_load_idx_folder_splits_and_scales(tmp_path):
    folder = tiny_idx_folder(tmp_path / "tiny")
    data = load_idx_folder(folder)
    raw = read_idx(folder / "train-images-idx3-ubyte.gz")
    assert data.name == "tiny"
    assert len(data.train[1]) == 50 and len(data.validation[1]) == 10  # 60 // 6 = 10
    assert data.test[0].shape == (20, 12)
    assert data.image_shape == (4, 3) and data.n_classes == 3
    assert data.train[0].dtype == np.float32 and data.train[1].dtype == np.int64
    np.testing.assert_array_equal(data.train[0] * 255, raw[:50].reshape(50, 12))
    np.testing.assert_array_equal(data.validation[0] * 255, raw[50:].reshape(10, 12))
    data256 = load_idx_folder(folder, scale=256)
    np.testing.assert_array_equal(data256.train[0] * 256, raw[:50].reshape(50, 12))


def test_load_idx_folder_uncompressed_and_dotted_names(tmp_path):
    folder = tiny_idx_folder(tmp_path / "raw", gz=False)
    (folder / "train-images-idx3-ubyte").rename(folder / "train-images.idx3-ubyte")
    data = load_idx_folder(folder, n_validation=5)
    assert len(data.train[1]) == 55 and len(data.validation[1]) == 5


def test_load_idx_folder_errors(tmp_path):
    with pytest.raises(DataError, match="not a folder with the four IDX files"):
        load_idx_folder(tmp_path)
    folder = tiny_idx_folder(tmp_path / "f")
    with pytest.raises(ValueError, match="scale must be 255 .* or 256"):
        load_idx_folder(folder, scale=100)
    with pytest.raises(ValueError, match="n_validation=60 must be below the 60"):
        load_idx_folder(folder, n_validation=60)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(DataError, match="has 20 images but .*t10k-labels.* has 19 labels"):
        load_idx_folder(folder)


def test_label_range_names_the_file_holding_the_label(tmp_path):
    folder = tiny_idx_folder(tmp_path / "f")  # labels 0..2
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(20, 7, dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: labels go up to 7 but"):
        load_idx_folder(folder, n_classes=3)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.full(60, 11, dtype=np.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: labels go up to 11"):
        load_idx_folder(folder, n_classes=10)


@pytest.mark.parametrize(
    "shapes, words",
    [
        ({"train": (0, 4, 3), "t10k": (20, 4, 3)}, "train split holds no labels"),
        ({"train": (60, 4, 3), "t10k": (0, 4, 3)}, "test split holds no labels"),
        ({"train": (60, 0, 3), "t10k": (20, 0, 3)}, "have no pixels (zero width)"),
        ({"train": (1, 4, 3), "t10k": (20, 4, 3)}, "1 training image(s); at least 2"),
    ],
)
def test_empty_or_zero_width_splits_are_clear_errors(tmp_path, shapes, words):
    folder = tmp_path / "f"
    folder.mkdir()
    for prefix, shape in shapes.items():
        write_idx(folder / f"{prefix}-images-idx3-ubyte", np.zeros(shape, np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.zeros(shape[0], np.uint8))
    with pytest.raises(DataError, match=re.escape(words)):
        load_idx_folder(folder)


def test_a_tiny_training_set_keeps_a_validation_row(tmp_path):
    data = load_idx_folder(tiny_idx_folder(tmp_path / "f", n_train=4))
    assert len(data.train[1]) == 3 and len(data.validation[1]) == 1


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NNMATH_DATA", str(tmp_path / "env"))
    dirs = search_dirs("fashion-mnist")
    assert dirs[0] == tmp_path / "env" / "fashion-mnist"
    assert dirs[1] == tmp_path / "xdg-cache" / "nnmath" / "fashion-mnist"
    assert dirs[2:] == SYSTEM_DIRS["fashion-mnist"]
    assert search_dirs("mnist", path=tmp_path / "mine") == [tmp_path / "mine"]
    assert cache_dir("mnist") == tmp_path / "xdg-cache" / "nnmath" / "mnist"
    # the environment variable wins over the cache
    tiny_idx_folder(tmp_path / "xdg-cache" / "nnmath" / "mnist")
    assert locate("mnist")["train_images"].parent == cache_dir("mnist")
    tiny_idx_folder(tmp_path / "env" / "mnist")
    assert locate("mnist")["train_images"].parent == tmp_path / "env" / "mnist"


def test_cache_dir_default_is_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "nnmath"


def test_not_found_error_lists_places_and_remedy(tmp_path, monkeypatch):
    monkeypatch.setenv("NNMATH_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as err:
        load_mnist()
    msg = str(err.value)
    assert str(tmp_path / "env" / "mnist") in msg
    assert str(tmp_path / "xdg-cache" / "nnmath" / "mnist") in msg
    assert "nnmath data download mnist" in msg and "download=True" in msg


def test_explicit_path_is_the_only_place(tmp_path, monkeypatch):
    tiny_idx_folder(tmp_path / "xdg-cache" / "nnmath" / "mnist")
    with pytest.raises(DataError, match=r"looked in: .*typo\)"):
        load_mnist(tmp_path / "typo")


def test_load_mnist_rejects_wrong_image_size(tmp_path):
    folder = tiny_idx_folder(tmp_path / "small")
    with pytest.raises(DataError, match="expected 28x28 images"):
        load_mnist(folder)


def test_load_dataset_names_and_folders(tmp_path):
    assert {"digits", "mnist", "fashion-mnist"} <= set(LOADERS)
    assert load_dataset("digits").n_features == 64
    folder = tiny_idx_folder(tmp_path / "mine")
    data = load_dataset(str(folder))
    assert data.name == "mine" and data.n_features == 12
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*folder"):
        load_dataset("nope")


# ------------------------------------------------------------------------ the real MNIST files


@needs_mnist
def test_shared_mnist_checksums_match_published():
    for remote in FILES["mnist"]:
        raw = (SHARED_MNIST / remote.name).read_bytes()
        assert len(raw) == remote.size
        assert hashlib.md5(raw).hexdigest() == remote.md5
        assert hashlib.sha256(raw).hexdigest() == remote.sha256


def test_mnist_shapes_dtypes_ranges(mnist):
    assert (mnist.train[0].shape, mnist.validation[0].shape, mnist.test[0].shape) == (
        (50_000, 784),
        (10_000, 784),
        (10_000, 784),
    )
    for X, y in (mnist.train, mnist.validation, mnist.test):
        assert X.dtype == np.float32 and y.dtype == np.int64
        assert X.min() == 0.0 and X.max() == np.float32(255 / 256)
        assert set(np.unique(y)) == set(range(10))
    assert mnist.n_classes == 10 and mnist.image_shape == (28, 28)


def test_mnist_label_counts(mnist):
    train60k = np.concatenate([mnist.train[1], mnist.validation[1]])
    # the published per-class counts of MNIST's 60,000 training and 10,000 test images
    assert np.bincount(train60k).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(mnist.test[1]).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert mnist.train[1][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test[1][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_mnist_known_pixels(mnist):
    # the book's data: pixel / 256, exactly representable in float32
    img = mnist.train[0][0].reshape(28, 28)
    raw = read_idx(SHARED_MNIST / "train-images-idx3-ubyte.gz")
    assert raw.shape == (60_000, 28, 28) and raw.dtype == np.uint8
    assert raw[0, 0, 0] == 0 and raw[0, 5, 12] == 3 and raw[0, 5, 16] == 126
    assert raw[0, 14, 14] == 240
    assert img[5, 12] == 3 / 256 and img[5, 16] == 126 / 256
    assert np.count_nonzero(raw[0]) == 166
    np.testing.assert_array_equal(mnist.validation[0][-1] * 256, raw[-1].reshape(784))
    assert int(raw.astype(np.int64).sum()) == 1_567_298_545  # whole-file fingerprint


def test_mnist_scale_255(mnist):
    data = load_mnist(SHARED_MNIST)  # scale=255 by default
    assert data.train[0].max() == 1.0
    np.testing.assert_allclose(
        data.train[0][:100] * 255, mnist.train[0][:100] * 256, rtol=0, atol=1e-4
    )


def test_mnist_via_env_var(monkeypatch):
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"the shared MNIST files are not at {SHARED_MNIST}")
    monkeypatch.setenv("NNMATH_DATA", str(SHARED_MNIST.parent))
    assert locate("mnist")["test_labels"] == SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"


def test_one_epoch_on_a_mnist_subset(mnist):
    X, y = mnist.train[0][:2000], mnist.train[1][:2000]
    net = Network(
        [784, 30, 10], activation="sigmoid", cost="cross_entropy", init="scaled_normal", seed=0
    )
    before = net.accuracy(*mnist.validation)
    history = net.fit(
        X,
        y,
        epochs=1,
        mini_batch_size=10,
        eta=0.5,
        validation_data=(mnist.validation[0][:1000], mnist.validation[1][:1000]),
    )
    assert history.epochs == 1
    assert history.validation_accuracy[0] > 0.75 > before + 0.3


# ------------------------------------------------------------------------ Fashion-MNIST (Debian)


@needs_fashion
def test_fashion_mnist_from_debian_dir():
    data = load_fashion_mnist()
    assert (len(data.train[1]), len(data.validation[1]), len(data.test[1])) == (
        50_000,
        10_000,
        10_000,
    )
    assert data.train[0].shape == (50_000, 784) and data.train[0].dtype == np.float32
    assert data.image_shape == (28, 28) and data.name == "fashion-mnist"
    # Fashion-MNIST is balanced: 6,000 per class in training, 1,000 in test
    train60k = np.concatenate([data.train[1], data.validation[1]])
    assert np.bincount(train60k).tolist() == [6000] * 10
    assert np.bincount(data.test[1]).tolist() == [1000] * 10
    assert data.test[1][:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert 0.0 <= data.test[0].min() and data.test[0].max() == 1.0


@needs_fashion
def test_fashion_debian_files_are_valid_gzip_idx():
    raw = gzip.decompress((DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert raw[:8] == b"\x00\x00\x08\x01" + (10_000).to_bytes(4, "big")


# ------------------------------------------------------------------------ command line


def test_cli_data_where(tmp_path, capsys):
    folder = tiny_idx_folder(tmp_path / "mnistlike")
    assert main(["data", "where", "mnist", "--dir", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == str(folder)
    assert main(["data", "where", "mnist", "--dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnmath data: error: mnist files not found") and err.count("\n") == 1


def test_cli_train_on_a_folder(tmp_path, capsys):
    folder = tiny_idx_folder(tmp_path / "tinyset", n_train=120, n_test=30)
    code = main(["train", "--dataset", str(folder), "--epochs", "1", "--sizes", "12,5,3", "--json"])
    assert code == 0
    out = capsys.readouterr().out
    assert '"dataset": "tinyset"' in out and '"test_accuracy"' in out


def test_cli_train_mnist_missing_is_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(SRC), XDG_CACHE_HOME=str(tmp_path / "c"))
    env.pop("NNMATH_DATA", None)
    proc = subprocess.run(
        [sys.executable, "-m", "nnmath", "train", "--dataset", "mnist", "--epochs", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("nnmath train: error: mnist files not found")
    assert "nnmath data download mnist" in proc.stderr
    assert "Traceback" not in proc.stderr
