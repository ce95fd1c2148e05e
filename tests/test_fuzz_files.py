"""Property-based fuzzing of what nnmath reads from disk: IDX files (and the sizes their
headers declare, against a memory budget), model files, checkpoints (their bytes, their JSON
and what their optimizer state means), sweep tables whose keys read as numbers, and ONNX files
with any ``nnmath.config`` metadata.

Every input, generated or mutated, must end in a valid result or the library's own error
(:class:`~nnmath.data.DataError`, :class:`~nnmath.io.ModelFileError`,
:class:`~nnmath.checkpoint.ResumeMismatch`, and for a resumed run whose plausible but
altered optimizer state makes it explode, :class:`~nnmath.callbacks.TrainingDiverged`) —
never another exception, a crash, unbounded memory or time. Each example's peak memory is
measured with ``tracemalloc`` (NumPy's arrays are traced) and its time bounded by
Hypothesis's ``deadline``. The cases are derandomized
and the files they mutate canonical (:func:`canonical`): the same files every run of the same
command (Hypothesis also draws constants from the modules the process has imported, so test
files run before these change the mix). ``pytest -s`` prints how the cases ended.
"""

from __future__ import annotations

import gzip
import json
import struct
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import ACTIVATION_NAMES, COST_NAMES, outputs_for

hypothesis = pytest.importorskip("hypothesis", reason="fuzz tests need hypothesis (nnmath[test])")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nnmath as nm  # noqa: E402
from nnmath.callbacks import TrainingDiverged  # noqa: E402
from nnmath.checkpoint import ResumeMismatch  # noqa: E402
from nnmath.data import DataError, read_idx, write_idx  # noqa: E402
from nnmath.data.idx import IDX_DTYPES  # noqa: E402
from nnmath.io import ModelFileError  # noqa: E402
from nnmath.layers import (  # noqa: E402
    Activation,
    AvgPool2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    MaxPool2D,
)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=3000,  # ms per example: a parse that hangs or crawls fails the test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: peak memory one example may take (the files are at most a few kB; what they declare is
#: bounded by the readers' checks)
PEAK = 16 * 2**20
OUTCOMES: dict[str, Counter] = {}
LAST_PEAK = [0]  # the peak memory of the last call of bounded()


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    for area, counts in OUTCOMES.items():
        print(f"\n{area}: {sum(counts.values())} cases, " + ", ".join(
            f"{k} {v}" for k, v in sorted(counts.items())))  # fmt: skip


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def bounded(fn, *args):
    """``fn(*args)`` and its outcome's name; fails if its peak memory passes :data:`PEAK`."""
    tracemalloc.start()
    try:
        try:
            result, outcome = fn(*args), "valid"
        except (DataError, ModelFileError, ResumeMismatch, TrainingDiverged) as exc:
            result, outcome = exc, type(exc).__name__
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK, f"{fn.__name__} took {peak} bytes"
    LAST_PEAK[0] = peak
    return result, outcome


# ------------------------------------------------------------------------- mutations

#: one mutation of a byte string: (kind, position as a fraction of the length, value)
MUTATION = st.tuples(
    st.sampled_from(["flip", "set", "truncate", "insert", "big32", "delete"]),
    st.floats(0, 1),
    st.integers(0, 2**32 - 1),
)


def mutate(data: bytes, mutations: list[tuple[str, float, int]]) -> bytes:
    """Apply byte-level mutations; ``big32`` writes a big-endian uint32 (an IDX size)."""
    b = bytearray(data)
    for kind, where, value in mutations:
        i = min(int(where * len(b)), max(len(b) - 1, 0))
        if kind == "flip" and b:
            b[i] ^= 1 << (value % 8)
        elif kind == "set" and b:
            b[i] = value % 256
        elif kind == "truncate":
            del b[i:]
        elif kind == "insert":
            b[i:i] = value.to_bytes(4, "little")[: 1 + value % 4]
        elif kind == "big32":
            b[i : i + 4] = value.to_bytes(4, "big")
        elif kind == "delete" and b:
            del b[i]
    return bytes(b)


# ------------------------------------------------------------------------- IDX files


@st.composite
def idx_arrays(draw):
    code = draw(st.sampled_from(sorted(IDX_DTYPES)))
    dtype = IDX_DTYPES[code].newbyteorder("=")
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=4)))
    raw = draw(st.binary(min_size=int(np.prod(shape)) * dtype.itemsize,
                         max_size=int(np.prod(shape)) * dtype.itemsize))  # fmt: skip
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _count(area: str, outcome: str) -> None:
    OUTCOMES.setdefault(area, Counter())[outcome] += 1


