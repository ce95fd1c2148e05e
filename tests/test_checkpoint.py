"""Checkpoints: an interrupted and resumed run ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import nnmath as nm
from conftest import Interrupt
from nnmath.io import ModelFileError

EPOCHS = 7


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((70, 4)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64) + (X[:, 1] > 0.5)
    return X[:50], y[:50], X[50:], y[50:]


def make_net(dtype="float32"):
    return nm.Network(
        [4, 6, 3],
        activation="tanh",
        output_activation="softmax",
        cost="log_likelihood",
        init="glorot",
        seed=3,
        dtype=dtype,
    )


def identical(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a.weights + a.biases, b.weights + b.biases))


OPTIMIZERS = [
    {"optimizer": "sgd", "eta": 0.5},
    {"optimizer": "sgd", "eta": 0.3, "momentum": 0.9, "lmbda": 0.5},
    {"optimizer": "sgd", "eta": 0.3, "momentum": 0.8, "nesterov": True},
    {"optimizer": "adam", "eta": 0.01, "lmbda": 0.1},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("k", [0, 2, 5])
def test_interrupt_and_resume_is_bit_identical(tmp_path, data, dtype, opt, k):
    X, y, Xv, yv = data
    kw = dict(epochs=EPOCHS, mini_batch_size=7, seed=11, validation_data=(Xv, yv), **opt)
    full = make_net(dtype)
    h_full = full.fit(X, y, **kw)

    path = tmp_path / "run.safetensors"
    first = make_net(dtype)
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, y, checkpoint=path, callbacks=[Interrupt(k)], **kw)
    # the callbacks run before the checkpoint is written: the file holds epochs 0..k-1
    if k == 0:
        assert not path.exists()
        return
    resumed = make_net(dtype)
    h_res = resumed.fit(X, y, checkpoint=path, resume=True, **kw)
    assert identical(full, resumed)
    assert h_res.training_cost == h_full.training_cost
    assert h_res.validation_accuracy == h_full.validation_accuracy
    assert h_res.best_epoch == h_full.best_epoch
    assert h_res.epochs == EPOCHS
    # the checkpoint now holds the finished run, and is also a loadable model
    assert identical(nm.load(path), full)


@pytest.mark.parametrize("k", [1, 3, 6])
def test_resume_with_early_stopping(tmp_path, data, k):
    X, y, Xv, yv = data
    kw = dict(epochs=12, mini_batch_size=5, eta=2.0, seed=2, validation_data=(Xv, yv), patience=2)
    full = make_net()
    h_full = full.fit(X, y, **kw)
    assert h_full.stopped_early  # this setting stops early; the test relies on it
    path = tmp_path / "run.safetensors"
    try:
        make_net().fit(X, y, checkpoint=path, callbacks=[Interrupt(k)], **kw)
    except KeyboardInterrupt:
        pass
    resumed = make_net()
    h_res = resumed.fit(X, y, resume=path, **kw)  # resume=PATH: read from and save to PATH
    assert identical(full, resumed)  # the best epoch's weights, restored at the end
    assert h_res.stopped_early and h_res.epochs == h_full.epochs
    assert h_res.best_epoch == h_full.best_epoch


def test_resume_a_finished_run_changes_nothing(tmp_path, data):
    X, y, *_ = data
    path = tmp_path / "run.safetensors"
    net = make_net()
    net.fit(X, y, epochs=3, seed=0, eta=0.5, checkpoint=path)
    again = make_net()
    h = again.fit(X, y, epochs=3, seed=0, eta=0.5, checkpoint=path, resume=True)
    assert identical(net, again) and h.epochs == 3


def test_checkpoint_written_each_epoch(tmp_path, data):
    from safetensors import safe_open

    X, y, *_ = data
    path = tmp_path / "run.safetensors"
    seen = []

    def after(net, history, epoch):  # runs before the checkpoint of this epoch
        if path.exists():
            with safe_open(str(path), framework="numpy") as f:
                seen.append(json.loads(f.metadata()["checkpoint"])["epoch"])

    make_net().fit(X, y, epochs=4, eta=0.5, optimizer="adam", checkpoint=path, callbacks=[after])
    assert seen == [0, 1, 2]
    with safe_open(str(path), framework="numpy") as f:
        assert {"optimizer.t", "optimizer.m_w.0", "optimizer.v_b.1"} <= set(f.keys())
        state = json.loads(f.metadata()["checkpoint"])
    assert state["epoch"] == 3 and state["optimizer"] == "adam"
    assert len(state["history"]["training_cost"]) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["run.safetensors"]


def test_resume_errors(tmp_path, data):
    X, y, *_ = data
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        make_net().fit(X, y, epochs=1, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        make_net().fit(X, y, epochs=1, checkpoint=tmp_path / "none.safetensors", resume=True)

    model = nm.save(make_net(), tmp_path / "model.safetensors")
    with pytest.raises(ModelFileError, match="not a training checkpoint"):
        make_net().fit(X, y, epochs=2, resume=model)

    path = tmp_path / "run.safetensors"
    make_net().fit(X, y, epochs=1, eta=0.5, checkpoint=path)
    other = nm.Network(
        [4, 5, 3], activation="tanh", output_activation="softmax", cost="log_likelihood", seed=0
    )
    with pytest.raises(ModelFileError, match="sizes"):
        other.fit(X, y, epochs=2, checkpoint=path, resume=True)
    with pytest.raises(ModelFileError, match="optimizer 'sgd'"):
        make_net().fit(X, y, epochs=2, optimizer="adam", checkpoint=path, resume=True)


def test_history_extra_must_be_json(tmp_path, data):
    X, y, *_ = data

    def odd(net, history, epoch):
        history.extra["thing"] = object()

    with pytest.raises(ValueError, match="history.extra"):
        make_net().fit(X, y, epochs=1, callbacks=[odd], checkpoint=tmp_path / "c.safetensors")


def test_cli_save_checkpoint_resume(tmp_path):
    from nnmath.cli import main

    full, ck = tmp_path / "full.safetensors", tmp_path / "ck.safetensors"
    common = ["train", "--epochs", "3", "--quiet", "--seed", "1"]
    assert main([*common, "--save", str(full)]) == 0
    assert main(["train", "--epochs", "1", "--quiet", "--seed", "1", "--checkpoint", str(ck)]) == 0
    assert main([*common, "--checkpoint", str(ck), "--resume"]) == 0
    assert identical(nm.load(full), nm.load(ck))
    assert nm.load(full).sizes == [64, 30, 10]


def test_cli_resume_needs_checkpoint(capsys):
    from nnmath.cli import main

    assert main(["train", "--resume", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "--resume needs --checkpoint" in err and "Traceback" not in err


SCHEDULED = [
    ("step", lambda: nm.schedules.StepDecay(2, gamma=0.5)),
    ("cosine", lambda: nm.schedules.Cosine()),  # T_max = the run's epochs
    ("exponential", lambda: "exponential"),
]


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("name, schedule", SCHEDULED, ids=[s[0] for s in SCHEDULED])
@pytest.mark.parametrize("k", [1, 4])
def test_resume_a_scheduled_run_is_bit_identical(tmp_path, data, name, schedule, k, fast):
    """The base η survives in the checkpoint: resuming with the very optimizer object of the
    interrupted run, whose η the schedule had already lowered, continues the same schedule."""
    X, y, Xv, yv = data
    kw = dict(epochs=EPOCHS, mini_batch_size=7, seed=11, validation_data=(Xv, yv), fast=fast)
    full = make_net("float64")
    h_full = full.fit(X, y, optimizer=nm.SGD(eta=0.8, momentum=0.5), schedule=schedule(), **kw)

    path = tmp_path / "run.safetensors"
    opt = nm.SGD(eta=0.8, momentum=0.5)
    with pytest.raises(KeyboardInterrupt):
        make_net("float64").fit(
            X,
            y,
            optimizer=opt,
            schedule=schedule(),
            checkpoint=path,
            callbacks=[Interrupt(k)],
            **kw,
        )
    assert opt.eta == h_full.extra["eta"][k]  # the η of the interrupted epoch
    assert k < 4 or opt.eta != 0.8  # lowered by the schedule
    assert checkpoint_state(path)["base_eta"] == 0.8
    resumed = make_net("float64")
    h_res = resumed.fit(X, y, optimizer=opt, schedule=schedule(), resume=path, **kw)
    assert identical(full, resumed)
    assert h_res.extra["eta"] == h_full.extra["eta"]
    assert h_res.training_cost == h_full.training_cost


def test_resume_a_scheduled_run_by_name(tmp_path, data):
    X, y, *_ = data
    kw = dict(epochs=EPOCHS, mini_batch_size=7, seed=3, eta=0.5, optimizer="adam")
    full = make_net()
    full.fit(X, y, schedule="cosine", **kw)
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        make_net().fit(X, y, schedule="cosine", checkpoint=path, callbacks=[Interrupt(3)], **kw)
    resumed = make_net()
    resumed.fit(X, y, schedule="cosine", checkpoint=path, resume=True, **kw)
    assert identical(full, resumed)


def checkpoint_state(path) -> dict:
    """The checkpoint's state JSON (epoch, optimizer, base η, generator, history)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return json.loads(f.metadata()["checkpoint"])


