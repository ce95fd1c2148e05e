"""Only the playground's own page may drive it: every request must name the server in ``Host``
(DNS rebinding gives another name), the WebSocket and every request that changes state must
come from the server's own ``Origin``, and every response forbids framing and sniffing.

The whole matrix (hosts x origins x endpoints, the WebSocket included) runs against a real
uvicorn server on 127.0.0.1 (a free port) over bare sockets, so that each header is exactly
as written here, and again through Starlette's test client."""

from __future__ import annotations

import itertools
import json
import threading

import pytest

pytest.importorskip("uvicorn", reason="the playground needs the extra nnmath[playground]")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from nnmath.playground.guard import SECURITY_HEADERS, allowed_hosts  # noqa: E402
from nnmath.playground.serve import Server, bind  # noqa: E402
from nnmath.playground.server import create_app  # noqa: E402
from playground_wire import frame, handshake, read_json, request  # noqa: E402

CSV = "".join(f"{i % 7},{i % 5},{'ab'[i % 2]}\n" for i in range(40)).encode()
CONFIG = {"data": "moons", "points": 40, "layers": [3], "activations": ["tanh"]}
WS = "WS /ws"
ENDPOINTS = [  # what each answers to its own page ({sid}: a live session)
    ("GET /", 200),
    ("GET /static/app.js", 200),
    ("GET /api/options", 200),
    ("GET /api/session/{sid}/history.csv", 200),
    ("GET /no/such/page", 404),
    ("POST /api/session/{sid}/upload", 200),
    ("PUT /api/session/{sid}/upload", 405),
    ("DELETE /api/session/{sid}/upload", 405),
    (WS, 101),
]


def hosts(port: int) -> dict[str | None, bool]:
    """``Host`` values and whether a server bound to 127.0.0.1:``port`` accepts them."""
    good = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LocalHost:{port}"]
    bad = [
        f"evil.example:{port}",  # a rebound name
        "evil.example",
        f"127.0.0.1.nip.io:{port}",
        f"localhost.:{port}",
        f"127.0.0.2:{port}",  # loopback, but not the name it is bound to
        f"0.0.0.0:{port}",
        f"[::ffff:127.0.0.1]:{port}",
        f"127.0.0.1:{port + 1}",
        "127.0.0.1",  # browsers leave the port out only for port 80
        "localhost",
        "",
    ]
    return {**dict.fromkeys(good, True), **dict.fromkeys(bad, False)}


