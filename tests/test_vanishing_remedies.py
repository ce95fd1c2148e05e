"""The vanishing-gradient tools through the remedies: batch normalisation and identity
shortcuts (``nnmath.layers.remedies``), the speed of learning of a batch-normalised layer
(its β's), ``vanishing_factors`` one row per layer of units, ``nnmath vanishing
--batch-norm --residual`` and a sweep's ``batch_norm``/``residual`` grid parameters."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import nnmath as nm
from nnmath.cli import main
from nnmath.data import load_dataset
from nnmath.diagnostics import gradient_norms, speed_index, vanishing_factors
from nnmath.layers import Activation, BatchNorm, Dense, Input, Residual
from nnmath.layers.remedies import REMEDIES, remedied_layers, remedy_name
from nnmath.sweep import Sweep, SweepError, run_task

SIZES = [64, 12, 12, 12, 12, 10]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_dataset("digits").train
    return X[:200], y[:200]


def network(batch_norm: bool, residual: bool, seed: int = 0, dtype: str = "float64") -> nm.Network:
    layers = remedied_layers(SIZES, "sigmoid", "sigmoid", batch_norm=batch_norm, residual=residual)
    return nm.Network(layers, cost="cross_entropy", init="scaled_normal", seed=seed, dtype=dtype)


# ------------------------------------------------------------------ the layers built


def test_the_plain_variant_is_the_sizes_network() -> None:
    layers = remedied_layers(SIZES, "sigmoid", "softmax")
    assert [type(layer) for layer in layers] == [Input, *[Dense] * 5]
    net = nm.Network(layers, cost="log_likelihood", seed=0)
    assert not getattr(net, "layered", False) and net.sizes == SIZES


def test_batch_norm_goes_between_the_weights_and_sigma() -> None:
    layers = remedied_layers(SIZES, "sigmoid", "sigmoid", batch_norm=True)
    kinds = [type(layer) for layer in layers[1:-1]]
    assert kinds == [Dense, BatchNorm, Activation] * 4
    assert all(layer.activation.name == "identity" for layer in layers[1:-1:3])
    assert layers[-1].activation.name == "sigmoid"  # the output is not normalised


def test_a_shortcut_goes_around_each_hidden_layer_as_wide_as_the_one_below() -> None:
    layers = remedied_layers([64, 12, 12, 8, 8, 10], "tanh", "sigmoid", residual=True)
    kinds = [type(layer) for layer in layers[1:-1]]
    assert kinds == [Dense, Residual, Dense, Residual]  # 64→12 and 12→8 change the width
    block = layers[2]
    assert block.activation.name == "identity" and [type(x) for x in block.given] == [Dense]
    both = remedied_layers(SIZES, "sigmoid", "sigmoid", batch_norm=True, residual=True)
    assert [type(x) for x in both[4].given] == [Dense, BatchNorm, Activation]
    assert {remedy_name(*v) for v in REMEDIES.values()} == set(REMEDIES)


def test_every_variant_has_the_plain_networks_layers_of_weights(digits) -> None:
    X, y = digits
    for bn, res in REMEDIES.values():
        net = network(bn, res)
        dense = [layer for layer in net.parametrized if type(layer) is Dense] if bn or res else []
        assert len(dense or net.weights) == len(SIZES) - 1
        assert np.isfinite(net.cost(X, y))


# ------------------------------------------------------------------ speeds of learning


def test_a_batch_normalised_layers_speed_is_its_beta(digits) -> None:
    """The Dense under a BatchNorm gets ∂C/∂b = 0 (b shifts z and μ_B alike): its speed is
    the BatchNorm's β, and the speeds are one per layer of weights."""
    X, y = digits
    net = network(True, False)
    norms = gradient_norms(net, X, y)
    kinds = [type(layer).__name__ for layer in net.parametrized]
    assert kinds == ["Dense", "BatchNorm"] * 4 + ["Dense"]
    for i in range(0, 8, 2):
        assert norms.nabla_b[i] < 1e-12 * norms.nabla_b[i + 1]  # normalised away
    assert norms.index == [1, 3, 5, 7, 8]
    assert norms.speed == [norms.nabla_b[i] for i in (1, 3, 5, 7, 8)]
    assert len(norms.speed) == len(SIZES) - 1 and min(norms.speed) > 0


def test_speeds_of_a_residual_network_are_every_dense_bias(digits) -> None:
    X, y = digits
    net = network(False, True)
    norms = gradient_norms(net, X, y)
    assert speed_index(net) == list(range(len(SIZES) - 1))
    assert norms.speed == norms.nabla_b and min(norms.speed) > 0
    plain = nm.Network(SIZES, activation="sigmoid", cost="cross_entropy", seed=0)
    assert (
        speed_index(plain) is None
        and gradient_norms(plain, X, y).speed == gradient_norms(plain, X, y).nabla_b
    )


def test_each_remedy_keeps_the_first_layer_learning(digits) -> None:
    """The point of the remedies (geometric means over 5 seeds): plain, each sigmoid layer
    learns several times slower than the next; batch-normalised, hidden layers 1–3 learn
    alike (the last one's β, whose error no normalisation above centres, is faster); with
    the shortcuts the first learns within a few times of the last."""
    X, y = digits

    def speeds(bn: bool, res: bool) -> np.ndarray:
        runs = [gradient_norms(network(bn, res, seed), X, y).speed for seed in range(5)]
        return np.exp(np.mean(np.log(runs), axis=0))[:-1]  # the hidden layers

    plain, bn, res = speeds(False, False), speeds(True, False), speeds(False, True)
    assert plain[0] / plain[2] < 0.1
    assert 0.5 < bn[0] / bn[2] < 2
    assert 0.2 < res[0] / res[-1] < 5