def _rewrite(src, dst, change_tensors=None, change_state=None):
    """Copy checkpoint ``src`` to ``dst`` with its tensors and/or its state JSON changed."""
    import safetensors.numpy
    from safetensors import safe_open

    with safe_open(str(src), framework="numpy") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if change_tensors is not None:
        change_tensors(tensors)
    if change_state is not None:
        state = json.loads(metadata["checkpoint"])
        replaced = change_state(state)
        metadata["checkpoint"] = replaced if isinstance(replaced, str) else json.dumps(state)
    safetensors.numpy.save_file(tensors, str(dst), metadata=metadata)


def _set(key, value):
    def change(d):
        d[key] = value(d[key]) if callable(value) else value

    return change


def _delete(key):
    def change(d):
        del d[key]

    return change


def _drop_state(tensors):  # resumed as a fresh Adam, the run would silently differ
    for name in [k for k in tensors if k.startswith("optimizer.")]:
        del tensors[name]


def _rng(state):
    state["rng"]["stat"] = state["rng"].pop("state")


MALFORMED = {  # case: (tensors changed, state changed, words of the error)
    "state tensor missing": (_delete("optimizer.m_w.1"), None, "lacks tensors"),
    "state tensor undersized": (_set("optimizer.m_w.0", lambda a: a[:2].copy()), None, "shape"),
    "state tensor transposed": (_set("optimizer.v_w.0", lambda a: a.T.copy()), None, "(6, 4)"),
    "state tensor float64": (_set("optimizer.m_b.0", lambda a: a.astype(np.float64)), None, "is"),
    "state tensors all missing": (_drop_state, None, "lacks tensors ['optimizer.m_b.0'"),
    "state tensor with NaN": (_set("optimizer.v_w.1", lambda a: a * np.nan), None, "NaN"),
    "best weights with NaN": (_set("best.2.bias", lambda a: a * np.nan), None, "NaN"),
    "t of shape (1,)": (_set("optimizer.t", lambda a: a.reshape(1).copy()), None, "'optimizer.t'"),
    "t negative": (_set("optimizer.t", np.array(-3)), None, "non-negative integer"),
    "t a float": (_set("optimizer.t", np.array(2.5)), None, "non-negative integer"),
    "a bad state name": (_set("optimizer.momentum.0", np.zeros(3, np.float32)), None, "not part"),
    "an unknown tensor": (_set("extra", np.zeros(1, np.float32)), None, "not part"),
    "best weights partial": (_delete("best.2.bias"), None, "best"),
    "rng key renamed": (None, _rng, "generator state is malformed"),
    "rng of another kind": (None, lambda s: s["rng"].update(bit_generator="MT19937"), "MT19937"),
    "best_epoch out of range": (None, lambda s: s["history"].update(best_epoch=99), "best_epoch"),
    "best_epoch a string": (None, lambda s: s["history"].update(best_epoch="1"), "best_epoch"),
    "epoch negative": (None, _set("epoch", -1), "epoch -1"),
    "epoch a string": (None, _set("epoch", "2"), "epoch '2'"),
    "epoch beyond the run": (None, _set("epoch", 40), "more than epochs=5"),
    "history too short": (None, lambda s: s["history"]["training_cost"].pop(), "training_cost"),
    "history field unknown": (None, lambda s: s["history"].update(loss=[1]), "unknown field"),
    "history field missing": (None, lambda s: s["history"].pop("training_cost"), "lacks the"),
    "best_epoch missing": (None, lambda s: s["history"].pop("best_epoch"), "['best_epoch']"),
    "history not an object": (None, _set("history", [1, 2]), "history is not a dict"),
    "η history null": (None, lambda s: s["history"]["extra"].update(eta=None), "extra['eta']"),
    "η history short": (None, lambda s: s["history"]["extra"]["eta"].pop(), "list of 3 numbers"),
    "state key missing": (None, _delete("optimizer"), "lacks ['optimizer']"),
    "state not JSON": (None, lambda s: "{epoch: 1", "not valid JSON"),
    "state a list": (None, lambda s: "[1, 2]", "not a JSON object"),
    "base_eta text": (None, _set("base_eta", "fast"), "base_eta"),
    "hyper not numbers": (None, _set("hyper", {"lmbda": "x"}), "hyper-parameters"),
    "second moment negative": (_set("optimizer.v_w.0", lambda a: -a - 1), None,
                               "'optimizer.v_w.0' (a second moment, a running mean of g²) has "
                               "negative values"),
    "second moment infinite": (_set("optimizer.v_b.1", lambda a: a + np.inf), None,
                               "'optimizer.v_b.1' (a second moment) contains NaN or infinite"),
    "first moment infinite": (_set("optimizer.m_w.1", lambda a: a - np.inf), None,
                              "'optimizer.m_w.1' (a first moment) contains"),
    "t past the steps done": (_set("optimizer.t", lambda a: np.array(a + 1)), None,
                                "'optimizer.t' (the step count) is 25, but the epochs done took "
                                "24 steps"),
    "t zero": (_set("optimizer.t", lambda a: np.array(0)), None, "(the step count) is 0"),
    "t huge": (_set("optimizer.t", np.array(2**62)), None, f"is {2**62}, but"),
    "gradient norms a list": (None, lambda s: s["history"]["extra"].update(gradient_norms=[1]),
                              "extra['gradient_norms'] is not an object of the lists"),
    "train_threads zero": (None, lambda s: s["history"]["extra"].update(train_threads=0),
                           "extra['train_threads'] 0 is not ≥ 1"),
    "train_product_parts zero": (
        None, lambda s: s["history"]["extra"].update(train_product_parts=0),
        "extra['train_product_parts'] 0 is not ≥ 1"),
    "train_path a number": (None, lambda s: s["history"]["extra"].update(train_path=5),
                            "extra['train_path'] is not a string"),
}  # fmt: skip