@settings(FUZZ, max_examples=300)
@given(array=idx_arrays(), compress=st.booleans())
def test_generated_idx_files_read_back_exactly(folder, array, compress):
    path = write_idx(folder / "gen-idx", array, compress=compress)
    out, outcome = bounded(read_idx, path)
    assert outcome == "valid", out
    assert out.dtype == array.dtype and out.shape == array.shape
    assert out.tobytes() == array.tobytes()  # bit for bit, NaN payloads included
    _count("IDX reader, generated", outcome)


@settings(FUZZ, max_examples=600)
@given(
    array=idx_arrays(),
    mutations=st.lists(MUTATION, min_size=1, max_size=4),
    mode=st.sampled_from(["raw", "gzip of the mutated bytes", "mutated gzip"]),
)
def test_mutated_idx_files_end_in_an_array_or_a_data_error(folder, array, mutations, mode):
    body = write_idx(folder / "m-idx", array, compress=False).read_bytes()
    if mode == "raw":
        data = mutate(body, mutations)
    elif mode == "gzip of the mutated bytes":  # headers that lie, under a valid gzip stream
        data = gzip.compress(mutate(body, mutations), mtime=0)
    else:
        data = mutate(gzip.compress(body, mtime=0), mutations)
    path = folder / "mutated-idx"
    path.write_bytes(data)
    out, outcome = bounded(read_idx, path)
    if outcome == "valid":  # what it read is what its header declares, exactly
        assert isinstance(out, np.ndarray) and out.ndim >= 1
    else:
        assert str(path) in str(out)
    _count("IDX reader, mutated", outcome)


# ------------------------------------------------------------------------- model files


@st.composite
def networks(draw):
    cost = draw(st.sampled_from(COST_NAMES))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    hidden = draw(st.sampled_from([n for n in ACTIVATION_NAMES if n != "softmax"]))
    output = draw(st.sampled_from(outputs_for(cost)))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    return nm.Network(sizes, activation=hidden, output_activation=output, cost=cost,
                      dtype=dtype, seed=draw(st.integers(0, 2**16)))  # fmt: skip


@settings(FUZZ, max_examples=150)
@given(net=networks())
def test_generated_model_files_load_back_exactly(folder, net):
    path = nm.save(net, folder / "gen.safetensors")
    out, outcome = bounded(nm.load, path)
    assert outcome == "valid", out
    assert out.config() == net.config()
    assert all(np.array_equal(a, b) for a, b in zip(out.weights + out.biases,
                                                   net.weights + net.biases))  # fmt: skip
    _count("nm.load, generated", outcome)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip


def json_paths(value, prefix=()):
    """Every path into a JSON value (dict keys, list indices), the value itself first."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_paths(v, (*prefix, i))


def replace_at(value, path, new, delete=False):
    """``value`` with the item at ``path`` replaced by ``new`` (or deleted)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if rest:
        value[head] = replace_at(value[head], rest, new, delete)
    elif delete:
        del value[head]
    else:
        value[head] = new
    return value


