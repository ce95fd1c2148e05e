"""Floods: a page that sends far more than the rate limit, or stops reading, costs the server a
bounded amount of memory, is closed (1008) when it keeps on, and every other tab goes on
training and receiving its snapshots.

The server is a real uvicorn process on 127.0.0.1 (a free port) started here, which stops by
itself after five minutes if the test cannot stop it; its memory is its resident set size
(``/proc/PID/status``). The flooding client writes prebuilt WebSocket frames on a bare socket
and never reads, as a hostile page would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the playground needs the extra nnmath[playground]")
if not Path("/proc/self/status").exists() or not Path("/proc/net/tcp").exists():
    pytest.skip("the server's memory and queues are read from /proc", allow_module_level=True)

from nnmath.playground import LIMITS  # noqa: E402
from playground_wire import frame, handshake, read_json  # noqa: E402

#: the flood: 10^6 messages, or as many as the server takes in FLOOD_SECONDS but at least
#: 100,000 (a shared 2-core machine takes fewer than 10^6, to keep the suite quick: the test
#: then checks that the last half of the flood adds almost nothing, so the bound holds per
#: message whatever the total);
#: NNMATH_FLOOD_SECONDS=120 lets the whole 10^6 through
FLOOD = int(os.environ.get("NNMATH_FLOOD_MESSAGES", 10**6))
FLOOD_SECONDS = float(os.environ.get("NNMATH_FLOOD_SECONDS", 6))
BLOCK = 10_000  # messages written with one sendall
SERVER = """
import json, sys, threading
from dataclasses import replace
from nnmath.playground.config import LIMITS
from nnmath.playground.serve import Server, bind
sock, address = bind("127.0.0.1", 0)
server = Server(sock, address, limits=replace(LIMITS, **json.loads(sys.argv[1])))
stop = threading.Timer(float(sys.argv[2]), lambda: setattr(server.server, "should_exit", True))
stop.daemon = True
stop.start()
print(address.port, flush=True)
server.run()
"""
DRAWN = '{"type":"drawn"}'  # the page's ack of a drawn snapshot
TRAIN = {"data": "spiral", "points": 400, "layers": [16, 16], "activations": ["tanh"]}


@contextmanager
def playground(**limits):
    """The server process with ``limits`` changed: ``(process, port)``."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, json.dumps(limits), "300"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        yield proc, int(proc.stdout.readline())
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # uvicorn waits for connections that never drain
            proc.kill()
            proc.wait(15)
        proc.stdout.close()


