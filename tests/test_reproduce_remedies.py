"""``nnmath reproduce ioffe2015`` and ``he2016``: their networks are the papers', their
measurements do what they say, their schedule is torch's, their figures read. (The quick
runs themselves are in test_reproduce.py, with every other experiment's.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnmath.layers import Activation, BatchNorm, Dense, Residual
from nnmath.reproduce import Report
from nnmath.reproduce import he2016 as he
from nnmath.reproduce import ioffe2015 as io
from nnmath.reproduce import plot as plot_reproduction

# ------------------------------------------------------------------ ioffe2015


def test_ioffe_networks_start_from_the_same_small_gaussian_weights() -> None:
    plain, bn = io.build(False, 3), io.build(True, 3)
    dense = [layer for layer in bn.parametrized if type(layer) is Dense]
    assert [type(layer) for layer in bn.layers[1:4]] == [Dense, BatchNorm, Activation]
    assert len(dense) == len(plain.weights) == 4
    for W, b, layer in zip(plain.weights, plain.biases, dense, strict=True):
        np.testing.assert_array_equal(W, layer.W)
        assert not np.any(b) and not np.any(layer.b)
    W = np.concatenate([w.ravel() for w in plain.weights])
    assert abs(W.std() / io.SIGMA - 1) < 0.02 and abs(W.mean()) < 1e-3
    assert plain.sizes == [784, 100, 100, 100, 10] and bn.layers[-1].activation.name == "softmax"


def test_ioffe_sigmoid_inputs_are_z_without_and_the_normalised_z_with() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((7, 784)).astype(np.float32)
    plain, bn = io.build(False, 0), io.build(True, 0)
    z = io.sigmoid_inputs(plain, X)
    expected = plain.weights[2] @ plain.forward(X.T)[1][2]  # z^4 = W a^3 (b = 0)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-7)
    zn = io.sigmoid_inputs(bn, X)  # running mean 0, variance 1, γ = 1, β = 0 at the start
    dense3 = bn.layers[7]
    a2 = bn.forward(X.T)[1][6]
    np.testing.assert_allclose(zn, dense3.W @ a2 / np.sqrt(1 + 1e-5), rtol=1e-4, atol=1e-7)
    assert z.shape == zn.shape == (100, 7)


def test_ioffe_batches_are_epochs_of_permutations_cut_into_chunks() -> None:
    chunks = io._batches(1000, 40, 10, seed=1)  # 40 steps of 60 rows: 2.4 epochs
    assert len(chunks) == 4 and all(len(c) == 600 for c in chunks)
    order = np.concatenate(chunks)
    assert sorted(order[:1000]) == list(range(1000)) and sorted(order[1000:2000]) == list(
        range(1000)
    )
    assert np.array_equal(order, np.concatenate(io._batches(1000, 40, 10, seed=1)))


def test_ioffe_drift_and_first_step() -> None:
    steps = [100, 200, 300]
    per = np.zeros((3, 3, 2))  # entries, percentiles, units
    per[:, :, 1] = [[0, 0, 0], [1, 1, 1], [2, 3, 4]]  # unit 1 moves; unit 0 does not
    np.testing.assert_allclose(io.drift(per, steps, 200), [0.0, 2.0])
    run = {"steps": steps, "test": [0.5, 0.96, 0.97]}
    assert io.first_step(run) == 200 and io.first_step(run, 0.99) is None
    assert io._first([run, {**run, "test": [0.1] * 3}], 0.95, never=400) == 300.0


def test_ioffe_drift_table_three_ways() -> None:
    series = _ioffe_series()["runs"]
    runs = {bn: series[label] for bn, label in io.LABELS.items()}
    table = io._drift_table(runs, {"start": 1000})
    assert table.columns[1:3] == ["from step 1,000", "from step 500"]
    without, with_bn = (row[1:] for row in table.rows)
    # the 85th percentile rises 0.1 a measurement (with BN the 15th falls as much, too)
    assert [float(c) for c in without[:2]] == pytest.approx([0.8 / 3, 0.9 / 3], abs=1e-3)
    assert float(with_bn[0]) == pytest.approx(1.6 / 3, abs=1e-3)
    assert float(without[2]) == pytest.approx(0.8 / 3 / 2.9, abs=1e-3)  # spread 2.9 at the end


# ------------------------------------------------------------------ he2016


@pytest.mark.parametrize("kind", he.KINDS)
def test_he_networks_have_depth_layers_of_weights(kind: str) -> None:
    net = he.build(kind, 10, 0)
    dense = [layer for layer in net.parametrized if type(layer) is Dense]
    norms = [layer for layer in net.parametrized if type(layer) is BatchNorm]
    assert len(dense) == 10 and len(norms) == 9 and net.init == "he"
    blocks = [layer for layer in net.layers if type(layer) is Residual]
    assert len(blocks) == (4 if kind == "residual" else 0)
    X = np.random.default_rng(0).random((20, 784))
    assert len(he.speeds(net, X, np.arange(20) % 10)) == 9


def test_he_milestones_are_torchs_multistep_schedule() -> None:
    torch = pytest.importorskip("torch")
    schedule, epochs = he.Milestones(), 12
    name, kwargs = schedule.torch_twin(epochs)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)
    for epoch in range(epochs):
        assert schedule.eta(0.1, epoch, epochs) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert [schedule.eta(1.0, e, 12) for e in (5, 6, 8, 9)] == pytest.approx([1, 0.1, 0.1, 0.01])


# ------------------------------------------------------------------ figures


def _ioffe_series() -> dict[str, Any]:
    steps = list(range(500, 5001, 500))
    runs = {}
    for k, label in enumerate(io.LABELS.values()):
        per = [[[-1.0 - k * e / 10] * 3, [0.0] * 3, [1.0 + e / 10] * 3] for e in range(10)]
        test = [0.9 + 0.005 * e * (k + 1) for e in range(len(steps))]
        runs[label] = [{"seed": 0, "steps": steps, "test": test, "percentiles": per}]
    return {"runs": runs, "unit": 1, "start": 1000, "eta": 1.0}


def _he_series() -> dict[str, Any]:
    runs = {}
    for kind in he.KINDS:
        for depth in he.DEPTHS:
            scale = {"plain": 2.0, "residual": 0.5}[kind] * depth / 10
            err = [0.5 / (e + 1) * scale for e in range(6)]
            speeds = [list(np.geomspace(scale, 0.1, depth - 1)), [0.3] * (depth - 1)]
            runs[f"{kind}-{depth}"] = [{"seed": 0, "train_error": err, "speeds": speeds}]
    return {"runs": runs, "epochs": 6}


def test_reproduction_figures_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No text leaves the canvas or lies on another (measured as each figure is saved)."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from _layout import layout_problems

    problems: dict[str, list[str]] = {}
    real = Figure.savefig

    def savefig(fig: Any, fname: Any, *args: Any, **kwargs: Any) -> Any:
        problems[fig._suptitle.get_text()[:12]] = layout_problems(fig)
        return real(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    for name, series in (("ioffe2015", _ioffe_series()), ("he2016", _he_series())):
        report = Report(name, "a title", "a source", "p", quick=True, seeds=[0], series=series)
        (path,) = plot_reproduction(report, tmp_path)
        assert path.stat().st_size > 10_000
    plt.close("all")
    assert problems == {"Ioffe & Szeg": [], "He et al. 20": []}
