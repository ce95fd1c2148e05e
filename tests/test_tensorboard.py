"""TensorBoard: the per-layer statistics (nnmath.diagnostics.layers), the callback's event files
read back with TensorBoard's own EventAccumulator against the History, and --tensorboard on
`nnmath train`, `nnmath vanishing` and `nnmath sweep`."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import nnmath as nm
from nnmath.activations import ACTIVATIONS
from nnmath.callbacks import TensorBoard
from nnmath.callbacks.tensorboard import HISTOGRAMS, LAYER_SCALARS
from nnmath.cli import main
from nnmath.diagnostics import gradient_norms, layer_statistics
from nnmath.engine import c_available

pytest.importorskip("tensorboardX", reason="the TensorBoard callback writes with tensorboardX")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the files are read back with TensorBoard's EventAccumulator",
)

EPOCHS = 3


def read(logdir):
    ea = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0}
    )
    ea.Reload()
    return ea


def scalars(ea, tag):
    return [(e.step, e.value) for e in ea.Scalars(tag)]


def layout_charts(ea) -> dict[str, list[str]]:
    """The custom-scalar layout the run wrote: chart title -> its tags."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    event = ea.Tensors("custom_scalars__config__")[0]
    layout = layout_pb2.Layout.FromString(event.tensor_proto.string_val[0])
    return {
        chart.title: list(chart.multiline.tag) for cat in layout.category for chart in cat.chart
    }


@pytest.fixture(scope="module")
def digits():
    return nm.data.load_digits()


@pytest.fixture(scope="module")
def run(digits, tmp_path_factory):
    """A float64 run with validation data, training accuracy and track_gradients, and its
    TensorBoard files (measured on the same first 1,000 rows as the tracker)."""
    logdir = tmp_path_factory.mktemp("tb") / "run"
    net = nm.Network([64, 16, 12, 10], seed=0, dtype="float64")
    history = net.fit(
        *digits.train,
        epochs=EPOCHS,
        mini_batch_size=10,
        eta=0.5,
        validation_data=digits.validation,
        monitor_training_accuracy=True,
        track_gradients=True,
        seed=0,
        callbacks=[TensorBoard(logdir)],
    )
    return net, history, read(logdir)


# ---------------------------------------------------------------- the statistics


def test_layer_statistics_match_gradient_norms_and_the_registry(digits) -> None:
    X, y = digits.train[0][:200], digits.train[1][:200]
    net = nm.Network([64, 20, 10], activation="tanh", output_activation="sigmoid", seed=1)
    stats = layer_statistics(net, X, y, arrays=True)
    norms = gradient_norms(net, X, y)
    assert stats.nabla_b == norms.nabla_b and stats.nabla_w == norms.nabla_w
    assert stats.layers == [2, 3] and stats.activations == ["tanh", "sigmoid"]
    assert stats.cost == pytest.approx(net.cost(X, y), rel=1e-5)
    assert stats.accuracy == pytest.approx(net.accuracy(X, y))
    for i, act in enumerate(net.activation_functions):
        prime = np.asarray(act.prime(stats.arrays["z"][i]))
        np.testing.assert_array_equal(stats.arrays["sigma_prime"][i], prime)
        assert stats.mean_prime[i] == pytest.approx(float(prime.mean()))
        top = ACTIVATIONS[act.name].max_prime  # the registry's bound, not a table here
        assert stats.saturated[i] == pytest.approx(float(np.mean(prime < 0.01 * top)))
    assert [a.shape for a in stats.arrays["W"]] == [W.shape for W in net.weights]
    assert [d.shape for d in stats.arrays["delta"]] == [(20, 200), (10, 200)]


def test_dead_relus_and_saturated_sigmoids_are_counted() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 4)), rng.integers(0, 3, 50)
    net = nm.Network(
        [4, 5, 6, 3], activation=["relu", "sigmoid"], output_activation="softmax", seed=0
    )
    net.weights[0][:] = np.abs(net.weights[0])
    net.biases[0][:] = 1.0  # every ReLU fires on inputs in [0, 1) ...
    net.biases[0][:2] = -100.0  # ... but two of the five, which never do
    net.weights[1][:] = 0.0
    net.biases[1][:3] = 50.0  # three of six sigmoids pinned at 1: σ' = 0 in float64 too
    stats = layer_statistics(net, X, y)
    assert stats.dead[0] == pytest.approx(2 / 5)
    assert stats.dead[1] == pytest.approx(3 / 6)
    assert stats.saturated[1] == pytest.approx(3 / 6)  # σ' < 1 % of 1/4 on those units only
    assert stats.saturated[0] >= 2 / 5 and stats.dead[2] == 0.0