def _track_checkpoint(tmp_path, data, **kw):
    X, y, Xv, yv = data
    path = tmp_path / "tracked.safetensors"
    make_net().fit(X, y, epochs=2, mini_batch_size=7, seed=11, validation_data=(Xv, yv),
                   checkpoint=path, track_gradients=True, **kw)  # fmt: skip
    return path


def _refused_untouched(path, data, words, **kw):
    """Resuming from ``path`` is refused with ``words`` and the network keeps every weight."""
    X, y, Xv, yv = data
    net = make_net()
    before = [a.copy() for a in net.weights + net.biases]
    with pytest.raises(ModelFileError, match=re.escape(words)) as info:
        net.fit(X, y, epochs=4, mini_batch_size=7, seed=11, validation_data=(Xv, yv),
                resume=path, **kw)  # fmt: skip
    assert repr(str(path)) in str(info.value)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases, before))


GRADIENT_NORMS = {  # a change of the tracker's record -> the words of the refusal
    "a list": (lambda rec: [1, 2], "is not an object of the lists"),
    "steps as text": (lambda rec: {**rec, "step": ["1"] * 3}, "['step'] holds"),
    "a record short": (lambda rec: {**rec, "epoch": [0, 1]}, "holds lists of different lengths"),
    "an epoch ahead": (lambda rec: {**rec, "epoch": [0, 1, 9]}, "['epoch'] holds values outside"),
    "norms of 3 layers": (lambda rec: {**rec, "nabla_b": [[1.0] * 3] * 3}, "['nabla_b'] is not"),
}


