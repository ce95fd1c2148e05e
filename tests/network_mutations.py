"""The cases of ``tests/test_fuzz_network.py``, run in a child process: a built network's
public attributes are mutated between construction and ``fit``, and ``fit`` runs on the
compiled epoch and on the reference loop.

``python tests/network_mutations.py < cases.json`` reads a JSON list of cases and prints one
JSON line per case: how each path ended (``"trained"`` or the exception's type and message),
whether both ended alike (the same error, or weights equal to rounding) and whether any
read-only data the mutation used changed. A signal kills this process, not the test run.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import nnmath as nm
from nnmath.activations import get_activation
from nnmath.optim import SGD, Adam, RMSprop

FOLDER = Path(tempfile.mkdtemp(prefix="nnmath-fuzz-"))
RNG = np.random.default_rng(0)
X = RNG.random((40, 6))
LABELS = RNG.integers(0, 3, 40)
#: small steps: with η = 0.5 a float32 run of mini-batches of 1 amplifies the paths' rounding
#: differences until their weights part by up to 0.8 (before this fuzzer's fixes too)
OPTIMIZERS = {
    "sgd": lambda: SGD(0.1),
    "momentum": lambda: SGD(0.1, momentum=0.5),
    "adam": lambda: Adam(0.01),
    "rmsprop": lambda: RMSprop(0.01),
}
#: the state list of each optimizer that a mutation of "state" replaces entries of
STATE_LIST = {"momentum": "velocity_w", "adam": "m_w", "rmsprop": "v_b"}


def _map(a: np.ndarray, mode: str, name: str) -> np.memmap:
    path = FOLDER / f"{name}.npy"
    np.save(path, a)
    return np.load(path, mmap_mode=mode)


def replacement(a: np.ndarray, kind: str, sources: list) -> Any:
    """What replaces the array ``a`` for a mutation ``kind``; read-only data it is made over
    go to ``sources`` as (what to read again later, the bytes it held)."""
    if kind == "readonly":
        a = a.copy()
        a.flags.writeable = False
        return a
    if kind == "bytes":
        raw = a.tobytes()
        sources.append((lambda: raw, bytes(raw)))
        return np.frombuffer(raw, a.dtype).reshape(a.shape)
    if kind in ("mmap_r", "mmap_view", "mmap_copy", "mmap_rplus"):
        name = f"m{len(sources)}_{RNG.integers(1 << 30)}"
        mode = {"mmap_r": "r", "mmap_view": "r", "mmap_copy": "c", "mmap_rplus": "r+"}[kind]
        m = _map(a, mode, name)
        if mode != "r+":  # r+ is the user's own writeable file: training may change it
            path = FOLDER / f"{name}.npy"
            sources.append((lambda: path.read_bytes(), path.read_bytes()))
        return m.view(np.ndarray) if kind == "mmap_view" else m
    return _other_kind(a, kind)


def _other_kind(a: np.ndarray, kind: str) -> Any:
    """Arrays of the wrong type, dtype, shape or layout, and things that are not arrays."""
    other = np.float32 if a.dtype == np.float64 else np.float64
    table = {
        "copy": lambda: a.copy(),
        "other_dtype": lambda: a.astype(other),
        "int32": lambda: a.astype(np.int32),
        "float16": lambda: a.astype(np.float16),
        "transposed": lambda: np.ascontiguousarray(a.T),
        "short_rows": lambda: a[:-1].copy(),
        "longer": lambda: np.concatenate([a, a]),
        "fortran": lambda: np.asfortranarray(a),
        "strided": lambda: np.repeat(a, 2, axis=-1)[..., ::2],
        "reversed": lambda: a[::-1],
        "list": lambda: a.tolist(),
        "none": lambda: None,
        "scalar": lambda: np.float64(1.0),
        "zero_d": lambda: np.array(1.0, a.dtype),
        "matrix": lambda: np.asmatrix(a),
        "masked": lambda: np.ma.masked_array(a),
        "nan": lambda: np.full_like(a, np.nan),
        "string": lambda: "weights",
    }
    return table[kind]()


def _mutate_list(lst: list, kind: str) -> Any:
    if kind == "pop":
        return lst[:-1]
    if kind == "append":
        return [*lst, lst[-1]]
    if kind == "tuple":
        return tuple(lst)
    if kind == "empty":
        return []
    return {"none": None, "array": np.zeros(3), "dict": {0: lst[0]}}[kind]


def _mutate_activations(acts: list, kind: str, index: int) -> Any:
    acts = list(acts)
    i = index % len(acts)
    if kind in ("pop", "append", "tuple", "empty", "none"):
        return _mutate_list(acts, kind)
    if kind == "str":
        acts[i] = acts[i].name
    elif kind == "int":
        acts[i] = 3
    elif kind == "nothing":
        acts[i] = None
    else:  # a registry activation by name: valid unless the cost forbids it at the output
        acts[i] = get_activation(kind)
    return acts


def mutate(net: Any, opt: Any, case: dict, m: dict, sources: list) -> None:
    """Apply the mutation ``m`` to ``net`` (or its optimizer's state)."""
    target, kind, index = m["target"], m.get("kind"), m.get("index", 0)
    if target in ("weights", "biases", "state"):
        if target == "state":
            name = STATE_LIST.get(case["optimizer"])
            if name is None or name not in opt.state:
                return  # plain SGD has no state to spoil
            holder, key = opt.state, name
        else:
            holder, key = net.__dict__, target
        lst = holder[key]
        if kind in ("pop", "append", "tuple", "empty", "none_list", "array", "dict"):
            holder[key] = _mutate_list(lst, "none" if kind == "none_list" else kind)
        else:
            lst[index % len(lst)] = replacement(lst[index % len(lst)], kind, sources)
    elif target == "dropout":
        net.dropout = m["value"]
    elif target == "activations":
        net.activation_functions = _mutate_activations(net.activation_functions, kind, index)
    elif target == "sizes":
        sizes = list(net.sizes)
        net.sizes = {
            "wider": sizes[:1] + [sizes[1] + 1] + sizes[2:],
            "short": sizes[:-1],
            "floats": [s + 0.5 for s in sizes],
            "one": sizes[:1],
        }[kind]
    elif target == "dtype":
        net.dtype = np.float32 if np.dtype(net.dtype) == np.float64 else np.float64


def build(case: dict) -> tuple[Any, Any, list]:
    """The case's network and optimizer (its state made by one epoch when it has one), with
    the case's mutations applied."""
    net = nm.Network(
        case["sizes"],
        activation=case["activation"],
        cost=case["cost"],
        dtype=case["dtype"],
        seed=0,
        dropout=case["dropout"],
    )
    opt = OPTIMIZERS[case["optimizer"]]()
    if case["optimizer"] != "sgd":  # a state to spoil: one epoch on the reference loop
        nm.Network(case["sizes"], dtype=case["dtype"], seed=1).fit(
            X, LABELS, epochs=1, optimizer=opt, fast=False
        )
    sources: list = []
    for m in case["mutations"]:
        try:
            mutate(net, opt, case, m, sources)
        except (TypeError, AttributeError, IndexError, KeyError, ValueError):
            pass  # not applicable after the case's previous mutation (say, to a list gone)
    return net, opt, sources


def run(case: dict, fast: bool) -> tuple[dict, Any]:
    """How ``fit`` on one path ended, and the weights it left (when it trained)."""
    try:
        net, opt, sources = build(case)
    except Exception as exc:  # a mutation the network itself refuses (none today)
        return {"outcome": type(exc).__name__, "message": str(exc)[:300], "stage": "build"}, None
    try:
        history = net.fit(
            X, LABELS, epochs=2, mini_batch_size=case["batch"], optimizer=opt, seed=1, fast=fast
        )
        result = {"outcome": "trained", "path": history.extra["train_path"]}
        weights = [np.array(W, np.float64) for W in net.weights]
    except Exception as exc:
        result, weights = {"outcome": type(exc).__name__, "message": str(exc)[:300]}, None
    result["readonly_changed"] = any(read() != held for read, held in sources)
    return result, weights


def compare(case: dict) -> dict:
    """Both paths on one case, and whether they agree."""
    (fast, w_fast), (ref, w_ref) = run(case, True), run(case, False)
    if w_fast is not None and w_ref is not None:
        tol = 1e-3 if case["dtype"] == "float32" else 1e-9
        agree = all(
            a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True)
            for a, b in zip(w_fast, w_ref)
        )
    elif fast["outcome"] == "TrainingDiverged":  # the message quotes the epoch's cost
        agree = ref["outcome"] == "TrainingDiverged"
    else:
        agree = fast.get("message") == ref.get("message") and fast["outcome"] == ref["outcome"]
    return {"fast": fast, "reference": ref, "agree": agree}


def main() -> None:
    warnings.simplefilter("ignore")
    cases = json.load(sys.stdin)
    for k, case in enumerate(cases):
        with np.errstate(all="ignore"):
            line = {"case": k, **compare(case)}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
