"""The playground's toggles, batch normalisation and residual connections: the configuration,
the network of layers they build, what its snapshots carry (against the network itself),
training, hot changes, exports, and the speeds of learning they bring together (measured)."""

from __future__ import annotations

import base64
import csv
import io

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground needs the extra nnmath[playground]")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

import nnmath as nm  # noqa: E402
from nnmath.diagnostics import gradient_norms, trace  # noqa: E402
from nnmath.layers import Activation, BatchNorm, Dense, Dropout, Residual  # noqa: E402
from nnmath.network import Network  # noqa: E402
from nnmath.playground import ConfigError, parse_config  # noqa: E402
from nnmath.playground.export import has_onnx  # noqa: E402
from nnmath.playground.layered import plan_of  # noqa: E402
from nnmath.playground.server import create_app  # noqa: E402
from nnmath.playground.session import build_network  # noqa: E402
from nnmath.playground.snapshot import CURVE, Grid  # noqa: E402
from nnmath.playground.training import hot_change  # noqa: E402
from test_playground import PORT, Page, floats, reference, start, until  # noqa: E402

# widths 5, 5, 4, 4: the second and fourth hidden layers have an identity path, the third not
BOTH = {
    "data": "moons",
    "points": 120,
    "layers": [5, 5, 4, 4],
    "activations": ["sigmoid"],
    "optimizer": "sgd",
    "eta": 0.3,
    "batch_norm": True,
    "residual": True,
}
# the browser test's network: eight sigmoid layers on the spiral, plain SGD (Nielsen, ch. 5)
EIGHT = {
    "data": "spiral",
    "layers": "8,8,8,8,8,8,8,8",
    "activations": "sigmoid",
    "optimizer": "sgd",
    "eta": "0.1",
}


@pytest.fixture
def client():
    with Page(create_app(port=PORT)) as c:
        yield c


# ------------------------------------------------------------------ configuration and network


def test_the_toggles_from_json_and_from_the_url():
    assert parse_config({}).batch_norm is False and parse_config({}).residual is False
    c = parse_config({"batch_norm": True, "residual": "true"})
    assert c.batch_norm is True and c.residual is True
    c = parse_config({"batch_norm": "false", "residual": "1"})
    assert c.batch_norm is False and c.residual is True


@pytest.mark.parametrize("raw", [{"batch_norm": "yes"}, {"residual": 2}, {"residual": None}])
def test_a_toggle_that_is_not_true_or_false_is_refused(raw):
    ((key, value),) = raw.items()
    with pytest.raises(ConfigError, match=f"{key} is a toggle: true or false, got {value!r}"):
        parse_config(raw)


def test_without_the_toggles_the_network_is_todays_compiled_one():
    c = parse_config({"layers": [5, 4], "activations": ["tanh"]})
    net = build_network(c, 2)
    assert type(net) is Network and not getattr(net, "layered", False)
    same = Network(
        [2, 5, 4, 2], activation=["tanh", "tanh", "softmax"], cost=c.cost, init=c.init, seed=c.seed
    )
    for W, V in zip(net.weights, same.weights, strict=True):
        np.testing.assert_array_equal(W, V)


def test_the_layers_the_toggles_build_and_where_the_page_finds_its_numbers():
    c = parse_config({**BOTH, "dropout": 0.2})
    net = build_network(c, 2)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == [
        "Input",
        "Dense",
        "BatchNorm",
        "Activation",
        "Dropout",  # layer 2: from the inputs
        "Residual",
        "Dropout",  # layer 3: as wide as layer 2
        "Dense",
        "BatchNorm",
        "Activation",
        "Dropout",  # layer 4: 4 units, no identity path
        "Residual",
        "Dropout",  # layer 5
        "Dense",
    ]
    block = net.layers[5]
    assert [type(inner) for inner in block.layers] == [Dense, BatchNorm]
    assert block.activation.name == "sigmoid"
    plan = plan_of(c, 2)
    assert plan.sizes == [2, 5, 5, 4, 4, 2]
    assert plan.residual == [False, True, False, True] and plan.batch_norm == [True] * 4
    shapes = [W.shape for W in net.weights]
    assert [shapes[i] for i in plan.dense] == [(5, 2), (5, 5), (4, 5), (4, 4), (2, 4)]
    assert [shapes[i] for i in plan.speed] == [(5,), (5,), (4,), (4,), (2, 4)]
    assert all(type(net.parametrized[i]) is BatchNorm for i in plan.speed[:-1])
    rows = [type(net.layers[r + 1]) for r in plan.rows]
    assert rows == [Activation, Residual, Activation, Residual, Dense]
    bn_only = build_network(parse_config({**BOTH, "residual": False}), 2)
    assert not any(isinstance(layer, Residual) for layer in bn_only.layers)
    res_only = build_network(parse_config({**BOTH, "batch_norm": False}), 2)
    assert not any(isinstance(layer, BatchNorm | Dropout) for layer in res_only.layers)
    assert [type(inner) for inner in res_only.layers[2].layers] == [Dense]