def header_of(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def with_header(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def canonical(data: bytes) -> bytes:
    """A written file with its header's keys sorted and a checkpoint's epoch times zeroed:
    safetensors writes the metadata in a hash map's order, which changes from process to
    process, and the times change from run to run; the mutations must hit the same bytes in
    every run."""
    header, body = header_of(data)
    meta = header["__metadata__"]
    if "checkpoint" in meta:
        state = json.loads(meta["checkpoint"])
        state["history"]["epoch_time"] = [0.0] * len(state["history"]["epoch_time"])
        meta["checkpoint"] = json.dumps(state, sort_keys=True)
    text = json.dumps(header, sort_keys=True).encode()
    return struct.pack("<Q", len(text)) + text + body


def mutate_json(doc, choice: int, new, delete: bool):
    paths = list(json_paths(doc))
    path = paths[choice % len(paths)]
    if not path:  # the whole document
        return new
    return replace_at(doc, path, new, delete)


@st.composite
def structured_mutations(draw):
    """Up to three edits of the header, its architecture JSON, or a checkpoint's state."""
    return draw(st.lists(st.tuples(
        st.sampled_from(["header", "config", "state"]), st.integers(0, 10**6), JSON,
        st.booleans()), min_size=1, max_size=3))  # fmt: skip


def apply_structured(data: bytes, edits) -> bytes:
    header, body = header_of(data)
    for target, choice, new, delete in edits:
        meta = header.get("__metadata__") if isinstance(header, dict) else None
        key = {"config": "config", "state": "checkpoint"}.get(target)
        if key and isinstance(meta, dict) and isinstance(meta.get(key), str):
            meta[key] = json.dumps(mutate_json(json.loads(meta[key]), choice, new, delete))
        elif target == "header":
            header = mutate_json(header, choice, new, delete)
    return with_header(header, body)


@settings(FUZZ, max_examples=500)
@given(
    net=networks(),
    mutations=st.lists(MUTATION, min_size=1, max_size=4),
    edits=structured_mutations(),
    bytewise=st.booleans(),
)
def test_mutated_model_files_end_in_a_network_or_a_model_file_error(
    folder, net, mutations, edits, bytewise
):
    data = canonical(nm.save(net, folder / "base.safetensors").read_bytes())
    data = mutate(data, mutations) if bytewise else apply_structured(data, edits)
    path = folder / "mutated.safetensors"
    path.write_bytes(data)
    out, outcome = bounded(nm.load, path)
    if outcome == "valid":
        assert isinstance(out, nm.Network)
        assert all(np.isfinite(W).all() for W in out.weights + out.biases)
    else:
        assert str(path) in str(out)
    _count(f"nm.load, mutated ({'bytes' if bytewise else 'header JSON'})", outcome)


#: small networks of layers, every layer type among them: the files the next test mutates
LAYERED = [
    ([Input((1, 6, 6)), Conv2D(2, 3, padding=1, activation="relu"), MaxPool2D(2),
      Dropout(0.2), Dense(3, activation="softmax")], "log_likelihood"),
    ([Input((2, 5, 5)), AvgPool2D(2, stride=1), Activation("elu"), Flatten(),
      Dense(2, activation="sigmoid")], "cross_entropy"),
]  # fmt: skip


@settings(FUZZ, max_examples=300)
@given(
    which=st.sampled_from(range(len(LAYERED))),
    mutations=st.lists(MUTATION, min_size=1, max_size=4),
    edits=structured_mutations(),
    bytewise=st.booleans(),
)
def test_mutated_layer_network_files_end_in_a_network_or_a_model_file_error(
    folder, which, mutations, edits, bytewise
):
    """The layers in the header, their arguments and the tensors they must fit: any edit
    ends in a network or a ModelFileError, within the memory the file itself takes."""
    layers, cost = LAYERED[which]
    net = nm.Network(layers, cost=cost, seed=0)
    data = canonical(nm.save(net, folder / "layered.safetensors").read_bytes())
    data = mutate(data, mutations) if bytewise else apply_structured(data, edits)
    path = folder / "mutated-layered.safetensors"
    path.write_bytes(data)
    out, outcome = bounded(nm.load, path)
    if outcome == "valid":
        assert isinstance(out, nm.Network)
        assert all(np.isfinite(W).all() for W in out.weights + out.biases)
    else:
        assert str(path) in str(out)
    _count(f"nm.load of layers, mutated ({'bytes' if bytewise else 'header JSON'})", outcome)


# ------------------------------------------------------------------------- checkpoints

CK_DATA = np.random.default_rng(0).random((30, 4)), np.arange(30) % 3


def ck_net():
    return nm.Network([4, 5, 3], activation="tanh", output_activation="softmax",
                      cost="log_likelihood", seed=1)  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint_bytes(folder):
    X, y = CK_DATA
    path = folder / "run.safetensors"
    ck_net().fit(X, y, epochs=2, mini_batch_size=4, optimizer="adam", eta=0.01,
                 validation_data=(X[:6], y[:6]), checkpoint=path, seed=0)  # fmt: skip
    return canonical(path.read_bytes())


def _resume(path):
    X, y = CK_DATA
    return ck_net().fit(X, y, epochs=3, mini_batch_size=4, optimizer="adam", eta=0.01,
                        validation_data=(X[:6], y[:6]), resume=path, seed=0)  # fmt: skip


@settings(FUZZ, max_examples=300)
@given(edits=structured_mutations(), mutations=st.lists(MUTATION, min_size=1, max_size=2),
       bytewise=st.booleans())  # fmt: skip
def test_mutated_checkpoints_resume_or_are_refused(folder, checkpoint_bytes, edits, mutations,
                                                   bytewise):  # fmt: skip
    """A mutated checkpoint resumes (on the compiled epoch, when it is built) or is refused
    before training: a crash here would be a write past a buffer."""
    data = mutate(checkpoint_bytes, mutations) if bytewise else apply_structured(
        checkpoint_bytes, edits)  # fmt: skip
    path = folder / "ck.safetensors"
    path.write_bytes(data)
    out, outcome = bounded(_resume, path)
    if outcome == "valid":
        assert out.epochs == 3
    elif outcome != "TrainingDiverged":  # a flipped bit in Adam's v: plausible, and explodes
        assert str(path) in str(out)
    _count(f"fit(resume=...), mutated checkpoint ({'bytes' if bytewise else 'JSON'})", outcome)


# ------------------------------------------------------------------------- declared sizes

#: a dimension an IDX header may declare: small, or anywhere up to the format's 2**32 - 1
DIMENSION = st.one_of(st.integers(0, 8), st.integers(0, 2**32 - 1), st.sampled_from(
    [2**16, 2**20, 2**31, 2**32 - 1]))  # fmt: skip


@st.composite
def declared_idx_files(draw):
    """An IDX header that declares anything, followed by up to 4 kB of bytes, raw or gzip."""
    code = draw(st.sampled_from(sorted(IDX_DTYPES)))
    dims = draw(st.lists(DIMENSION, min_size=1, max_size=4))
    header = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    declared = int(np.prod(dims, dtype=object)) * IDX_DTYPES[code].itemsize
    body = bytes(declared) if declared <= 4096 and draw(st.booleans()) else draw(
        st.binary(max_size=4096))  # fmt: skip
    data = header + body
    return (gzip.compress(data, mtime=0) if draw(st.booleans()) else data), declared


@settings(FUZZ, max_examples=400)
@given(file=declared_idx_files(), budget=st.integers(0, 2**20))
def test_declared_idx_sizes_are_checked_against_the_budget_before_any_work(folder, file, budget):
    """Whatever a header declares, the reader allocates nothing beyond ``max_bytes`` (its
    memory budget): a declared size over it is a DataError naming the size, before any read."""
    data, declared = file
    path = folder / "declared-idx"
    path.write_bytes(data)
    out, outcome = bounded(lambda: read_idx(path, max_bytes=budget))
    assert LAST_PEAK[0] < budget + 2**20, (declared, budget, LAST_PEAK[0])
    if outcome == "valid":
        assert out.nbytes == declared <= budget
    else:
        assert str(path) in str(out)
        if declared > budget and "more than the" in str(out):
            _count("IDX reader, declared size over the budget", "DataError naming the size")
    _count("IDX reader, declared sizes against a budget", outcome)


@settings(FUZZ, max_examples=100)
@given(dims=st.lists(DIMENSION, min_size=2, max_size=3), n=st.integers(1, 3))
def test_a_folder_declaring_any_size_is_refused_or_loaded_within_bounded_memory(folder, dims, n):
    """Four gzip files whose training images declare any size: loaded, or a DataError, with
    the memory the data really needs (the check of what the headers declare, as float32,
    against MAX_IDX_BYTES and the memory available comes before any inflating)."""
    from nnmath.data import load_idx_folder

    d = folder / "declared-folder"
    d.mkdir(exist_ok=True)
    header = bytes([0, 0, 0x08, 1 + len(dims)]) + b"".join(
        x.to_bytes(4, "big") for x in (n, *dims))  # fmt: skip
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(4096), mtime=0))
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(n, dtype=np.uint8))
    write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((1, 1, 1), dtype=np.uint8))
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.zeros(1, dtype=np.uint8))
    out, outcome = bounded(load_idx_folder, d)
    assert outcome in ("valid", "DataError"), out
    _count("MNIST-style folder, declared sizes", outcome)