@pytest.mark.parametrize("case", GRADIENT_NORMS)
def test_a_malformed_gradient_record_is_refused_before_the_weights_change(tmp_path, data, case):
    """It used to crash track_gradients=True with a bare TypeError after the weights were
    replaced."""
    change, words = GRADIENT_NORMS[case]
    path = _track_checkpoint(tmp_path, data)
    bad = tmp_path / "bad.safetensors"

    def edit(state):
        extra = state["history"]["extra"]
        extra["gradient_norms"] = change(extra["gradient_norms"])

    _rewrite(path, bad, change_state=edit)
    _refused_untouched(bad, data, f"the history's extra['gradient_norms'] {words}",
                       track_gradients=True)  # fmt: skip


@pytest.mark.parametrize(
    "opt, name, change, words",
    [
        ({"optimizer": "adam", "eta": 0.01}, "v_w.0", lambda a: a - 1.0,
         "(a second moment, a running mean of g²) has negative values"),
        ({"optimizer": "rmsprop", "eta": 0.01}, "v_b.1", lambda a: a - 1.0,
         "(a second moment, a running mean of g²) has negative values"),
        ({"optimizer": "rmsprop", "eta": 0.01}, "v_w.1", lambda a: a + np.inf,
         "(a second moment) contains NaN or infinite values"),
        ({"optimizer": "sgd", "eta": 0.1, "momentum": 0.9}, "velocity_w.0",
         lambda a: a * np.inf, "(a velocity) contains NaN or infinite values"),
        ({"optimizer": "adam", "eta": 0.01}, "t", lambda a: np.array(a + 7),
         "(the step count) is 23, but the epochs done took 16 steps"),
    ],
)  # fmt: skip
def test_optimizer_state_no_run_gives_is_refused_before_the_weights_change(
    tmp_path, data, opt, name, change, words
):
    """A negative second moment is an edited file, not a diverged run: the hint says so."""
    path = _track_checkpoint(tmp_path, data, **opt)
    bad = tmp_path / "bad.safetensors"
    _rewrite(path, bad, change_tensors=_set(f"optimizer.{name}", change))
    _refused_untouched(bad, data, f"tensor 'optimizer.{name}' {words}", **opt)
    if "negative" in words:
        with pytest.raises(ModelFileError, match="no run gives: the file was edited") as info:
            make_net().fit(*data[:2], epochs=4, mini_batch_size=7, seed=11,
                           validation_data=data[2:], resume=bad, **opt)  # fmt: skip
        assert "diverged" not in str(info.value)
    # the file it was edited from resumes
    make_net().fit(*data[:2], epochs=4, mini_batch_size=7, seed=11, validation_data=data[2:],
                   resume=path, track_gradients=True, **opt)  # fmt: skip