# ------------------------------------------------------------------ the page's numbers


def test_snapshots_carry_the_dense_weights_speeds_and_maps_of_the_network(client):
    with client.websocket_connect("/ws") as ws:
        _, built, first = start(ws, BOTH)
        for _ in range(2):
            ws.send_json({"type": "epoch"})
            snap = until(ws, "snapshot", "paused")
    assert built["sizes"] == [2, 5, 5, 4, 4, 2]
    assert built["blocks"] == {"batch_norm": [True] * 4, "residual": [False, True, False, True]}
    assert snap["epoch"] == 2 and snap["weights"] != first["weights"]
    net, history, data = reference(BOTH, epochs=2)
    assert snap["train_cost"] == history.training_cost[-1]
    assert snap["test_accuracy"] == history.validation_accuracy[-1]
    plan = plan_of(parse_config(BOTH), 2)
    for i, sent in zip(plan.dense, snap["weights"], strict=True):
        np.testing.assert_array_equal(floats(sent), np.ravel(net.weights[i]))
    for i, sent in zip(plan.dense, snap["biases"], strict=True):
        np.testing.assert_array_equal(floats(sent), net.biases[i])
    norms = gradient_norms(net, data.X_train, data.y_train).nabla_b
    assert snap["speeds"] == [norms[i] for i in plan.speed]
    grid = Grid(data.bounds(), ["x1", "x2"])
    _, activations = net.forward(net.check_inputs(grid.points).T)  # running statistics
    cls = np.frombuffer(base64.b64decode(snap["regions"]["cls"]), dtype=np.uint8)
    np.testing.assert_array_equal(cls, np.argmax(activations[-1], axis=0))
    assert len(snap["units"]) == 4
    for r, sent in zip(plan.rows, snap["units"]):
        a = activations[r + 1][:, grid.coarse]
        assert sent["min"] == a.min(axis=1).tolist() and sent["max"] == a.max(axis=1).tolist()


def test_a_unit_trace_reset_and_exports_of_a_network_of_layers(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        sid, _, first = start(ws, BOTH)
        ws.send_json({"type": "epoch"})
        until(ws, "snapshot", "paused")
        ws.send_json({"type": "unit", "layer": 3, "unit": 1})  # a residual block's unit
        unit = until(ws, "unit")
        ws.send_json({"type": "trace", "split": "train", "index": 0})
        traced = until(ws, "trace")
        model = client.get(f"/api/session/{sid}/model.safetensors")
        table = client.get(f"/api/session/{sid}/history.csv")
        onnx_file = client.get(f"/api/session/{sid}/model.onnx")
        ws.send_json({"type": "reset"})
        again = until(ws, "snapshot", "paused")
    assert again["weights"] == first["weights"] and again["step"] == 0
    net, history, data = reference(BOTH, epochs=1)
    plan = plan_of(parse_config(BOTH), 2)
    expected = trace(net, data.X_train[0], int(data.y_train[0]))
    block = expected.layers[plan.rows[1]]  # the block's z = a^2 + BN(W^3 a^2 + b^3), a = σ(z)
    assert (unit["z"], unit["a"], unit["delta"]) == (block.z[1], block.a[1], block.delta[1])
    assert unit["activation"] == "sigmoid"
    np.testing.assert_allclose(unit["weights"], net.weights[plan.dense[1]][1], rtol=1e-6)
    assert [row["kind"].split("(")[0] for row in traced["trace"]["layers"]][:4] == [
        "Dense",
        "BatchNorm",
        "Activation",
        "Residual",
    ]
    (tmp_path / "m.safetensors").write_bytes(model.content)
    loaded = nm.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.feedforward(data.X_test), net.feedforward(data.X_test))
    rows = list(csv.DictReader(io.StringIO(table.text)))
    speeds = [k for k in rows[0] if k.startswith("speed_l")]
    assert speeds == [f"speed_l{l}" for l in range(2, 7)]  # one per layer: β's, then b^L's
    tracked = history.extra["gradient_norms"]["nabla_b"][1]
    assert [float(rows[0][k]) for k in speeds] == [tracked[i] for i in plan.speed]
    assert onnx_file.status_code == (200 if has_onnx() else 409)
    if onnx_file.status_code == 200:  # BatchNormalization, and a block's Add then σ
        ort = pytest.importorskip("onnxruntime", reason="onnxruntime reads the ONNX file back")
        s = ort.InferenceSession(onnx_file.content)
        out = s.run(None, {s.get_inputs()[0].name: data.X_test.astype(np.float32)})[0]
        np.testing.assert_allclose(out, net.feedforward(data.X_test), rtol=1e-4, atol=1e-5)