# ---------------------------------------------------------------- the callback's files


def test_per_layer_scalars_equal_the_history(run) -> None:
    net, history, ea = run
    if c_available():
        assert history.extra["train_path"] == "c"  # per epoch: the compiled epoch
    tags = set(ea.Tags()["scalars"])
    layers = range(2, len(net.sizes) + 1)
    assert {f"{p}/l{l}" for p in LAYER_SCALARS for l in layers} <= tags
    speeds = np.array(history.extra["gradient_norms"]["nabla_b"])  # (epochs + 1, layers)
    for j, l in enumerate(layers):
        steps, values = zip(*scalars(ea, f"nabla_b/l{l}"))
        assert steps == tuple(range(EPOCHS + 1))  # step 0: before training
        np.testing.assert_allclose(values, speeds[:, j], rtol=1e-6)  # stored as float32
    w_speeds = np.array(history.extra["gradient_norms"]["nabla_w"])
    np.testing.assert_allclose([v for _, v in scalars(ea, "nabla_w/l2")], w_speeds[:, 0], 1e-6)
    final = layer_statistics(net, *(a[:1000] for a in nm.data.load_digits().train))
    for prefix, (field, _) in LAYER_SCALARS.items():
        last = [scalars(ea, f"{prefix}/l{l}")[-1][1] for l in layers]
        np.testing.assert_allclose(last, getattr(final, field), rtol=1e-6, atol=1e-12)


def test_costs_accuracies_and_eta_equal_the_history(run) -> None:
    _, history, ea = run
    for tag, values in {
        "cost/training": history.training_cost,
        "cost/validation": history.validation_cost,
        "accuracy/training": history.training_accuracy,
        "accuracy/validation": history.validation_accuracy,
        "eta": history.extra["eta"],
        "time/epoch": history.epoch_time,
    }.items():
        steps, got = zip(*scalars(ea, tag))
        assert steps == tuple(range(1, EPOCHS + 1)), tag
        np.testing.assert_allclose(got, values, rtol=1e-6, err_msg=tag)


def test_histograms_of_every_layer(run) -> None:
    net, _, ea = run
    rows = 1000
    for l, (W, n_l) in enumerate(zip(net.weights, net.sizes[1:]), start=2):
        for prefix in HISTOGRAMS:
            events = ea.Histograms(f"{prefix}/l{l}")
            assert [e.step for e in events] == list(range(EPOCHS + 1)), prefix
            expected = W.size if prefix == "W" else n_l * rows
            assert events[-1].histogram_value.num == expected, prefix
        w_last = ea.Histograms(f"W/l{l}")[-1].histogram_value
        assert w_last.min == pytest.approx(W.min()) and w_last.max == pytest.approx(W.max())


def test_custom_scalar_layout_puts_all_layers_in_one_chart(run) -> None:
    net, _, ea = run
    charts = layout_charts(ea)
    layers = range(2, len(net.sizes) + 1)
    for prefix, (_, title) in LAYER_SCALARS.items():
        assert charts[title] == [f"{prefix}/l{l}" for l in layers]
    assert charts["cost"] == ["cost/training", "cost/validation"]


def test_a_resumed_run_continues_the_same_curves(digits, tmp_path) -> None:
    X, y = digits.train[0][:300], digits.train[1][:300]
    kw = dict(epochs=2, mini_batch_size=20, eta=0.5, seed=0, checkpoint=tmp_path / "ck")
    net = nm.Network([64, 12, 10], seed=0)
    net.fit(X, y, **kw, callbacks=[TensorBoard(tmp_path / "tb", histograms=False)])
    kw["epochs"] = 4
    h = net.fit(X, y, **kw, resume=True, callbacks=[TensorBoard(tmp_path / "tb", histograms=False)])
    ea = read(tmp_path / "tb")
    assert [s for s, _ in scalars(ea, "nabla_b/l2")] == [0, 1, 2, 3, 4]
    steps, costs = zip(*scalars(ea, "cost/training"))
    assert steps == (1, 2, 3, 4)
    np.testing.assert_allclose(costs, h.training_cost, rtol=1e-6)