# ------------------------------------------------------------------ vanishing_factors


@pytest.mark.parametrize(("bn", "res"), list(REMEDIES.values()))
def test_factors_one_row_per_hidden_layer_and_the_split_is_exact(digits, bn, res) -> None:
    X, y = digits
    f = vanishing_factors(network(bn, res), X, y)
    assert len(f.layers) == len(SIZES) - 2
    for row in f.layers:
        assert row.ratio == pytest.approx(row.weight_factor * row.activation_factor, rel=1e-10)
        assert math.isfinite(row.speed_ratio) and row.speed_ratio > 0
    assert len(f.speeds) == len(SIZES) - 1
    if bn or res:
        assert len(f.speed_layers) == len(f.speeds)
    if res:  # the blocks' σ is the identity: all of the shrinking is in the weights
        assert [r.activation for r in f.layers[1:]] == ["identity"] * 3
        assert all(r.activation_factor == pytest.approx(1.0) for r in f.layers[1:])


def test_a_blocks_weight_factor_is_the_sum_of_its_two_paths(digits) -> None:
    """Through a Residual block the error handed down is δ + J_Fᵀ δ: the weight factor of
    the row below a block is ‖δ + J_Fᵀδ‖/‖δ‖, computed here from the block's own F path."""
    X, y = digits
    net = network(False, True)
    f = vanishing_factors(net, X, y)
    x, t = X.T.astype(np.float64), net.check_targets(y, len(y)).T
    g = net.backprop_columns(x, t)
    top = 4  # the last block, layers[4] (l = 5): the row of l = 4 below it
    block, cache, delta = net.layers[top], g.caches[top - 1], g.deltas[top - 1]
    g_F = block.backward_F(delta, cache).g
    expected = np.linalg.norm(delta + g_F) / np.linalg.norm(g.deltas[top - 1])
    row = next(r for r in f.layers if r.layer == top)
    assert row.weight_factor == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------ the command line


def test_vanishing_command_measures_each_remedy_beside_the_plain_network(tmp_path, capsys):
    png = tmp_path / "remedies.png"
    argv = ["vanishing", "--dataset", "digits", "--subset", "200", "--seeds", "2"]
    argv += ["--sizes", ",".join(map(str, SIZES)), "--batch-norm", "--residual"]
    code = main([*argv, "--plot", str(png), "--json"])
    assert code == 0 and png.stat().st_size > 1000
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["remedy"] for r in results] == ["plain", "batch_norm", "residual"]
    assert [r["label"].split(" +")[-1] for r in results[1:]] == ["batch_norm", "residual"]
    assert results[0]["book"] is None and all(len(r["mean"][0]) == 4 for r in results)
    first_over_last = [r["mean"][0][0] / r["mean"][0][-1] for r in results]
    assert first_over_last[0] < 0.05 < first_over_last[2]
    code = main([*argv, "--epochs", "1", "--batch-size", "50", "--markdown", "--factors"])
    out = capsys.readouterr().out
    assert code == 0 and "| 64,12,12,12,12,10 +batch_norm | sigmoid |" in out
    assert out.count("why it vanishes:") == 3 and "+residual (seed 0" in out


def test_vanishing_command_without_the_flags_is_unchanged(capsys):
    argv = ["vanishing", "--dataset", "digits", "--subset", "100", "--json"]
    assert main([*argv, "--sizes", "64,12,12,10"]) == 0
    (r,) = json.loads(capsys.readouterr().out)["results"]
    assert r["remedy"] == "plain" and r["label"] == "64,12,12,10 sigmoid scaled_normal"


# ------------------------------------------------------------------ sweeps


def test_sweep_grid_takes_the_remedies_as_booleans(tmp_path: Path) -> None:
    sweep = Sweep.create(
        "vanishing",
        subset=100,
        depth=[3],
        batch_norm=[False, True],
        residual=[False, True],
        epochs=1,
    )
    assert sweep.n_tasks == 4 and {"batch_norm", "residual"} <= set(sweep.columns())
    plain = Sweep.create("vanishing", subset=100, depth=[3], epochs=1)  # as before the remedies
    assert not {"batch_norm", "residual"} & (set(plain.columns()) | set(plain.tasks()[0].params))
    rows = {(t.params["batch_norm"], t.params["residual"]): run_task(t) for t in sweep.tasks()}
    plain, bn = rows[(False, False)], rows[(True, False)]
    assert len(plain["speeds"][0]) == len(bn["speeds"][0]) == 4  # 3 hidden layers + output
    assert rows[(False, True)]["speed_l1"] > 10 * plain["speed_l1"]
    with pytest.raises(SweepError, match="bad value 'yes' for batch_norm: expected true or false"):
        Sweep.create("vanishing", batch_norm=["yes"])
    with pytest.raises(SweepError, match="batch_norm does not apply to layers"):
        Sweep.create("train", layers=["dense(10,softmax)"], batch_norm=[True])


def test_sweep_command_flag_puts_both_sides_in_the_grid(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep.csv"
    argv = ["sweep", "vanishing", "--residual", "--depth", "2", "--dataset", "digits"]
    argv += ["--subset", "100", "--epochs", "0", "--out", str(out), "--json"]
    assert main(argv) == 0
    text = out.read_text()
    header = text.splitlines()[0].split(",")
    assert "residual" in header and len(text.strip().splitlines()) == 3  # header + 2 rows