def test_hot_changes_keep_a_network_of_layers_and_its_dropout_layers(client):
    config = {**BOTH, "dropout": 0.1}
    with client.websocket_connect("/ws") as ws:
        start(ws, config)
        ws.send_json({"type": "epoch"})
        until(ws, "snapshot", "paused")
        ws.send_json({"type": "config", "config": {**config, "eta": 0.05, "dropout": 0.3}})
        retuned = until(ws, "retuned")
        snap = until(ws, "snapshot", "paused")
        (session,) = client.app.state.playground.sessions.values()
        ps = [layer.p for layer in session.net.layers if isinstance(layer, Dropout)]
        ws.send_json({"type": "config", "config": {**config, "dropout": 0.0}})
        rebuilt = until(ws, "built")  # Dropout layers come out: a new network
    assert sorted(retuned["changed"]) == ["dropout", "eta"] and snap["epoch"] == 1
    assert ps == [0.3] * 4
    assert rebuilt["config"]["dropout"] == 0.0
    old, new = parse_config(config), parse_config({**config, "dropout": 0.0})
    assert hot_change(old, new) is None and hot_change(old, parse_config(config)) == []
    dense = parse_config({**config, "batch_norm": False, "residual": False})
    assert hot_change(dense, parse_config({**BOTH, "batch_norm": False, "residual": False}))


def test_a_network_of_layers_that_diverges_is_said_to(client):
    config = {**BOTH, "batch_norm": False, "optimizer": "adam", "eta": 50, "activations": ["relu"]}
    with client.websocket_connect("/ws") as ws:
        start(ws, config)
        for _ in range(3):
            ws.send_json({"type": "epoch"})
            snap = until(ws, "snapshot", "paused")
            if snap["diverged"]:
                break
    assert snap["diverged"].startswith("the run diverged") and "η = 50" in snap["diverged"]


# ------------------------------------------------------------------ the cure, measured


def first_over_last(extra: dict, epochs: int) -> float:
    """|log10| of the first hidden layer's speed over the last's after ``epochs`` epochs: 0
    when the eight layers learn alike, the orders of magnitude between them otherwise."""
    net, _, data = reference({**EIGHT, **extra, "points": 200}, epochs)
    speeds = gradient_norms(net, data.X_train, data.y_train).nabla_b
    s = [speeds[i] for i in plan_of(parse_config({**EIGHT, **extra}), 2).speed]
    return abs(float(np.log10(s[0] / s[7])))


def test_batch_norm_and_residual_paths_bring_the_speeds_of_learning_together():
    plain = first_over_last({}, 3)
    bn = first_over_last({"batch_norm": True}, 3)
    res = first_over_last({"residual": True}, 3)
    assert plain > 3  # eight sigmoid layers: the first learns orders of magnitude slower
    assert bn < plain / 3, (plain, bn)
    assert res < plain, (plain, res)  # the identity path helps, σ' ≤ ¼ still shrinks


def test_a_regression_network_with_both_toggles_trains_and_draws_its_curve(client):
    config = {
        "data": "sine",
        "output": "identity",
        "cost": "quadratic",
        "features": ["x1"],
        "layers": [6, 6],
        "activations": ["tanh"],
        "batch_norm": True,
        "residual": True,
    }
    with client.websocket_connect("/ws") as ws:
        _, built, first = start(ws, config)
        for _ in range(3):
            ws.send_json({"type": "epoch"})
            snap = until(ws, "snapshot", "paused")
    assert built["kind"] == "regression" and built["blocks"]["residual"] == [False, True]
    assert len(floats(snap["regions"]["values"])) == CURVE
    assert snap["train_cost"] < first["train_cost"]
    assert len(snap["speeds"]) == 3 and all(s > 0 for s in snap["speeds"])


def test_the_toggled_network_goes_to_torch_and_back_with_its_running_statistics():
    torch = pytest.importorskip("torch")
    net, _, data = reference(BOTH, epochs=2)  # BatchNorm inside residual blocks and outside
    module = nm.to_torch(net).eval()
    out = module(torch.tensor(data.X_test, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(out, net.feedforward(data.X_test), rtol=1e-5, atol=1e-6)
    back = nm.from_torch(module)
    np.testing.assert_array_equal(back.feedforward(data.X_test), net.feedforward(data.X_test))
