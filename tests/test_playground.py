"""The playground's server (Starlette's test client): the API, the WebSocket protocol, the
numbers against ``Network.fit``, the limits and bad input; and its parts (toy data, CSV,
configuration, the address it binds)."""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground needs the extra nnmath[playground]")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import nnmath as nm  # noqa: E402
from nnmath._registry import canonical_names  # noqa: E402
from nnmath.activations import ACTIVATIONS  # noqa: E402
from nnmath.cli import main  # noqa: E402
from nnmath.costs import COSTS  # noqa: E402
from nnmath.playground import LIMITS, TOY_DATASETS, Config, ConfigError, parse_config  # noqa: E402
from nnmath.playground.export import has_onnx  # noqa: E402
from nnmath.playground.serve import bind, is_loopback  # noqa: E402
from nnmath.playground.server import ASSETS, create_app  # noqa: E402
from nnmath.playground.session import build_network, fit_options  # noqa: E402
from nnmath.playground.snapshot import GRID, Grid, network_inputs  # noqa: E402
from nnmath.playground.toy import REGRESSION_DATASETS, make_toy  # noqa: E402
from nnmath.playground.upload import parse_csv  # noqa: E402

PORT = 8765  # the test client's server is a name only: Host and Origin must name it
PAGE = f"http://127.0.0.1:{PORT}"
SMALL = {"data": "moons", "points": 120, "layers": [5, 4], "activations": ["tanh", "sigmoid"]}


@pytest.fixture(autouse=True)
def watchdog():
    """A protocol bug would leave a receive waiting forever: end the run with a traceback."""
    import faulthandler

    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


class Page(TestClient):
    """Starlette's test client as the playground's own page: its requests name the server in
    ``Host`` and come from the page's ``Origin``, as a browser's do."""

    def __init__(self, app, **kwargs) -> None:
        super().__init__(app, base_url=PAGE, headers={"origin": PAGE}, **kwargs)

    def websocket_connect(self, url: str, *args, **kwargs):
        return super().websocket_connect(f"ws://127.0.0.1:{PORT}{url}", *args, **kwargs)


@pytest.fixture
def client():
    with Page(create_app(port=PORT)) as c:
        yield c


DRAWN = '{"type":"drawn"}'  # the page's ack of a drawn snapshot, as its JSON.stringify writes it


def until(ws, kind: str, mode: str | None = None, limit: int = 10_000) -> dict:
    """The next message of type ``kind`` (and snapshot ``mode``), skipping the others; every
    snapshot read is acknowledged as drawn, as the page does."""
    for _ in range(limit):
        msg = ws.receive_json()
        if msg["type"] == "snapshot":
            ws.send_text(DRAWN)
        if msg["type"] == kind and (mode is None or msg.get("mode") == mode):
            return msg
    raise AssertionError(f"no {kind} message")


def start(ws, config: dict) -> tuple[str, dict, dict]:
    """Send ``config``; the session id, the 'built' message and the first snapshot."""
    sid = until(ws, "hello")["session"]
    ws.send_json({"type": "config", "config": config})
    built = until(ws, "built")
    return sid, built, until(ws, "snapshot", "paused")


def floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def reference(config: dict, epochs: int, **changes):
    """The same run by ``Network.fit`` alone: the network and its History."""
    c = parse_config(config)
    data = make_toy(c.data, c.points, c.noise, c.train_fraction, c.seed)
    net = build_network(c, data.n_outputs)
    inputs = network_inputs(data, c.features)
    options = {**fit_options(c, data, inputs), **changes}
    return net, net.fit(inputs[0], data.y_train, epochs=epochs, **options), data


# ------------------------------------------------------------------ parts


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_toy_data_sets_are_seeded_two_class_and_split(name):
    a = make_toy(name, 200, 0.1, 0.6, seed=3)
    b = make_toy(name, 200, 0.1, 0.6, seed=3)
    assert a.X_train.shape == (120, 2) and a.X_test.shape == (80, 2)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert set(np.concatenate([a.y_train, a.y_test]).tolist()) == {0, 1}
    assert not np.array_equal(a.X_train, make_toy(name, 200, 0.1, 0.6, seed=4).X_train)
    assert np.all(np.abs(a.X_train) < 2)