def page(port: int) -> dict[str, str]:
    return {"Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def unread(port: int, client: socket.socket) -> int:
    """Bytes the server has not yet read from ``client``'s connection (its receive queue)."""
    peer = f"0100007F:{client.getsockname()[1]:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[2] == peer:
            return int(fields[4].split(":")[1], 16)
    return 0


def drained(port: int, client: socket.socket, timeout: float = 120) -> None:
    """Wait until the server has read everything ``client`` sent."""
    deadline = time.monotonic() + timeout
    while unread(port, client) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the last chunk read, through the server's handler
    assert unread(port, client) == 0, "the server stopped reading"


class Tab(threading.Thread):
    """Another tab: it trains (play) at full speed and reads every message, noting each
    snapshot's time and step and acknowledging it as drawn, as the page does (the server
    sends the next snapshot only then)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        status, self.ws = handshake(port, page(port))
        assert status == 101 and read_json(self.ws)["type"] == "hello"
        self.ws.sendall(frame(json.dumps({"type": "config", "config": TRAIN})))
        while read_json(self.ws)["type"] != "snapshot":
            pass
        self.ws.sendall(frame(DRAWN))
        self.ws.sendall(frame('{"type": "pace", "epochs_per_second": null}'))
        self.ws.sendall(frame('{"type": "play"}'))
        self.snapshots: list[tuple[float, int]] = []

    def run(self) -> None:
        try:
            while True:
                msg = read_json(self.ws)
                if msg["type"] == "snapshot":
                    self.snapshots.append((time.monotonic(), msg["step"]))
                    self.ws.sendall(frame(DRAWN))
        except (OSError, ConnectionError):
            return

    def between(self, t0: float, t1: float) -> list[int]:
        return [step for t, step in self.snapshots if t0 <= t <= t1]


def test_an_unread_flood_keeps_the_server_small_and_other_tabs_training():
    """With the flood-close lifted, so that every message of the flood is taken in: the error
    replies are one a burst and at most a few wait, so memory does not grow with the flood."""
    with playground(flood_messages=10**9) as (proc, port):
        tab = Tab(port)
        tab.start()
        status, flooder = handshake(port, page(port), rcvbuf=4096)  # it never reads
        opened = time.monotonic()
        assert status == 101
        block = frame('{"type": "pause"}') * BLOCK
        for _ in range(3):  # the server's buffers and allocator reach their working size
            flooder.sendall(block)
        drained(port, flooder)
        base, t0, sent, marks = rss_mb(proc.pid), time.monotonic(), 0, []
        while sent < FLOOD and (time.monotonic() - t0 < FLOOD_SECONDS or sent < 100_000):
            flooder.sendall(block)
            sent += BLOCK
            marks.append((sent, rss_mb(proc.pid)))
        drained(port, flooder)
        t1, end = time.monotonic(), rss_mb(proc.pid)
        peak = max([end, *(m for _, m in marks)])
        half = next(m for n, m in marks if n >= sent // 2)
        steps = tab.between(t0, t1)
        print(
            f"\nflood: {sent:,} messages in {t1 - t0:.1f} s; server RSS {base:.1f} MB before, "
            f"{peak:.1f} MB at most, {end:.1f} MB after ({end - half:+.2f} MB over the last "
            f"{sent - sent // 2:,}); the other tab: {len(steps)} snapshots, steps "
            f"{steps[:1]}..{steps[-1:]}"
        )
        assert peak - base < 50, f"the server grew by {peak - base:.1f} MB for {sent} messages"
        # per message: the last half of the flood (at least 50,000) adds under 100 bytes each,
        # where one error reply kept per message made it grow by about 300
        assert end - half < (sent - sent // 2) * 100 / 2**20, (half, end)
        assert len(steps) >= 5 and steps == sorted(steps) and steps[-1] > steps[0]
        flooder.settimeout(2)
        got = []
        try:
            while True:
                got.append(read_json(flooder))
        except (OSError, ConnectionError):
            pass
        print(f"the flooder was sent {len(got)} messages")
        assert got[0]["type"] == "hello" and {m["type"] for m in got} <= {"hello", "error"}
        # the rate lets at most `allowed` messages through; each may be refused itself (its
        # session's command queue full, on a busy machine) and be followed by one burst reply
        allowed = LIMITS.messages_per_second * (time.monotonic() - opened + 2)
        bursts = [m for m in got[1:] if m["message"].startswith("too many messages")]
        assert len(bursts) < allowed, f"{len(bursts)} burst replies to a flood of {sent}"
        assert len(got) - 1 - len(bursts) < allowed, f"{len(got)} replies to a flood of {sent}"
        flooder.close()
        tab.ws.close()


def test_a_connection_that_keeps_flooding_is_closed_1008():
    with playground() as (proc, port):
        tab = Tab(port)
        tab.start()
        status, flooder = handshake(port, page(port))
        base = rss_mb(proc.pid)
        flooder.sendall(frame('{"type": "pause"}') * 5000)
        with pytest.raises(ConnectionError, match="closed by the server: 1008 'flooding"):
            while True:
                read_json(flooder)
        seen = len(tab.snapshots)
        time.sleep(1.0)
        assert len(tab.snapshots) > seen  # the other tab goes on
        assert rss_mb(proc.pid) - base < 50
        flooder.close()
        tab.ws.close()


def test_a_page_that_stops_reading_is_closed_when_its_messages_pile_up():
    """Legitimate messages (a configuration each, within the rate) that the page never
    reads: past Limits.outbox_messages waiting, the server closes the connection."""
    with playground() as (proc, port):
        status, stuck = handshake(port, page(port), rcvbuf=4096)
        base = rss_mb(proc.pid)
        config = {**TRAIN, "points": 2000}
        for sent in range(1, 151):  # 150 runs built, each announced by a large message
            config["seed"] = sent
            try:
                stuck.sendall(frame(json.dumps({"type": "config", "config": config})))
            except OSError:  # the server has closed the connection
                break
            time.sleep(1 / 25)  # within the rate limit
        stuck.settimeout(10)
        kinds, closed = [], None
        try:
            while True:
                kinds.append(read_json(stuck)["type"])
        except (ConnectionError, TimeoutError) as exc:
            closed = exc
        print(f"\n{sent} configurations sent, {kinds.count('built')} built read back: {closed!r}")
        assert isinstance(closed, ConnectionError), "still open: its messages pile up"
        assert kinds.count("built") < sent
        assert rss_mb(proc.pid) - base < 50
        stuck.close()


def test_a_huge_message_is_refused_before_it_is_read_whole():
    """uvicorn closes the connection (1009) at 4 x Limits.message_bytes, instead of reading up
    to its default of 16 MiB into memory for the server to refuse afterwards."""
    with playground() as (proc, port):
        status, ws = handshake(port, page(port))
        assert read_json(ws)["type"] == "hello"
        try:
            ws.sendall(frame(" " * 2**20))
        except OSError:  # closed while the rest was still being written
            pass
        with pytest.raises(ConnectionError, match="1009|closed the connection|reset"):
            while True:
                read_json(ws)
        ws.close()
