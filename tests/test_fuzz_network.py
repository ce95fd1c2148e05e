"""Property-based fuzzing of a built network's public attributes, mutated between
construction and ``fit``: weights, biases and the optimizer's state replaced by arrays of
every wrong kind (read-only, memory-mapped read-only, of another dtype or shape, Fortran
order, strided views, not arrays at all), lists of the wrong length, bad dropout values,
wrong activation lists, changed sizes and dtype.

Every case runs ``fit`` on the compiled epoch and on the reference loop, in a child process
(``tests/network_mutations.py``), a batch of cases per process: the outcome must be a
Python error of nnmath's (ValueError, TypeError, RuntimeError) or a trained network, never a
signal, the same on both paths (the same error, or weights equal to rounding), and no
read-only data may change. A batch that dies by a signal is run again case by case, so that
the failure names the case. ``NNMATH_FUZZ_NETWORK_EXAMPLES`` sets the number of batches (8
by default, 25 cases each); ``pytest -s`` prints how the cases ended.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="fuzz tests need hypothesis (nnmath[test])")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

HERE = Path(__file__).resolve().parent
CHILD = HERE / "network_mutations.py"
BATCH = 25
EXAMPLES = int(os.environ.get("NNMATH_FUZZ_NETWORK_EXAMPLES", "8"))
OUTCOMES: Counter = Counter()
CLEAN = {"trained", "ValueError", "TypeError", "RuntimeError", "TrainingDiverged"}

ARRAY_KINDS = [
    "readonly",
    "bytes",
    "mmap_r",
    "mmap_view",
    "mmap_copy",
    "mmap_rplus",
    "copy",
    "other_dtype",
    "int32",
    "float16",
    "transposed",
    "short_rows",
    "longer",
    "fortran",
    "strided",
    "reversed",
    "list",
    "none",
    "scalar",
    "zero_d",
    "matrix",
    "masked",
    "nan",
    "string",
]
LIST_KINDS = ["pop", "append", "tuple", "empty", "none_list", "array", "dict"]
ACTIVATION_KINDS = [
    "pop",
    "append",
    "tuple",
    "empty",
    "none",
    "str",
    "int",
    "nothing",
    "tanh",
    "relu",
    "softmax",
    "identity",
    "sigmoid",
]
PROBABILITIES = [0.0, 0.5, 0.999, 1.0, 1.5, -0.1, float("nan"), float("inf"), "a", None, True]

arrays = st.fixed_dictionaries(
    {
        "target": st.sampled_from(["weights", "biases", "state"]),
        "kind": st.sampled_from(ARRAY_KINDS + LIST_KINDS),
        "index": st.integers(0, 3),
    }
)
dropouts = st.fixed_dictionaries(
    {
        "target": st.just("dropout"),
        "value": st.one_of(
            st.sampled_from(PROBABILITIES), st.lists(st.sampled_from(PROBABILITIES), max_size=4)
        ),
    }
)
activations = st.fixed_dictionaries(
    {
        "target": st.just("activations"),
        "kind": st.sampled_from(ACTIVATION_KINDS),
        "index": st.integers(0, 3),
    }
)
others = st.one_of(
    st.fixed_dictionaries(
        {"target": st.just("sizes"), "kind": st.sampled_from(["wider", "short", "floats", "one"])}
    ),
    st.fixed_dictionaries({"target": st.just("dtype")}),
)
mutations = st.one_of(arrays, arrays, dropouts, activations, others)
cases = st.fixed_dictionaries(
    {
        "sizes": st.sampled_from([[6, 5, 3], [6, 4, 4, 3]]),
        "dtype": st.sampled_from(["float32", "float64"]),
        "cost": st.sampled_from(["quadratic", "cross_entropy"]),
        "activation": st.sampled_from(["sigmoid", "relu", "tanh"]),
        "dropout": st.sampled_from([0.0, 0.3]),
        "optimizer": st.sampled_from(["sgd", "momentum", "adam", "rmsprop"]),
        "batch": st.sampled_from([1, 7, 40, 10**12]),
        "mutations": st.lists(mutations, min_size=1, max_size=2),
    }
)


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print(
        f"\nnetwork attributes mutated before fit: {sum(OUTCOMES.values())} cases, "
        + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items()))
    )


def _child(batch: list[dict]) -> subprocess.CompletedProcess:
    """The batch run by a child process that imports this tree's nnmath."""
    paths = [str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, str(CHILD)],
        input=json.dumps(batch),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _crashing_case(batch: list[dict]) -> str:
    """The first case of a batch that kills the child on its own, with how it died."""
    for case in batch:
        proc = _child([case])
        if proc.returncode != 0:
            return f"exit {proc.returncode} on {case}:\n{proc.stderr[-1500:]}"
    return "no single case crashes alone: the batch's order matters"


#: no shrinking: each step would start a child; a failure names its case (_crashing_case)
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.lists(cases, min_size=BATCH, max_size=BATCH))
def test_mutated_network_attributes_end_in_a_python_error_or_a_correct_result(batch) -> None:
    proc = _child(batch)
    assert proc.returncode == 0, _crashing_case(batch)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == len(batch), proc.stderr[-1500:]
    for line, case in zip(lines, batch):
        fast, ref = line["fast"], line["reference"]
        OUTCOMES[f"{fast['outcome']} / {ref['outcome']}"] += 1
        for result in (fast, ref):
            assert result["outcome"] in CLEAN, (case, result)
            assert not result["readonly_changed"], (case, result)
            assert result.get("stage") != "build", (case, result)
        assert line["agree"], (case, line)