# ------------------------------------------------------------------------- sweep tables

#: keys of 16 hex digits that read as numbers, and any other
NUMERIC_KEY = st.one_of(
    st.from_regex(r"\A[0-9]{16}\Z"),
    st.from_regex(r"\A0[0-9]{15}\Z"),
    st.from_regex(r"\A[0-9]{1,14}e[0-9]{1,14}\Z").filter(lambda k: len(k) == 16),
    st.from_regex(r"\A[0-9a-f]{16}\Z"),
)
#: text that reads as a number, a boolean or nothing special
TEXTLIKE = st.one_of(st.sampled_from(["007", "1e5", "nan", "inf", "True", "-0", "1_000"]),
                     st.from_regex(r"\A[0-9a-z.:_-]{1,12}\Z"))  # fmt: skip


#: a results row's cells but the key: text columns drawn from number-like text
ROW_CELLS = st.fixed_dictionaries({
    "measure": st.just("train"), "dataset": TEXTLIKE, "worker": TEXTLIKE, "activation": TEXTLIKE,
    "subset": st.none() | st.integers(1, 10**6), "seed_index": st.integers(0, 10**6),
    "depth": st.integers(1, 99), "eta": st.floats(1e-300, 1e300), "wall_time": st.floats(0, 1e6),
    "training_cost": st.none() | st.floats(0, 1e300), "diverged": st.booleans(),
    "validation_accuracy": st.none() | st.floats(0, 1), "epochs_run": st.integers(0, 99),
    "epoch_costs": st.lists(st.floats(0, 9), max_size=3),
})  # fmt: skip


