"""The per-epoch log (nnmath.callbacks.EpochLogger, `nnmath train --log`): one row per epoch as
it ends, flushed; CSV and JSON lines; what a crashed or resumed run keeps."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nnmath as nm
from nnmath.callbacks import Callback, EpochLogger, read_log
from nnmath.cli import main
from nnmath.engine import c_available

KW = dict(epochs=3, mini_batch_size=20, eta=0.5, seed=0)


@pytest.fixture(scope="module")
def digits():
    data = nm.data.load_digits()
    return data.train[0][:400], data.train[1][:400], data.validation


def net():
    return nm.Network([64, 12, 10], seed=0, dtype="float64")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_one_row_per_epoch_equal_to_the_history(digits, tmp_path, suffix) -> None:
    X, y, valid = digits
    path = tmp_path / f"run{suffix}"
    h = net().fit(
        X,
        y,
        **KW,
        validation_data=valid,
        monitor_training_accuracy=True,
        track_gradients=True,
        callbacks=[EpochLogger(path)],
    )
    if c_available():
        assert h.extra["train_path"] == "c"  # the log keeps the compiled epoch
    rows = read_log(path)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for name in ("training_cost", "training_accuracy", "validation_cost", "validation_accuracy"):
        assert [r[name] for r in rows] == getattr(h, name), name  # exactly: repr round-trips
    assert [r["eta"] for r in rows] == h.extra["eta"]
    assert [r["epoch_time"] for r in rows] == h.epoch_time
    speeds = np.array(h.extra["gradient_norms"]["nabla_b"][1:])  # the same first 1,000 rows
    np.testing.assert_array_equal([[r["nabla_b_l2"], r["nabla_b_l3"]] for r in rows], speeds)
    if suffix == ".jsonl":
        assert all(json.loads(line) for line in path.read_text().splitlines())


def test_rows_are_on_disk_as_each_epoch_ends(digits, tmp_path) -> None:
    X, y, _ = digits
    path = tmp_path / "run.csv"
    seen = []

    class Reader(Callback):  # after the logger, in the same epoch
        def on_epoch_end(self, net, history, epoch):
            seen.append(len(read_log(path)))

    net().fit(X, y, **KW, callbacks=[EpochLogger(path), Reader()])
    assert seen == [1, 2, 3]


def test_a_crashed_run_keeps_its_epochs(digits, tmp_path) -> None:
    X, y, _ = digits
    path = tmp_path / "run.jsonl"

    class Crash(Callback):
        def on_epoch_end(self, net, history, epoch):
            if epoch == 1:
                raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        net().fit(X, y, **KW, callbacks=[EpochLogger(path), Crash()])
    assert [r["epoch"] for r in read_log(path)] == [1, 2]
    with path.open("a") as fh:  # a line cut short by a crash is left out when read back
        fh.write('{"epoch": 3, "training_co')
    assert [r["epoch"] for r in read_log(path)] == [1, 2]


def test_a_resumed_run_continues_the_log(digits, tmp_path) -> None:
    X, y, _ = digits
    path, ck = tmp_path / "run.csv", tmp_path / "ck.safetensors"
    kw = {**KW, "epochs": 2}
    first = net()
    first.fit(X, y, **kw, checkpoint=ck, callbacks=[EpochLogger(path)])
    with path.open("a") as fh:  # an epoch the checkpoint does not have (interrupted run)
        fh.write("3,9.9,,,,0.5,1.0,0.1,0.1\n")
    kw["epochs"] = 4
    h = first.fit(X, y, **kw, checkpoint=ck, resume=True, callbacks=[EpochLogger(path)])
    rows = read_log(path)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert [r["training_cost"] for r in rows] == h.training_cost


def test_without_speeds_and_bad_names(tmp_path) -> None:
    X, y = np.random.default_rng(0).random((30, 4)), np.arange(30) % 2
    path = tmp_path / "run.csv"
    nm.Network([4, 3, 2], seed=0).fit(X, y, epochs=1, callbacks=[EpochLogger(path, speeds=False)])
    assert path.read_text().splitlines()[0].split(",")[-1] == "epoch_time"
    assert read_log(path)[0]["validation_cost"] is None  # no validation data: empty
    with pytest.raises(ValueError, match=r"\.csv, \.jsonl"):
        EpochLogger(tmp_path / "run.txt")
    with pytest.raises(ValueError, match="both X and Y"):
        EpochLogger(path, X=X)


def test_train_log_option(tmp_path, capsys) -> None:
    path = tmp_path / "run.jsonl"
    assert main(["train", "--epochs", "2", "--log", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = read_log(path)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["validation_accuracy"] == summary["validation_accuracy"]
    assert rows[-1]["training_cost"] == summary["training_cost"]
    assert {"nabla_b_l2", "nabla_b_l3"} <= set(rows[0])


@pytest.mark.parametrize(
    ("name", "message"), [("run.txt", ".csv, .jsonl"), ("missing/run.csv", "does not exist")]
)
def test_train_log_refuses_bad_paths_before_training(tmp_path, capsys, name, message) -> None:
    assert main(["train", "--epochs", "1", "--log", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
