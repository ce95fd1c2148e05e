"""The playground's run while it trains (Starlette's test client, as the page): back-pressure
(a snapshot only after the page has drawn the last), the pace, settings taken by the running
network, the divergence verdict, input features and regression data sets."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest

import nnmath as nm

pytest.importorskip("starlette", reason="the playground needs the extra nnmath[playground]")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

from nnmath.playground.server import create_app  # noqa: E402
from nnmath.playground.snapshot import CURVE, Grid, network_inputs  # noqa: E402
from test_playground import DRAWN, SMALL, Page, reference, start, until  # noqa: E402

PORT = 8765


@pytest.fixture
def client():
    with Page(create_app(port=PORT)) as c:
        yield c


def floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def test_a_page_that_has_not_drawn_the_last_snapshot_is_sent_no_other_while_playing(client):
    """Back-pressure: one play snapshot, unacknowledged, and the server sends no more (the old
    server sent one every 1/30 s whatever the page drew, 11 s of backlog on a slow page);
    the pause's snapshot still comes at once, and an ack lets the next play snapshot go."""
    with client.websocket_connect("/ws") as ws:
        start(ws, {**SMALL, "points": 400})
        ws.send_json({"type": "pace", "epochs_per_second": None})
        ws.send_json({"type": "play"})
        while (msg := ws.receive_json())["type"] != "snapshot":
            pass
        assert msg["mode"] == "play"  # not acknowledged
        time.sleep(1.0)  # the run trains on at full speed; the page draws nothing
        ws.send_json({"type": "pause"})
        kinds = []
        while (msg := ws.receive_json()).get("mode") != "paused":
            kinds.append(msg.get("mode", msg["type"]))
        assert kinds == [] and msg["epoch"] > 1  # no backlog: straight to the pause's frame
        ws.send_text(DRAWN)
        ws.send_text(DRAWN)
        ws.send_json({"type": "play"})
        assert until(ws, "snapshot", "play")["epoch"] > msg["epoch"]
        ws.send_json({"type": "pause"})
        until(ws, "snapshot", "paused")


def test_the_pace_holds_a_run_to_its_epochs_a_second(client):
    with client.websocket_connect("/ws") as ws:
        start(ws, SMALL)  # 60 training rows: 6 mini-batches an epoch
        ws.send_json({"type": "pace", "epochs_per_second": 4})
        t0 = time.perf_counter()
        ws.send_json({"type": "play"})
        first = until(ws, "snapshot", "play")
        while time.perf_counter() - t0 < 1.5:
            until(ws, "snapshot", "play")
        ws.send_json({"type": "pause"})
        paused = until(ws, "snapshot", "paused")
        elapsed = time.perf_counter() - t0
        assert paused["epoch"] <= 4 * elapsed + 0.5, (paused["epoch"], elapsed)
        assert paused["epoch"] > first["epoch"]
        for bad in [0, -1, 1e9, "fast"]:
            ws.send_json({"type": "pace", "epochs_per_second": bad})
            assert "epochs_per_second must be" in until(ws, "error")["message"]


def test_eta_batch_dropout_and_the_optimizer_change_while_the_weights_and_epochs_stay(client):
    config = {**SMALL, "optimizer": "sgd", "eta": 0.5}
    with client.websocket_connect("/ws") as ws:
        start(ws, config)
        for _ in range(2):
            ws.send_json({"type": "epoch"})
            before = until(ws, "snapshot", "paused")
        for change in [
            {"eta": 0.05},
            {"lmbda": 0.1, "batch": 7},
            {"dropout": 0.2},
            {"optimizer": "adam", "eta": 0.01},
        ]:
            config = {**config, **change}
            ws.send_json({"type": "config", "config": config})
            retuned = until(ws, "retuned")
            assert sorted(retuned["changed"]) == sorted(change)
            now = until(ws, "snapshot", "paused")
            assert now["epoch"] == 2 and now["step"] == before["step"]
            assert now["weights"] == before["weights"]  # the same network, not a new one
        ws.send_json({"type": "epoch"})
        after = until(ws, "snapshot", "paused")
        assert after["epoch"] == 3 and after["weights"] != before["weights"]
        ws.send_json({"type": "config", "config": {**config, "data": "xor"}})  # new data
        assert until(ws, "built")["config"]["data"] == "xor"
        assert until(ws, "snapshot", "paused")["epoch"] == 0


def test_a_changed_eta_trains_on_from_the_same_weights_with_the_new_eta(client):
    """Two epochs at η = 0.5, then one at η = 0.05: the same numbers as one SGD optimizer
    whose η is set between the two fit calls (same shuffles: fit's rng carries on)."""
    import nnmath as nm
    from nnmath.optim import get_optimizer

    config = {**SMALL, "optimizer": "sgd", "eta": 0.5}
    with client.websocket_connect("/ws") as ws:
        start(ws, config)
        for _ in range(2):
            ws.send_json({"type": "epoch"})
            until(ws, "snapshot", "paused")
        ws.send_json({"type": "config", "config": {**config, "eta": 0.05}})
        until(ws, "retuned")
        assert until(ws, "snapshot", "paused")["epoch"] == 2  # the new η's, same weights
        ws.send_json({"type": "epoch"})
        snap = until(ws, "snapshot", "paused")
        assert snap["epoch"] == 3
    net, _, data = reference(config, epochs=0)
    seen = []
    opt = get_optimizer("sgd", eta=0.5, lmbda=0.0, n=len(data.X_train))

    class SetEta(nm.callbacks.Callback):
        def on_epoch_begin(self, net, history, epoch):
            seen.append(epoch)
            opt.eta = 0.5 if epoch < 2 else 0.05

    net.fit(
        data.X_train,
        data.y_train,
        epochs=3,
        mini_batch_size=10,
        optimizer=opt,
        seed=0,
        fast=False,
        callbacks=[SetEta()],
    )
    assert seen == [0, 1, 2]
    for W, sent in zip(net.weights, snap["weights"]):
        np.testing.assert_allclose(floats(sent), W.ravel(), rtol=1e-6)