def _sweep_columns():
    from nnmath.sweep import Sweep

    return Sweep.create("train", depth=1).columns()


COLUMNS = _sweep_columns()


@settings(FUZZ, max_examples=200)
@given(data=st.data(), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_sweep_tables_with_numeric_looking_keys_and_text_read_back_exactly(folder, data, suffix):
    from nnmath.sweep import read_results
    from nnmath.sweep.table import Writer

    keys = data.draw(st.lists(NUMERIC_KEY, min_size=1, max_size=5, unique=True))
    rows = [{**dict.fromkeys(COLUMNS), **data.draw(ROW_CELLS), "key": key} for key in keys]
    path = folder / f"table{suffix}"
    Writer(path, COLUMNS, rows, rewrite=True).close()
    back = read_results(path)
    assert back == rows  # types too: a key or a text cell never turns into a number
    _count(f"sweep table {suffix}, numeric-looking keys and text", "read back exactly")


@settings(FUZZ, max_examples=60)
@given(data=st.data(), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_a_resume_over_tables_with_numeric_looking_keys_keeps_every_row(folder, data, suffix):
    """The rows of a sweep whose keys read as numbers (2000627409046183, 20e0495849778995,
    0190988626396215), with any results: a resume keeps them all and runs nothing."""
    from nnmath.sweep import Sweep, run_sweep
    from nnmath.sweep.table import Writer

    sweep = Sweep.create("train", subset=100, seeds=1, epochs=1, width=[3],
                         eta=[6.7, 6.82, 187.37])  # fmt: skip
    rows = []
    for task in sweep.tasks():
        cells = data.draw(ROW_CELLS)
        rows.append({**dict.fromkeys(sweep.columns()), **cells, "key": task.key,
                     "dataset": task.dataset, "subset": task.subset, "seed_index": 0,
                     **task.params, "epoch_accuracies": []})  # fmt: skip

    path = folder / f"resume{suffix}"
    Writer(path, sweep.columns(), rows, rewrite=True).close()
    result = run_sweep(sweep, path, resume=True, n_jobs=1)
    assert (result.skipped, result.ran, result.rejected) == (3, 0, [])
    _count(f"sweep resume {suffix}, numeric-looking keys", "every row kept, nothing run")


# ------------------------------------------------------------------------- resume state meaning

#: one edit of a value of the optimizer's state: (what, which tensor and element, a value)
STATE_EDIT = st.tuples(
    st.sampled_from(["negative", "nan", "inf", "-inf", "value", "zero", "t"]),
    st.integers(0, 10**6),
    st.floats(-1e30, 1e30, allow_nan=False),
)
_SAFETENSORS_DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}


def edit_state(data: bytes, edits) -> tuple[bytes, bool]:
    """The checkpoint with values of its ``optimizer.*`` tensors edited, and whether the state
    is one no run gives (a NaN or infinity, a negative second moment, another t than 16)."""
    header, body = header_of(data)
    body = bytearray(body)
    names = sorted(k for k in header if k.startswith("optimizer."))
    state = {}
    for name in names:
        begin, end = header[name]["data_offsets"]
        arr = np.frombuffer(bytes(body[begin:end]), _SAFETENSORS_DTYPES[header[name]["dtype"]])
        state[name] = arr.copy()
    for what, choice, value in edits:
        arr = state[names[choice % len(names)]]
        i = choice % arr.size
        if arr.dtype.kind == "i":
            arr[i] = int(np.clip(value, -(2**62), 2**62)) if what == "t" else arr[i]
        elif what in ("nan", "inf", "-inf"):
            arr[i] = float(what)
        else:
            arr[i] = -abs(value) - 1.0 if what == "negative" else value if what == "value" else 0
    for name, arr in state.items():
        begin, end = header[name]["data_offsets"]
        body[begin:end] = arr.tobytes()
    impossible = int(state["optimizer.t"][0]) != 16 or any(  # 2 epochs of 8 mini-batches
        not np.isfinite(a).all() or (n.startswith("optimizer.v_") and (a < 0).any())
        for n, a in state.items() if n != "optimizer.t")  # fmt: skip
    return with_header(header, bytes(body)), impossible


@settings(FUZZ, max_examples=200)
@given(edits=st.lists(STATE_EDIT, min_size=1, max_size=3))
def test_resume_from_any_optimizer_state_values_or_a_refusal_that_changes_nothing(
    folder, checkpoint_bytes, edits
):
    """Adam's state with values edited: a state no run gives is refused with ModelFileError
    naming the tensor, before the network changes; any other resumes (or diverges)."""
    from nnmath.train import TrainingDiverged

    data, impossible = edit_state(checkpoint_bytes, edits)
    path = folder / "state.safetensors"
    path.write_bytes(data)
    X, y = CK_DATA
    net = ck_net()
    before = [a.copy() for a in net.weights + net.biases]

    def resume():
        try:
            return net.fit(X, y, epochs=3, mini_batch_size=4, optimizer="adam", eta=0.01,
                           validation_data=(X[:6], y[:6]), resume=path, seed=0)  # fmt: skip
        except TrainingDiverged:
            return "diverged"

    out, outcome = bounded(resume)
    if impossible:
        assert outcome == "ModelFileError", (edits, out)
    if outcome == "ModelFileError":
        assert str(path) in str(out) and "optimizer." in str(out)
        assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases, before))
    else:
        outcome = "diverged" if out == "diverged" else outcome
    _count("fit(resume=...), optimizer state values edited", outcome)