def origins(port: int) -> dict[str | None, bool | None]:
    """``Origin`` values: True (the server's own), False (another site), None (left out)."""
    own = [f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"]
    other = [
        "http://evil.example",
        f"http://evil.example:{port}",
        "null",  # a sandboxed frame, a data: page
        f"https://127.0.0.1:{port}",
        f"http://127.0.0.1:{port + 1}",
        "http://127.0.0.1",
        f"http://127.0.0.1:{port}.evil.example",
    ]
    return {None: None, **dict.fromkeys(own, True), **dict.fromkeys(other, False)}


def expected(endpoint: tuple[str, int], host_ok: bool, origin_ok: bool | None) -> int:
    """The status the guard lets through or gives: 403 for another name or site, and for a
    WebSocket or a change of state without an Origin."""
    line, status = endpoint
    method = line.split()[0]
    if not host_ok or origin_ok is False:
        return 403
    if origin_ok is None and method not in ("GET", "HEAD"):
        return 403
    return status


def test_allowed_hosts_are_the_bound_names_with_the_bound_port():
    assert allowed_hosts("127.0.0.1", 8765) == {
        "127.0.0.1:8765",
        "localhost:8765",
        "[::1]:8765",
    }
    assert "localhost" in allowed_hosts("127.0.0.1", 80)  # a browser omits the default port
    assert "[::1]:9000" in allowed_hosts("::1", 9000)
    remote = allowed_hosts("192.0.2.7", 9000, ["playground.lan"])
    assert {"192.0.2.7:9000", "playground.lan:9000", "127.0.0.1:9000"} <= remote
    assert not any(h.startswith(("0.0.0.0", "[::]")) for h in allowed_hosts("0.0.0.0", 9000))


# ------------------------------------------------------------------ a real server


@pytest.fixture(scope="module")
def server():
    """uvicorn on 127.0.0.1 (a free port), stopped at the end, or by itself after 10 min."""
    sock, address = bind("127.0.0.1", 0)
    running = Server(sock, address).start()
    timer = threading.Timer(600, lambda: setattr(running.server, "should_exit", True))
    timer.start()
    try:
        yield address.port
    finally:
        timer.cancel()
        running.stop()


@pytest.fixture(scope="module")
def session(server):
    """A tab of the page, open for the whole matrix: its session id."""
    page = f"http://127.0.0.1:{server}"
    status, ws = handshake(server, {"Host": f"127.0.0.1:{server}", "Origin": page})
    assert status == 101
    sid = read_json(ws)["session"]
    ws.sendall(frame(json.dumps({"type": "config", "config": CONFIG})))
    while read_json(ws)["type"] != "snapshot":  # built, then the first snapshot
        pass
    yield sid
    ws.close()


def _send(port: int, line: str, host: str | None, origin: str | None, sid: str) -> tuple:
    method, path = line.replace("{sid}", sid).split()
    headers = {"Host": host, "Origin": origin}
    if method == "WS":
        status, ws = handshake(port, headers, path)
        if status == 101:
            hello = read_json(ws)
            ws.close()
            assert hello["type"] == "hello"
        return status, None
    body = CSV if method in ("POST", "PUT") else b""
    status, fields, _ = request(port, method, path, headers, body)
    return status, fields


def test_the_host_and_origin_matrix_on_a_real_server(server, session):
    host_cases, origin_cases = hosts(server), origins(server)
    cases = list(itertools.product([*host_cases, None], origin_cases, ENDPOINTS))
    wrong, unguarded = [], []
    for host, origin, endpoint in cases:
        status, fields = _send(server, endpoint[0], host, origin, session)
        if host is None:  # no Host at all: refused, by the HTTP parser or by the guard
            ok = status in (400, 403)
        else:
            ok = status == expected(endpoint, host_cases[host], origin_cases[origin])
        if not ok:
            wrong.append((host, origin, endpoint[0], status))
        if fields is not None and status != 400:
            missing = [k for k, v in SECURITY_HEADERS.items() if fields.get(k) != v]
            if missing:
                unguarded.append((host, origin, endpoint[0], status, missing))
    assert len(cases) == 16 * 11 * 9  # 1,584 requests
    assert wrong == [], f"{len(wrong)} of {len(cases)} answered wrongly: {wrong[:20]}"
    assert unguarded == [], unguarded[:10]


# ------------------------------------------------------------------ Starlette's test client

PORT = 8765


def _through_test_client(client, line, host, origin, sid) -> int:
    method, path = line.replace("{sid}", sid).split()
    headers = {"host": host} | ({"origin": origin} if origin is not None else {})
    if method == "WS":
        try:
            with client.websocket_connect(f"ws://127.0.0.1:{PORT}{path}", headers=headers) as ws:
                assert ws.receive_json()["type"] == "hello"
                return 101
        except WebSocketDisconnect as exc:  # closed before it was accepted
            assert exc.code == 1008
            return 403
    body = CSV if method in ("POST", "PUT") else None
    return client.request(method, path, headers=headers, content=body).status_code


def test_the_host_and_origin_matrix_through_the_test_client():
    page = f"http://127.0.0.1:{PORT}"
    host_cases, origin_cases = hosts(PORT), origins(PORT)
    with TestClient(create_app(port=PORT), base_url=page) as client:
        own = {"host": f"127.0.0.1:{PORT}", "origin": page}
        with client.websocket_connect(f"ws://127.0.0.1:{PORT}/ws", headers=own) as ws:
            sid = ws.receive_json()["session"]
            ws.send_json({"type": "config", "config": CONFIG})
            while ws.receive_json()["type"] != "snapshot":
                pass
            wrong = []
            cases = list(itertools.product(host_cases, origin_cases, ENDPOINTS))
            for host, origin, endpoint in cases:
                status = _through_test_client(client, endpoint[0], host, origin, sid)
                if status != expected(endpoint, host_cases[host], origin_cases[origin]):
                    wrong.append((host, origin, endpoint[0], status))
    assert len(cases) == 15 * 11 * 9
    assert wrong == [], f"{len(wrong)} of {len(cases)} answered wrongly: {wrong[:20]}"


def test_a_remote_playground_accepts_its_host_and_the_names_given():
    app = create_app(port=PORT, host="192.0.2.7", token="s3cret", allowed=["Playground.LAN"])
    with TestClient(app, base_url=f"http://playground.lan:{PORT}") as client:
        assert client.get("/?token=s3cret").status_code == 200
        for host in (f"192.0.2.7:{PORT}", f"127.0.0.1:{PORT}"):
            assert client.get("/?token=s3cret", headers={"host": host}).status_code == 200
        refused = client.get("/?token=s3cret", headers={"host": f"evil.example:{PORT}"})
        assert refused.status_code == 403 and "--allowed-host" in refused.json()["error"]


def test_the_refusals_say_why():
    with TestClient(create_app(port=PORT), base_url=f"http://127.0.0.1:{PORT}") as client:
        rebound = client.get("/", headers={"host": f"evil.example:{PORT}"}).json()["error"]
        assert "Host 'evil.example:8765' does not name this playground" in rebound
        other = client.post("/api/session/x/upload", headers={"origin": "http://evil.example"})
        assert "a page of 'http://evil.example' may not drive" in other.json()["error"]
        bare = client.post("/api/session/x/upload").json()["error"]
        assert "no Origin" in bare


def test_every_response_forbids_framing_and_sniffing():
    page = f"http://127.0.0.1:{PORT}"
    with TestClient(create_app(port=PORT), base_url=page, headers={"origin": page}) as client:
        answers = [
            client.get("/"),
            client.get("/static/app.js"),
            client.get("/static/style.css"),
            client.get("/api/options"),
            client.get("/static/nothing.js"),  # 404
            client.get("/api/session/nosuch/history.csv"),  # 404
            client.post("/api/session/nosuch/upload", content=CSV),  # 404
            client.put("/api/session/nosuch/upload"),  # 405
            client.get("/", headers={"host": "evil.example"}),  # 403
        ]
    assert [a.status_code for a in answers] == [200] * 4 + [404] * 3 + [405, 403]
    for answer in answers:
        assert {k: answer.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["content-security-policy"]
    assert SECURITY_HEADERS["x-content-type-options"] == "nosniff"