def test_a_diverged_run_is_named_in_its_snapshots(client):
    with client.websocket_connect("/ws") as ws:
        _, _, first = start(ws, {"data": "xor", "optimizer": "adam", "eta": 50})
        assert first["diverged"] is None
        ws.send_json({"type": "epoch"})
        snap = until(ws, "snapshot", "paused")
    assert snap["train_cost"] > 2 and "the run diverged" in snap["diverged"]
    assert "η = 50" in snap["diverged"] and "smaller η" in snap["diverged"]
    assert "layers 2, 3 stopped learning (speed 0)" in snap["diverged"]  # saturated tanh units
    assert max(snap["speeds"][:2]) < 1e-7


def test_input_features_are_the_networks_inputs(client):
    config = {
        "data": "circle",
        "points": 120,
        "features": ["x2sq", "x1sq"],
        "layers": [3],
        "activations": ["tanh"],
    }
    with client.websocket_connect("/ws") as ws:
        _, built, _ = start(ws, config)
        ws.send_json({"type": "epoch"})
        snap = until(ws, "snapshot", "paused")
    assert built["sizes"] == [2, 3, 2] and built["features"] == ["x₁²", "x₂²"]
    net, history, data = reference(config, epochs=1)
    assert snap["train_cost"] == history.training_cost[-1]
    x = network_inputs(data, ["x1sq", "x2sq"])[0]
    np.testing.assert_array_equal(x, data.X_train**2)


@pytest.mark.parametrize(("name", "dims"), [("sine", 1), ("abs", 1), ("surface", 2)])
def test_regression_data_sets_train_with_the_quadratic_cost(client, name, dims):
    config = {
        "data": name,
        "points": 200,
        "output": "identity",
        "cost": "quadratic",
        "features": ["x1"] if dims == 1 else ["x1", "x2"],
        "layers": [8],
        "activations": ["tanh"],
        "optimizer": "adam",
        "eta": 0.02,
    }
    with client.websocket_connect("/ws") as ws:
        _, built, first = start(ws, config)
        for _ in range(3):
            ws.send_json({"type": "epoch"})
            snap = until(ws, "snapshot", "paused")
        ws.send_json({"type": "trace", "split": "test", "index": 1})
        traced = until(ws, "trace")
        ws.send_json({"type": "unit", "layer": 3, "unit": 0})
        unit = until(ws, "unit")
    assert built["kind"] == "regression" and built["dims"] == dims and built["sizes"][-1] == 1
    assert snap["test_accuracy"] is None and snap["train_cost"] < first["train_cost"]
    net, history, data = reference(config, epochs=3)
    assert snap["train_cost"] == history.training_cost[-1]
    grid = Grid(data.bounds(), config["features"], dims)
    values = floats(snap["regions"]["values"])
    assert values.size == (CURVE if dims == 1 else grid.points.shape[0])
    np.testing.assert_allclose(values, net.feedforward(grid.inputs)[:, 0], rtol=1e-5, atol=1e-6)
    x = network_inputs(data, config["features"])[1][1]  # test point 1: its real target
    expected = nm.diagnostics.trace(net, x, np.array([data.y_test[1]]))
    assert traced["label"] == float(data.y_test[1]) and traced["trace"]["y"] == [data.y_test[1]]
    assert traced["trace"]["cost"] == pytest.approx(expected.cost)
    assert unit["a"] == pytest.approx(expected.layers[1].a[0])  # layer 3: the output a^L


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"data": "sine"}, "needs the quadratic cost"),
        (
            {"data": "sine", "output": "identity", "cost": "quadratic", "features": ["x2"]},
            "unknown feature 'x2' for the data set 'sine'",
        ),
        ({"data": "circle", "output": "identity", "cost": "quadratic"}, "softmax or sigmoid"),
        ({"features": []}, "at least one input feature"),
        ({"features": ["x3"]}, "unknown feature 'x3'"),
    ],
)
def test_bad_features_and_outputs_are_refused_with_the_reason(raw, words):
    from nnmath.playground import ConfigError, parse_config

    with pytest.raises(ConfigError, match=words):
        parse_config(raw)


def test_the_same_configuration_again_leaves_the_run_as_it_is(client):
    """A field left without a change sends the configuration again: no new network (before,
    every configuration rebuilt the run and the epochs were lost)."""
    with client.websocket_connect("/ws") as ws:
        start(ws, SMALL)
        ws.send_json({"type": "epoch"})
        until(ws, "snapshot", "paused")
        ws.send_json({"type": "config", "config": SMALL})
        ws.send_json({"type": "epoch"})
        kinds = []
        while (msg := ws.receive_json())["type"] != "snapshot":
            kinds.append(msg["type"])
        assert kinds == [] and msg["epoch"] == 2
