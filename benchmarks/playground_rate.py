"""How often the playground's views update while a network trains: snapshots a second.

A real uvicorn server on 127.0.0.1 (a free port) and a WebSocket client (the ``websockets``
package) that does what the page does: send a configuration, press play, and read every
message. The figure is the number of snapshots received per second over ``--seconds``, with
the issue's network (8 hidden layers of 8 units, 500 points; goal: at least 20 a second on
this 2-core machine). Beside it: the epochs trained per second while the page is updated, and
the time one snapshot takes to compute (regions on a 48 x 48 grid, every hidden unit's map,
the weights, four scores and ‖∂C/∂b^l‖ of every layer), measured on its own.

Usage::

    python benchmarks/playground_rate.py
    python benchmarks/playground_rate.py --seconds 10 --max-rate 1000   # the headroom
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

CONFIG = {
    "data": "spiral",
    "points": 500,
    "layers": [8] * 8,
    "activations": ["sigmoid"] * 8,
    "optimizer": "sgd",
    "eta": 0.1,
}


def snapshot_time(repeats: int = 50) -> float:
    """Seconds to compute one snapshot of the benchmark's network, alone."""
    from nnmath.playground.config import parse_config
    from nnmath.playground.layered import plan_of
    from nnmath.playground.session import build_network
    from nnmath.playground.snapshot import Grid, network_inputs, snapshot
    from nnmath.playground.toy import make_toy

    c = parse_config(CONFIG)
    data = make_toy(c.data, c.points, c.noise, c.train_fraction, c.seed)
    net, grid = build_network(c, data.n_outputs), Grid(data.bounds(), c.features, data.dims)
    views = (network_inputs(data, c.features), plan_of(c, data.n_outputs))
    snapshot(net, data, grid, 0.0, 0, *views)
    t0 = time.perf_counter()
    for _ in range(repeats):
        snapshot(net, data, grid, 0.0, 0, *views)
    return (time.perf_counter() - t0) / repeats


def measure(seconds: float, max_rate: float) -> dict[str, float]:
    """Snapshots and epochs per second seen by a client while the run plays."""
    from websockets.sync.client import connect

    from nnmath.playground.serve import Server, bind

    sock, address = bind("127.0.0.1", 0)
    with Server(sock, address, max_rate=max_rate):
        page = f"http://127.0.0.1:{address.port}"  # the server accepts its own page only
        with connect(f"ws://127.0.0.1:{address.port}/ws", origin=page, max_size=2**24) as ws:
            json.loads(ws.recv())  # hello
            ws.send(json.dumps({"type": "config", "config": CONFIG}))
            while json.loads(ws.recv())["type"] != "snapshot":
                pass
            ws.send(json.dumps({"type": "play"}))
            while json.loads(ws.recv()).get("mode") != "play":  # the first while playing
                pass
            n, t0, first_epoch = 0, time.perf_counter(), None
            while time.perf_counter() - t0 < seconds:
                msg = json.loads(ws.recv())
                if msg["type"] == "snapshot":
                    n += 1
                    first_epoch = msg["epoch"] if first_epoch is None else first_epoch
                    last_epoch = msg["epoch"]
            elapsed = time.perf_counter() - t0
            ws.send(json.dumps({"type": "pause"}))
    return {"updates_per_s": n / elapsed, "epochs_per_s": (last_epoch - first_epoch) / elapsed}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="how long to play (10)")
    p.add_argument(
        "--max-rate", type=float, default=30.0, help="the server's cap on snapshots a second (30)"
    )
    args = p.parse_args()
    one = snapshot_time()
    r = measure(args.seconds, args.max_rate)
    print(
        f"8 hidden layers x 8 units, 500 points, cap {args.max_rate:g}/s: "
        f"{r['updates_per_s']:.1f} updates/s while training ({r['epochs_per_s']:.1f} epochs/s); "
        f"one snapshot alone {one * 1e3:.1f} ms"
    )
    goal = min(20.0, args.max_rate)
    print("goal >= 20/s:", "met" if r["updates_per_s"] >= goal else "NOT met")
    return 0 if r["updates_per_s"] >= goal else 1


if __name__ == "__main__":
    sys.exit(main())