def test_options_come_from_the_registries(client):
    opts = client.get("/api/options").json()
    assert opts["activations"] == canonical_names(ACTIVATIONS)  # softmax too; no aliases
    assert "softmax" in opts["activations"] and "swish" not in opts["activations"]
    assert opts["costs"] == sorted(COSTS)
    assert opts["datasets"] == [*TOY_DATASETS, "upload", *REGRESSION_DATASETS]
    assert opts["limits"]["hidden_layers"] == 8 and opts["limits"]["units"] == 64
    assert opts["defaults"] == Config().to_dict()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"layers": [4] * 9, "activations": ["relu"]}, "at most 8 hidden layer"),
        ({"layers": [65], "activations": ["relu"]}, "between 1 and 64"),
        ({"layers": [4], "activations": ["sigmoidal"]}, "unknown activation 'sigmoidal'"),
        ({"layers": [4, 4], "activations": ["relu"] * 3}, "one activation per hidden layer"),
        ({"points": 5000}, "points must be between 20 and 2000"),
        ({"eta": "fast"}, "eta must be a number"),
        ({"eta": float("nan")}, "eta must be between"),
        ({"output": "sigmoid", "cost": "cross_entropy", "data": "mnist"}, "unknown data"),
        ({"colour": "red"}, "unknown configuration field"),
        ({"seed": 1.5}, "whole number"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_configurations_are_refused_with_the_reason(raw, words):
    with pytest.raises(ConfigError, match=words):
        parse_config(raw)


def test_configuration_from_the_url_fragment_strings():
    c = parse_config({"layers": "8,8,8", "activations": "relu", "eta": "0.1", "points": "300"})
    assert c.layers == [8, 8, 8] and c.activations == ["relu"] * 3
    assert c.eta == 0.1 and c.points == 300
    assert parse_config({"layers": "", "activations": ""}).layers == []


def test_csv_any_classes_header_and_clear_errors():
    text = "a,b,kind\n" + "".join(f"{i},{i % 7},{'xyz'[i % 3]}\n" for i in range(30))
    data, summary = parse_csv(text, 0.5, seed=0)
    assert summary["classes"] == ["x", "y", "z"] and summary["rows"] == 30
    assert data.n_classes == 3 and len(data.X_train) == 15
    X = np.concatenate([data.X_train, data.X_test])
    assert X.min() == -1 and X.max() == 1
    for bad, words in [
        ("1,2,0\n3,4\n5,6,1\n7,8,0\n", "line 2 has 2 columns"),
        ("x,y,c\n1,2,0\n1,oops,1\n3,3,0\n4,4,1\n", "line 3, column 2: 'oops' is not a number"),
        ("1,2,0\n3,4,0\n5,6,0\n7,8,0\n", "one class only"),
        ("", "empty"),
    ]:
        with pytest.raises(ConfigError, match=words):
            parse_csv(bad, 0.5, seed=0)


def test_only_loopback_unless_allowed_and_then_a_token():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    with pytest.raises(ValueError, match="--allow-remote"):
        bind("0.0.0.0", 0)
    sock, address = bind("0.0.0.0", 0, allow_remote=True)
    try:  # another machine may reach it: every visitor needs the printed token
        assert len(address.token) >= 24 and address.url.endswith(f"/?token={address.token}")
    finally:
        sock.close()
    sock, address = bind("127.0.0.1", 0)
    try:
        assert address.port > 0 and address.token is None
        assert address.url == f"http://127.0.0.1:{address.port}/"
    finally:
        sock.close()


def test_cli_refuses_a_remote_host_without_the_flag(capsys):
    assert main(["playground", "--host", "0.0.0.0", "--no-browser"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


# ------------------------------------------------------------------ the page and its assets


def test_page_and_assets_ship_in_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "static/app.js" in page.text
    for name in ASSETS:
        if name != "index.html":
            assert client.get(f"/static/{name}").status_code == 200
    for bad in ["../server.py", "..%2F__init__.py", "index.html", "x.js"]:
        assert client.get(f"/static/{bad}").status_code == 404
    assert "cdn" not in page.text.lower() and "https://" not in client.get("/static/app.js").text


def test_token_is_required_when_set():
    with Page(create_app(port=PORT, token="s3cret")) as c:
        assert c.get("/").status_code == 403
        assert c.get("/api/options").status_code == 403
        assert c.get("/?token=wrong").status_code == 403
        assert c.get("/?token=s3cret").status_code == 200  # sets the cookie
        assert c.get("/api/options").status_code == 200
    with Page(create_app(port=PORT, token="s3cret")) as c:
        with pytest.raises(WebSocketDisconnect):  # the handshake is refused
            with c.websocket_connect("/ws") as ws:
                ws.receive_json()
        with c.websocket_connect("/ws?token=s3cret") as ws:
            assert ws.receive_json()["type"] == "hello"


# ------------------------------------------------------------------ the protocol


def test_a_run_gives_the_numbers_of_network_fit(client):
    with client.websocket_connect("/ws") as ws:
        _, built, first = start(ws, SMALL)
        assert built["sizes"] == [2, 5, 4, 2] and first["epoch"] == 0
        for _ in range(3):
            ws.send_json({"type": "epoch"})
            snap = until(ws, "snapshot", "paused")
        assert snap["epoch"] == 3
    net, history, data = reference(SMALL, epochs=3)
    assert snap["train_cost"] == history.training_cost[-1]
    assert snap["test_cost"] == history.validation_cost[-1]
    assert snap["test_accuracy"] == history.validation_accuracy[-1]
    assert snap["train_accuracy"] == history.training_accuracy[-1]
    for W, sent in zip(net.weights, snap["weights"]):
        np.testing.assert_array_equal(floats(sent), W.ravel())
    norms = nm.diagnostics.gradient_norms(net, data.X_train, data.y_train)
    assert snap["speeds"] == norms.nabla_b
    _, fast, _ = reference(SMALL, epochs=3, fast=True)  # the compiled epoch agrees too
    np.testing.assert_allclose(fast.training_cost, history.training_cost, rtol=1e-4)


def test_regions_and_unit_maps_are_the_networks_forward_pass(client):
    """The decision regions are argmax a^L on the grid, each hidden unit's map its a^l on the
    coarse grid scaled between its own min and max: nnmath's forward pass, not the page's."""
    with client.websocket_connect("/ws") as ws:
        start(ws, SMALL)
        ws.send_json({"type": "epoch"})
        snap = until(ws, "snapshot", "paused")
    net, _, data = reference(SMALL, epochs=1)
    grid = Grid(data.bounds(), ["x1", "x2"])
    _, activations = net.forward(net.check_inputs(grid.points).T)
    cls = np.frombuffer(base64.b64decode(snap["regions"]["cls"]), dtype=np.uint8)
    assert cls.size == GRID * GRID
    np.testing.assert_array_equal(cls, np.argmax(activations[-1], axis=0))
    assert len(snap["units"]) == len(SMALL["layers"])
    for a, sent in zip(activations[1:-1], snap["units"]):
        a = a[:, grid.coarse]
        lo, hi = a.min(axis=1, keepdims=True), a.max(axis=1, keepdims=True)
        assert sent["min"] == lo[:, 0].tolist() and sent["max"] == hi[:, 0].tolist()
        levels = np.frombuffer(base64.b64decode(sent["data"]), dtype=np.uint8)
        np.testing.assert_array_equal(levels.reshape(a.shape), np.round(255 * (a - lo) / (hi - lo)))


def test_a_hidden_softmax_layer_trains_as_network_fit_trains_it(client):
    config = {**SMALL, "activations": ["softmax", "softsign"]}
    with client.websocket_connect("/ws") as ws:
        start(ws, config)
        ws.send_json({"type": "epoch"})
        snap = until(ws, "snapshot", "paused")
        ws.send_json({"type": "trace", "split": "train", "index": 0})
        traced = until(ws, "trace")
    net, history, data = reference(config, epochs=1)
    assert snap["train_cost"] == history.training_cost[-1]
    assert snap["speeds"] == nm.diagnostics.gradient_norms(net, data.X_train, data.y_train).nabla_b
    expected = nm.diagnostics.trace(net, data.X_train[0], int(data.y_train[0]))
    assert traced["trace"] == json.loads(json.dumps(expected.to_dict()))
    assert [layer["activation"] for layer in traced["trace"]["layers"]][0] == "softmax"


def test_step_reset_trace_unit_and_exports(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        sid, _, first = start(ws, SMALL)
        ws.send_json({"type": "step"})
        one = until(ws, "snapshot", "paused")
        assert one["step"] == 1 and 0 < one["epoch"] < 1 and one["weights"] != first["weights"]
        ws.send_json({"type": "reset"})
        again = until(ws, "snapshot", "paused")
        assert again["weights"] == first["weights"] and again["step"] == 0
        ws.send_json({"type": "trace", "split": "test", "index": 2})
        traced = until(ws, "trace")
        ws.send_json({"type": "unit", "layer": 3, "unit": 1})
        unit = until(ws, "unit")
        ws.send_json({"type": "epoch"})
        until(ws, "snapshot", "paused")
        model = client.get(f"/api/session/{sid}/model.safetensors")
        table = client.get(f"/api/session/{sid}/history.csv")
        onnx_file = client.get(f"/api/session/{sid}/model.onnx")
    net, history, data = reference(SMALL, epochs=0)
    expected = nm.diagnostics.trace(net, data.X_test[2], int(data.y_test[2]))
    assert traced["trace"] == json.loads(json.dumps(expected.to_dict()))
    assert unit["delta"] == expected.layers[1].delta[1]
    np.testing.assert_allclose(unit["weights"], net.weights[1][1], rtol=1e-6)
    net1, history1, _ = reference(SMALL, epochs=1)
    (tmp_path / "m.safetensors").write_bytes(model.content)
    loaded = nm.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.feedforward(data.X_test), net1.feedforward(data.X_test))
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 1 and float(rows[0]["test_accuracy"]) == history1.validation_accuracy[0]
    assert float(rows[0]["speed_l2"]) == history1.extra["gradient_norms"]["nabla_b"][1][0]
    assert onnx_file.status_code == (200 if has_onnx() else 409)
    if onnx_file.status_code == 200:  # where nnmath has ONNX export
        ort = pytest.importorskip("onnxruntime", reason="onnxruntime reads the ONNX file back")
        s = ort.InferenceSession(onnx_file.content)
        out = s.run(None, {s.get_inputs()[0].name: data.X_test.astype(np.float32)})[0]
        np.testing.assert_allclose(out, net1.feedforward(data.X_test), rtol=1e-5, atol=1e-6)


def test_the_server_answers_while_a_network_trains(client):
    """Training runs in the session's thread, not on the event loop: requests are answered
    while the largest network the limits allow plays."""
    config = {"data": "spiral", "points": LIMITS.points, "layers": [LIMITS.units] * 8,
              "activations": ["relu"]}  # fmt: skip
    with client.websocket_connect("/ws") as ws:
        start(ws, config)
        ws.send_json({"type": "play"})
        until(ws, "snapshot", "play")
        for _ in range(3):
            t0 = time.perf_counter()
            assert client.get("/api/options").status_code == 200
            assert time.perf_counter() - t0 < 2.0
        assert until(ws, "snapshot", "play")["step"] > 0
        ws.send_json({"type": "pause"})
        until(ws, "snapshot", "paused")


def test_bad_messages_get_errors_and_every_session_goes_on(client):
    with client.websocket_connect("/ws") as ws, client.websocket_connect("/ws") as other:
        start(ws, SMALL)
        start(other, SMALL)
        for bad, words in [
            ("not json", "JSON object"),
            ('{"type": "fly"}', "unknown message type 'fly'"),
            ('{"type": "config", "config": {"layers": [100]}}', "between 1 and 64"),
            ('{"type": "trace", "index": 1500}', "there is no train point 1500"),
            ('{"type": "unit", "layer": 9, "unit": 0}', "there is no unit 0 in layer 9"),
            ("[" * (LIMITS.message_bytes + 1), "at most"),
        ]:
            ws.send_text(bad)
            assert words in until(ws, "error")["message"]
        ws.send_bytes(b"\x00\x01")
        assert "not bytes" in until(ws, "error")["message"]
        for _ in range(LIMITS.messages_per_second + 5):
            ws.send_text('{"type": "pause"}')
        assert "too many messages" in until(ws, "error")["message"]
        time.sleep(1.1)  # the bucket fills again
        other.send_json({"type": "epoch"})
        assert until(other, "snapshot", "paused")["epoch"] == 1
        ws.send_json({"type": "epoch"})  # the first session still trains
        assert until(ws, "snapshot", "paused")["epoch"] == 1


def test_uploads_are_checked_and_train(client):
    with client.websocket_connect("/ws") as ws:
        sid, _, _ = start(ws, SMALL)
        url = f"/api/session/{sid}/upload"
        rows = "".join(
            f"{np.cos(t):.4f},{np.sin(t):.4f},{'abc'[i % 3]}\n"
            for i, t in enumerate(np.linspace(0, 6, 60))
        )
        answer = client.post(url, content=rows)
        assert answer.status_code == 200 and answer.json()["classes"] == ["a", "b", "c"]
        built = until(ws, "built")
        assert built["sizes"][-1] == 3 and built["config"]["data"] == "upload"
        assert until(ws, "snapshot", "paused")["epoch"] == 0
        bad = client.post(url, content="1,2,x\n1,2\n3,4,y\n5,6,x\n")
        assert bad.status_code == 400 and "line 2 has 2 columns" in bad.json()["error"]
        huge = client.post(url, content=b"1,2,0\n" * (LIMITS.upload_bytes // 6 + 1))
        assert huge.status_code == 413 and "upload limit" in huge.json()["error"]
        assert client.post("/api/session/nosuch/upload", content=rows).status_code == 404
        ws.send_json({"type": "epoch"})
        assert until(ws, "snapshot", "paused")["epoch"] == 1
        with client.websocket_connect("/ws") as other:  # and other tabs are served
            start(other, SMALL)
            other.send_json({"type": "epoch"})
            assert until(other, "snapshot", "paused")["epoch"] == 1


@pytest.mark.parametrize(
    ("config", "commands", "words"),
    [
        ({**SMALL, "data": "upload"}, [], "no uploaded data: upload a CSV file first"),
        (
            {**SMALL, "activations": ["identity"] * 2, "optimizer": "sgd", "eta": 100, "batch": 1},
            [{"type": "epoch"}],
            "training diverged",
        ),
    ],
)
def test_a_stopped_run_says_why_and_its_worker_ends_with_the_tab(
    client, monkeypatch, config, commands, words
):
    raised = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    playground = client.app.state.playground
    with client.websocket_connect("/ws") as ws:
        until(ws, "hello")
        ws.send_json({"type": "config", "config": config})
        for command in commands:
            ws.send_json(command)
        assert words in until(ws, "stopped")["message"]
        (session,) = playground.sessions.values()
    session.thread.join(10)
    assert not session.thread.is_alive()
    assert raised == []  # the worker returned; no exception escaped its thread


def test_commands_waiting_for_a_worker_are_limited():
    """A worker that falls behind (here: not started) gets at most Limits.pending_commands
    commands; the next is refused with a message, not queued."""
    from nnmath.playground.session import Session

    playground = create_app(port=PORT).state.playground
    session = Session(lambda msg, droppable: None, lambda: True)
    for _ in range(LIMITS.pending_commands):
        playground.queue(session, "pause")
    with pytest.raises(ConfigError, match=f"the run has {LIMITS.pending_commands} commands"):
        playground.queue(session, "pause")
    assert session.commands.qsize() == LIMITS.pending_commands


def test_the_number_of_sessions_is_limited(client):
    opened = [client.websocket_connect("/ws") for _ in range(LIMITS.sessions)]
    sockets = [o.__enter__() for o in opened]
    try:
        for ws in sockets:
            until(ws, "hello")
        with client.websocket_connect("/ws") as extra:
            assert "too many sessions" in extra.receive_json()["message"]
    finally:
        for o in opened:
            o.__exit__(None, None, None)
    with client.websocket_connect("/ws") as ws:  # room again once the tabs are closed
        assert until(ws, "hello")["type"] == "hello"


def test_the_command_serves_the_page_until_interrupted():
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnmath", "playground", "--no-browser", "--allowed-host", "pg.test"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("nnmath playground: http://127.0.0.1:"), line
        url = line.split()[2]
        for _ in range(100):  # the socket is bound before the line is printed; uvicorn starts
            try:
                page = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert page.status_code == 200 and "nnmath playground" in page.text
        port = url.rstrip("/").rsplit(":", 1)[1]
        named = httpx.get(url, headers={"host": f"pg.test:{port}"}, timeout=10)
        rebound = httpx.get(url, headers={"host": f"evil.example:{port}"}, timeout=10)
        assert named.status_code == 200 and rebound.status_code == 403  # --allowed-host only
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode in (0, 130)


def test_a_divergence_once_said_stays_said_for_the_run():
    from nnmath.playground.training import Verdict

    net = nm.Network([2, 3, 2], seed=0)
    y = np.array([0, 1, 1, 0])
    verdict = Verdict(net, y)
    calm = verdict(0.5 * verdict.guess, [1.0, 1.0], 0.5)
    assert calm is None
    blown = verdict(10 * verdict.guess, [1.0, 1.0], 50.0)
    assert blown.startswith("the run diverged: training cost") and "η = 50 is too large" in blown
    back = verdict(0.9 * verdict.guess, [1.0, 1.0], 0.01)  # the cost came back, η lowered
    assert back.startswith("the run diverged: training cost") and "with η = 50;" in back
    assert f"its training cost is {0.9 * verdict.guess:.3g} now" in back and "smaller η" in back
    assert Verdict(net, y)(0.9 * verdict.guess, [1.0, 1.0], 0.01) is None  # a new run: no word