# ------------------------------------------------------------------------- ONNX metadata

#: what the nnmath.config metadata may hold: any JSON, a cost or init of any kind, any text
CONFIG_TEXT = st.one_of(
    JSON.map(json.dumps),
    st.fixed_dictionaries({}, optional={"cost": JSON | st.sampled_from(COST_NAMES),
                                        "init": JSON | st.just("glorot")}).map(json.dumps),
    st.text(max_size=12),
)  # fmt: skip


@settings(FUZZ, max_examples=200)
@given(net=networks(), text=CONFIG_TEXT, poison=st.sampled_from([None, np.nan, np.inf, -np.inf]),
       which=st.integers(0, 7))  # fmt: skip
def test_onnx_files_with_any_metadata_end_in_a_network_or_a_value_error(
    folder, net, text, poison, which
):
    """nm.from_onnx of a written model with its nnmath.config metadata replaced, and a NaN or
    infinite weight: a Network or a ValueError naming the file, never AttributeError or
    TypeError; a non-finite weight is refused as nm.load refuses it."""
    onnx = pytest.importorskip("onnx", reason="ONNX files need the onnx package")
    model = nm.io.onnx.onnx_model(net)
    onnx.helper.set_model_props(model, {"nnmath.config": text})
    if poison is not None:
        weights = [t for t in model.graph.initializer if t.name[0].isdigit()]
        t = weights[which % len(weights)]
        arr = onnx.numpy_helper.to_array(t).copy()
        arr.flat[which % arr.size] = poison
        t.CopyFrom(onnx.numpy_helper.from_array(arr, t.name))
    path = folder / "meta.onnx"
    path.write_bytes(model.SerializeToString())
    try:
        out, outcome = nm.from_onnx(path), "valid"
    except ValueError as exc:
        out, outcome = exc, "ValueError"
    if outcome == "valid":
        assert poison is None and out.sizes == net.sizes
    else:
        assert type(out) is ValueError and str(out).startswith(f"{path}: "), out
    _count("nm.from_onnx, metadata replaced" + (", a weight poisoned" if poison else ""), outcome)