def test_the_fields_restore_checks_are_the_historys():
    import dataclasses

    from nnmath.checkpoint import _HISTORY_FIELDS

    assert set(_HISTORY_FIELDS) == {f.name for f in dataclasses.fields(nm.History)}


RESUME_ALL = """
import json, sys
import numpy as np
import nnmath as nm
sys.path.insert(0, "tests")  # test_checkpoint imports its helpers from conftest, as pytest does
from tests.test_checkpoint import make_net
X, y, Xv, yv = (np.load(sys.argv[1])[k] for k in ("X", "y", "Xv", "yv"))
out = {}
for path in sys.argv[2:]:
    try:
        make_net().fit(X, y, epochs=5, mini_batch_size=7, seed=11, optimizer="adam", eta=0.01,
                       validation_data=(Xv, yv), resume=path, fast=path.endswith("fast.st"))
        out[path] = ["resumed", ""]
    except Exception as exc:  # the test reads the type and the message
        out[path] = [type(exc).__name__, str(exc)]
print(json.dumps(out))
"""


def test_malformed_checkpoints_are_refused_before_any_work(tmp_path, data):
    """Every malformed state ends in ModelFileError naming the file (ResumeMismatch for an
    epoch beyond the run), in a subprocess so that a crash would fail the test, not kill it;
    on the compiled epoch and the reference loop alike."""
    import subprocess
    import sys
    from pathlib import Path

    X, y, Xv, yv = data
    good = tmp_path / "good.safetensors"
    kw = dict(mini_batch_size=7, seed=11, optimizer="adam", eta=0.01, validation_data=(Xv, yv))
    make_net().fit(X, y, epochs=3, checkpoint=good, **kw)
    files = []
    for i, (tensors, state, _) in enumerate(MALFORMED.values()):
        for engine in ("fast", "ref"):
            files.append(tmp_path / f"case{i}.{engine}.st")
            _rewrite(good, files[-1], tensors, state)
    np.savez(tmp_path / "data.npz", X=X, y=y, Xv=Xv, yv=yv)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", RESUME_ALL, str(tmp_path / "data.npz"), *map(str, files)],
        capture_output=True, text=True, timeout=120, cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    outcome = json.loads(proc.stdout)
    for i, (case, (*_, words)) in enumerate(MALFORMED.items()):
        for engine in ("fast", "ref"):
            path = str(tmp_path / f"case{i}.{engine}.st")
            kind, message = outcome[path]
            expected = "ResumeMismatch" if "beyond" in case else "ModelFileError"
            assert kind == expected, (case, engine, kind, message)
            assert words in message and repr(path) in message, (case, message)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"eta": 0.4}, "eta 0.3 (this run: 0.4)"),
        ({"lmbda": 0.2}, "lmbda 0.5 (this run: 0.2)"),
        ({"momentum": 0.5}, "momentum 0.9 (this run: 0.5)"),
        ({"mini_batch_size": 5}, "mini_batch_size 7 (this run: 5)"),
        ({"epochs": 1}, "it has done 2 epochs, more than epochs=1"),
        ({"rows": 40}, "n 50 (this run: 40)"),
    ],
)
def test_resume_with_other_settings_is_refused_naming_them(tmp_path, data, change, words):
    from nnmath.checkpoint import ResumeMismatch

    X, y, *_ = data
    kw = dict(epochs=2, mini_batch_size=7, seed=1, eta=0.3, momentum=0.9, lmbda=0.5)
    path = tmp_path / "run.safetensors"
    make_net().fit(X, y, checkpoint=path, **kw)
    rows = change.pop("rows", len(X))
    net = make_net()
    before = [W.copy() for W in net.weights]
    with pytest.raises(ResumeMismatch, match=re.escape(words)):
        net.fit(X[:rows], y[:rows], resume=path, **{**kw, **change})
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))  # nothing changed


