"""A training run SIGKILLed at random moments and resumed each time ends bit-identical to one
never interrupted, and its checkpoint always loads: a kill inside the checkpoint's write
leaves the previous checkpoint whole (and a temporary file that the next write removes)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nnmath as nm
from nnmath.checkpoint import restore
from nnmath.optim import get_optimizer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

#: the run, as code the test and its subprocesses share: data, network, fit's arguments
SETUP = """
import numpy as np
import nnmath as nm
EPOCHS = 30
rng = np.random.default_rng(0)
X = rng.random((1200, 32))
y = (X[:, :4].sum(axis=1) * 2.5).astype(np.int64) % 10
DATA = (X[:1000], y[:1000])
KW = dict(epochs=EPOCHS, mini_batch_size=10, optimizer="adam", eta=0.003, lmbda=0.1, seed=7,
          validation_data=(X[1000:], y[1000:]), patience=EPOCHS)
def make_net():
    return nm.Network([32, 64, 10], activation="tanh", output_activation="softmax",
                      cost="log_likelihood", seed=5)
"""

#: a process that trains (or resumes) with a checkpoint, printing each epoch as it ends (the
#: callbacks run just before that epoch's checkpoint is written)
RUN = """
import sys
path, resume = sys.argv[1], sys.argv[2] == "resume"
make_net().fit(*DATA, checkpoint=path, resume=resume,
               callbacks=[lambda net, history, epoch: print(epoch, flush=True)], **KW)
print("done", flush=True)
"""
CHILD = SETUP + RUN

SHARED: dict = {}
exec(SETUP, SHARED)
EPOCHS = SHARED["EPOCHS"]
_FIELDS = ("training_cost", "training_accuracy", "validation_cost", "validation_accuracy",
           "best_epoch", "stopped_early")  # fmt: skip


def _start(path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _state(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return json.loads(f.metadata()["checkpoint"])


def _parameters(net) -> list[np.ndarray]:
    return net.weights + net.biases


def _loads_and_restores(path: Path) -> int:
    """The checkpoint loads as a model and restores into a fresh run (every tensor and the
    state checked); its last completed epoch."""
    nm.load(path)
    net, history = SHARED["make_net"](), nm.History()
    X, _ = SHARED["DATA"]
    opt = get_optimizer("adam", eta=0.003, lmbda=0.1, n=len(X))
    state = restore(path, net, opt, np.random.default_rng(), history, mini_batch_size=10,
                    epochs=EPOCHS, eta=0.003)  # fmt: skip
    assert history.epochs == state.start_epoch and state.best_params is not None
    return state.start_epoch - 1


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "run").mkdir()
    reference, path = tmp_path / "ref" / "run.safetensors", tmp_path / "run" / "run.safetensors"
    proc = _start(reference, "fresh")  # uninterrupted, in a process like the others
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.endswith("done\n"), err[-2000:]

    moments = random.Random(22)  # seeded: which epoch, then how long after it ends
    killed, mid_write, done = 0, 0, -1
    for _ in range(8):
        if done >= EPOCHS - 4:
            break
        proc = _start(path, "resume" if path.exists() else "fresh")
        # at least one checkpoint written (epoch 0's, before epoch 1 ends)
        epoch, delay = max(done + 1 + moments.randrange(2), 1), moments.uniform(0, 0.0025)
        for line in proc.stdout:  # wait until epoch `epoch` ends, then a little longer
            if line.strip() == str(epoch):
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        killed += proc.returncode == -signal.SIGKILL
        mid_write += any(p.name.endswith(".tmp") for p in path.parent.iterdir())
        now = _loads_and_restores(path)  # never corrupt, whenever the kill came
        assert now >= max(done, epoch - 1), (done, now, epoch)  # nothing done was lost
        done = now
    assert killed >= 3, f"only {killed} of the runs were still going when killed"
    print(f"\n{killed} kills, {mid_write} inside a checkpoint's write, last at epoch {done}")

    proc = _start(path, "resume")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.endswith("done\n"), err[-2000:]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # dead writers' files gone
    full, resumed = nm.load(reference), nm.load(path)
    assert all(np.array_equal(a, b) for a, b in zip(_parameters(full), _parameters(resumed)))
    h_full, h_res = _state(reference)["history"], _state(path)["history"]
    assert {k: h_res[k] for k in _FIELDS} == {k: h_full[k] for k in _FIELDS}
    assert len(h_res["training_cost"]) == EPOCHS
    state_full, state_res = _state(reference), _state(path)
    assert state_res["rng"] == state_full["rng"] and state_res["epoch"] == EPOCHS - 1
