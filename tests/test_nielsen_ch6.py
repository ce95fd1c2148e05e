"""``nnmath reproduce nielsen-ch6``: the ladder's networks are the book's, its conventions are
converted right, one rung runs alone, and a work folder lets a stopped ladder go on. (The
quick run of the whole ladder is in test_reproduce.py, with every other experiment's.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnmath.cli import main
from nnmath.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from nnmath.reproduce import EXPERIMENTS, run
from nnmath.reproduce._ch6_ladder import RUNGS, book_parameters, build_network, nnmath_lmbda
from test_reproduce import mnist_dir


def kinds(net: Any) -> list[str]:
    return [type(layer).__name__ for layer in net.layers]


def test_the_ladder_is_the_books() -> None:
    """Eight rungs, the book's numbers in order, rung 8 the vote of five of rung 7's."""
    assert [r.number for r in RUNGS] == list(range(1, 9))
    assert [r.book for r in RUNGS] == [0.978, 0.9878, 0.9906, 0.9923, 0.9937, 0.9943, 0.996, 0.9967]
    assert EXPERIMENTS["nielsen-ch6"].rungs == len(RUNGS)
    seven, eight = RUNGS[6], RUNGS[7]
    assert (eight.nets, seven.nets) == (5, 1)
    own = ("number", "change", "nets", "book")
    protocol = [{k: v for k, v in vars(r).items() if k not in own} for r in (seven, eight)]
    assert protocol[0] == protocol[1]


def test_rung_networks() -> None:
    """Rung 1 is the dense [784, 100, 10] (the compiled epoch's network); rung 3 has two
    convolution-pooling layers; rung 7 drops the input of each fully connected layer and of
    the softmax layer, as network3.py's p_dropout does."""
    one = build_network(RUNGS[0], (1, 28, 28), 0, "float32")
    assert not getattr(one, "layered", False) and one.sizes == [784, 100, 10]
    three = build_network(RUNGS[2], (1, 28, 28), 0, "float32")
    assert kinds(three)[1:5] == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D"]
    shapes = [(20, 1, 5, 5), (40, 20, 5, 5), (100, 640), (10, 100)]
    assert [W.shape for W in three.weights] == shapes
    seven = build_network(RUNGS[6], (1, 28, 28), 0, "float32")
    shown = [layer for layer in seven.layers if not isinstance(layer, Flatten)]
    dense = [i for i, layer in enumerate(shown) if isinstance(layer, Dense)]
    assert len(dense) == 3 and all(isinstance(shown[i - 1], Dropout) for i in dense)
    assert [shown[i].n for i in dense] == [1000, 1000, 10]
    assert isinstance(shown[1], Conv2D) and isinstance(shown[2], MaxPool2D)


def test_book_initialisation() -> None:
    """w ~ N(0, 1/n_out) with a convolution's n_out = out·k²/pool², b ~ N(0, 1), the softmax
    layer at zero."""
    net = build_network(RUNGS[2], (1, 28, 28), 3, "float64")
    W1, W2, W3, W4 = net.weights
    assert np.std(W1) == pytest.approx(np.sqrt(1 / (20 * 25 / 4)), rel=0.2)
    assert np.std(W2) == pytest.approx(np.sqrt(1 / (40 * 25 / 4)), rel=0.05)
    assert np.std(W3) == pytest.approx(np.sqrt(1 / 100), rel=0.05)
    assert not W4.any() and not net.biases[-1].any()
    assert np.std(net.biases[2]) == pytest.approx(1.0, rel=0.3)
    again = book_parameters(net, np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(again[0], net.weights))


def test_l2_convention() -> None:
    """network3.py adds (λ/2) Σ w² / (n/B) to the mean cost: nnmath's λ' = λ B."""
    assert nnmath_lmbda(0.1) == pytest.approx(1.0)
    assert nnmath_lmbda(0.0) == 0.0


def test_rung_and_work_dir_refused_where_they_do_not_apply(capsys: Any) -> None:
    with pytest.raises(ValueError, match="rung must be one of 1–8"):
        run("nielsen-ch6", quick=True, rung=9)
    with pytest.raises(ValueError, match="nielsen-ch3 has no rungs"):
        run("nielsen-ch3", quick=True, rung=1)
    assert main(["reproduce", "nielsen-ch3", "--rung", "1"]) == 2
    assert "--rung, --work-dir, --backend and --device take one experiment of rungs" in (
        capsys.readouterr().err
    )
    assert main(["reproduce", "nielsen-ch1", "--backend", "torch"]) == 2
    assert "take one experiment of rungs: nielsen-ch6" in capsys.readouterr().err
    assert main(["reproduce", "nielsen-ch6", "--rung", "0"]) == 2
    assert "--rung 0: choose 1–8" in capsys.readouterr().err


def test_one_rung_goes_on_from_its_work_dir(tmp_path: Path, monkeypatch: Any) -> None:
    """A rung run again with the same work folder reads its finished networks back."""
    data = mnist_dir()
    first = run("nielsen-ch6", quick=True, rung=4, work_dir=tmp_path, data_dir=data)
    assert first.quick and len(first.claims) == 1 and first.claims[0].key == "rung-4"
    assert sorted(p.suffix for p in tmp_path.iterdir() if "checkpoint" not in p.name) == [
        ".json",
        ".safetensors",
    ]
    import nnmath.reproduce._ch6_train as train

    def refuse(*args: Any, **kw: Any) -> None:
        raise AssertionError("trained again")

    monkeypatch.setattr(train.Trainer, "_train", refuse)
    again = run("nielsen-ch6", quick=True, rung=4, work_dir=tmp_path, data_dir=data)
    assert again.claims[0].measured == first.claims[0].measured


def test_a_rung_trains_on_another_backend_kept_apart(tmp_path: Path) -> None:
    """``--backend torch``: the book's same initial weights on torch's arrays, the network's
    record and checkpoint named for the backend, beside NumPy's and never mistaken for them."""
    pytest.importorskip("torch", reason="the torch backend needs PyTorch (pip install torch)")
    from nnmath.reproduce._ch6_train import Protocol, Trainer
    from nnmath.reproduce._data import mnist

    on_numpy = build_network(RUNGS[3], (1, 28, 28), 2, "float32")
    on_torch = build_network(RUNGS[3], (1, 28, 28), 2, "float32", "torch", "cpu")
    assert on_torch.backend.name == "torch"
    for a, b in zip(on_numpy.weights, on_torch.weights):
        np.testing.assert_array_equal(a, b.numpy())
    protocol = Protocol(n_train=100, n_test=100, epochs=1, nets=1, backend="torch", device="cpu")
    (record,) = Trainer(mnist(mnist_dir()), protocol, tmp_path).rung(RUNGS[3], 0)["runs"]
    assert record["key"] == "rung4-seed0-100x1-float32-torch-cpu"
    assert (record["backend"], record["device"]) == ("torch", "cpu")
    assert (tmp_path / f"{record['key']}.checkpoint.safetensors").is_file()
    assert len(record["test"]) == 1 and 0.0 <= record["test"][0] <= 1.0


def test_a_backend_that_is_not_here_is_refused_before_the_data(capsys: Any) -> None:
    from nnmath.backend import get_backend

    try:
        get_backend("cupy", None)
    except (ImportError, ValueError, RuntimeError):
        pass
    else:
        pytest.skip("CuPy and a GPU are here: nothing to refuse")
    assert main(["reproduce", "nielsen-ch6", "--backend", "cupy"]) == 2
    err = capsys.readouterr().err
    assert "--backend cupy:" in err and "cupy" in err


def test_plateau_rungs_have_no_quick_run() -> None:
    """Rungs 2, 3, 7 and 8 leave their plateau later than a quick run's 200 steps."""
    with pytest.raises(ValueError, match="rung 7 has no quick run"):
        run("nielsen-ch6", quick=True, rung=7)


def test_a_resumed_rung_keeps_every_epochs_test_accuracy(tmp_path: Path, monkeypatch: Any) -> None:
    """A rung stopped after its second epoch and run again from its work folder records the
    test accuracy of all its epochs (those before the stop too), so the one at the best
    validation epoch exists."""
    import nnmath.network
    from conftest import Interrupt
    from nnmath.reproduce._ch6_train import Protocol, Trainer
    from nnmath.reproduce._data import mnist

    data = mnist(mnist_dir())
    protocol = Protocol(n_train=300, n_test=200, epochs=3, nets=1)
    fit = nnmath.network.Network.fit

    def stopped(self: Any, *args: Any, callbacks: Any = (), **kw: Any) -> Any:
        return fit(self, *args, callbacks=[*callbacks, Interrupt(1)], **kw)

    monkeypatch.setattr(nnmath.network.Network, "fit", stopped)
    with pytest.raises(KeyboardInterrupt):
        Trainer(data, protocol, tmp_path).rung(RUNGS[3], 0)
    monkeypatch.setattr(nnmath.network.Network, "fit", fit)
    (record,) = Trainer(data, protocol, tmp_path).rung(RUNGS[3], 0)["runs"]
    assert len(record["test"]) == len(record["validation"]) == 3
    assert record["test_at_best_validation"] == record["test"][record["best_epoch"] - 1]


def test_a_record_without_its_best_epochs_test_accuracy_is_named() -> None:
    """An older version's record of a resumed run lacks the test accuracy at its best
    validation epoch: the report says which record and what to do, not a TypeError."""
    from nnmath.reproduce.nielsen_ch6 import _measured

    run = {"key": "rung3-seed0-allx60-float32", "best_epoch": 55, "test_at_best_validation": None}
    with pytest.raises(ValueError, match=r"rung3-seed0-allx60-float32\.json .* epoch \(55\)"):
        _measured({"rung": 3, "runs": [run]})