def test_resume_with_or_without_validation_data_unlike_the_checkpoint_is_refused(tmp_path, data):
    """A validation history that does not line up with the epochs: an IndexError in the
    first validated epoch, or early stopping ending the run at once, before this check."""
    from nnmath.checkpoint import ResumeMismatch

    X, y, Xv, yv = data
    kw = dict(epochs=2, mini_batch_size=7, seed=1, eta=0.3)
    path = tmp_path / "run.safetensors"
    make_net().fit(X, y, checkpoint=path, **kw)
    words = "trained with no validation data (this run: some)"
    for more in ({}, {"patience": 1}):
        with pytest.raises(ResumeMismatch, match=re.escape(words)):
            make_net().fit(
                X, y, resume=path, validation_data=(Xv, yv), **{**kw, **more, "epochs": 4}
            )
    make_net().fit(X, y, checkpoint=path, validation_data=(Xv, yv), **kw)
    with pytest.raises(ResumeMismatch, match=re.escape("with validation data (this run: none)")):
        make_net().fit(X, y, resume=path, **{**kw, "epochs": 4})


RESUME_KW = dict(epochs=3, mini_batch_size=7, seed=1, eta=0.3)


def _compiled_checkpoint(tmp_path, X, y, skip_why):
    """A run of RESUME_KW interrupted after its first epoch: the file and its history's extra
    (skips with ``skip_why`` unless the compiled epoch trained it)."""
    path = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        make_net().fit(X, y, checkpoint=path, callbacks=[Interrupt(1)], **RESUME_KW)
    extra = checkpoint_state(path)["history"]["extra"]
    if extra.get("train_path") != "c":
        pytest.skip(f"the compiled epoch is not built: {skip_why}")
    return path, extra