def test_without_tensorboardX_the_error_names_the_extra(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'nnmath\[tensorboard\]'"):
        TensorBoard(tmp_path)
    code = main(["train", "--epochs", "1", "--tensorboard", str(tmp_path / "tb"), "-q"])
    assert code == 2 and not (tmp_path / "tb").exists()
    assert "pip install 'nnmath[tensorboard]'" in capsys.readouterr().err


def test_a_file_as_logdir_is_refused(tmp_path) -> None:
    (tmp_path / "f").write_text("")
    net = nm.Network([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="is a file"):
        net.fit(np.zeros((4, 4)), [0, 1, 0, 1], epochs=1, callbacks=[TensorBoard(tmp_path / "f")])


# ---------------------------------------------------------------- the command line


def test_vanishing_tensorboard_writes_one_run_per_network(tmp_path, capsys) -> None:
    out = tmp_path / "runs"
    args = ["vanishing", "--dataset", "digits", "--subset", "200", "--seeds", "2"]
    assert main([*args, "--sizes", "64,20,20,10", "--tensorboard", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"64x20x20x10-sigmoid-scaled_normal-seed{s}" for s in (0, 1)]
    for seed, name in enumerate(names):
        ea = read(out / name)
        got = [scalars(ea, f"nabla_b/l{l}") for l in (2, 3, 4)]
        assert all(len(s) == 1 and s[0][0] == 0 for s in got)  # at initialisation: step 0
        hidden = [s[0][1] for s in got[:2]]  # the speeds the command printed, same rows
        np.testing.assert_allclose(hidden, result["initial_per_seed"][seed], rtol=1e-6)
        assert "sigma_prime/l2" in ea.Tags()["histograms"]


def test_vanishing_tensorboard_during_training(tmp_path, capsys) -> None:
    out = tmp_path / "runs"
    args = ["vanishing", "--dataset", "digits", "--subset", "100", "--sizes", "64,10,10"]
    assert (
        main([*args, "--epochs", "2", "--batch-size", "50", "--tensorboard", str(out), "-q"]) == 0
    )
    capsys.readouterr()
    (run_dir,) = out.iterdir()
    ea = read(run_dir)
    assert [s for s, _ in scalars(ea, "nabla_b/l2")] == [0, 1, 2]
    assert [s for s, _ in scalars(ea, "cost/training")] == [1, 2]


def test_train_tensorboard(tmp_path, capsys) -> None:
    out = tmp_path / "tb"
    assert main(["train", "--epochs", "2", "--tensorboard", str(out), "--json"]) == 0
    capsys.readouterr()
    ea = read(out)
    assert {"nabla_b/l2", "nabla_b/l3", "dead/l2", "cost/validation"} <= set(ea.Tags()["scalars"])
    assert "delta/l3" in ea.Tags()["histograms"]


def test_train_refuses_a_file_as_tensorboard_folder(tmp_path, capsys) -> None:
    (tmp_path / "f").write_text("")
    assert main(["train", "--epochs", "1", "--tensorboard", str(tmp_path / "f")]) == 2
    assert "--tensorboard" in capsys.readouterr().err


def test_sweep_tensorboard_writes_one_run_per_task(tmp_path, capsys) -> None:
    out = tmp_path / "runs"
    args = ["sweep", "vanishing", "--activation", "sigmoid,relu", "--depth", "2", "--width", "8"]
    args += ["--epochs", "1", "--subset", "100", "--jobs", "1", "--out", str(tmp_path / "s.csv")]
    assert main([*args, "--tensorboard", str(out), "--json"]) == 0
    capsys.readouterr()
    result = nm.sweep.read_results(tmp_path / "s.csv")
    runs = sorted(p.name for p in out.iterdir())
    assert len(runs) == len(result) == 2
    for row in result:
        (name,) = [r for r in runs if r.endswith(row["key"][:8])]
        assert name.startswith(f"{row['activation']}-depth2-w8-")
        ea = read(out / name)
        speeds = [[v for _, v in scalars(ea, f"nabla_b/l{l}")] for l in (2, 3, 4)]
        np.testing.assert_allclose(np.array(speeds).T, row["speeds"], rtol=1e-5)