def test_resume_on_another_thread_count_warns(tmp_path, data, monkeypatch):
    import nnmath.engine

    X, y, *_ = data
    path, extra = _compiled_checkpoint(tmp_path, X, y, "no thread count to differ")
    before = extra["train_threads"]
    monkeypatch.setattr(nnmath.engine.runner, "epoch_threads", lambda B, threads: before + 1)
    with pytest.warns(RuntimeWarning, match=f"trained on {before} thread.*not be bit-identical"):
        make_net().fit(X, y, resume=path, **RESUME_KW)
    monkeypatch.undo()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same count: no warning
        with pytest.raises(KeyboardInterrupt):
            make_net().fit(X, y, checkpoint=path, callbacks=[Interrupt(1)], **RESUME_KW)
        make_net().fit(X, y, resume=path, **RESUME_KW)


def test_resume_with_products_in_other_parts_warns(tmp_path, data, monkeypatch):
    """A one-thread epoch cuts its large products into as many parts as BLAS may use threads:
    another count on resume adds up δ aᵀ in another order, and fit says so."""
    import nnmath.engine

    X, y, *_ = data
    path, extra = _compiled_checkpoint(tmp_path, X, y, "no product parts to differ")
    parts = extra["train_product_parts"]
    monkeypatch.setattr(nnmath.engine.runner, "product_parts", lambda threads: parts + 1)
    match = f"its products in {parts + 1} parts.*not be bit-identical"
    with pytest.warns(RuntimeWarning, match=match):
        make_net().fit(X, y, resume=path, **RESUME_KW)


def test_resume_on_another_path_warns(tmp_path, data):
    """A checkpoint of the compiled epoch resumed on the reference loop (fast=False): another
    implementation's arithmetic, so not bit-identical, and fit says so with the reason."""
    X, y, *_ = data
    path, _ = _compiled_checkpoint(tmp_path, X, y, "the run was on the reference loop")
    words = "trained on the compiled epoch, this run trains on the reference loop (fast=False)"
    with pytest.warns(RuntimeWarning, match=re.escape(words) + ".*not be bit-identical"):
        history = make_net().fit(X, y, resume=path, fast=False, **RESUME_KW)
    assert history.extra["train_path"] == "reference"
