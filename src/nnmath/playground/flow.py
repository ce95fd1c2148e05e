"""What flows through one tab's WebSocket, bounded both ways.

Out (:class:`Outbox`): a page that stops reading must not make the server keep what it does
not read. The newest snapshot replaces the one waiting, and the session makes the next one
only when the page has said it drew the last (``{"type": "drawn"}``, :meth:`Outbox.drawn`):
back-pressure, so that a slow browser gets fewer frames, never a backlog. At most a few error
replies wait and the others are only counted; every other message waits in order up to a
limit, past which the page is taken to have stopped reading and its connection is closed.

In (:class:`RateLimit`): at most a number of messages a second; those over it are ignored
(the first of a burst gets one error reply), and a connection that keeps sending over it is
flooding and is closed.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from typing import Any

from starlette.websockets import WebSocket

__all__ = ["Outbox", "RateLimit", "clean"]

#: the most error replies that wait for a page that does not read; later ones are counted
WAITING_ERRORS = 4


def clean(value: Any) -> Any:
    """``value`` with NaN and ±∞ as ``null`` (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


class Outbox:
    """Messages from a session's worker thread (and the event loop) to its WebSocket: every
    message in order, except snapshots, of which only the newest waits (a slow page skips,
    never lags), and error replies, of which at most :data:`WAITING_ERRORS` wait.

    Parameters
    ----------
    loop : asyncio.AbstractEventLoop
        The loop of the WebSocket.
    limit : int
        The most other messages that may wait; one more sets :attr:`overflow`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop, self.limit = loop, limit
        self.queue: deque[dict[str, Any]] = deque()
        self.latest: dict[str, Any] | None = None
        self.errors = 0  # error replies in the queue
        self.dropped = 0  # error replies not queued since the last one sent
        self.wake = asyncio.Event()
        self.overflow = asyncio.Event()  # the page has stopped reading: close it
        # set from a snapshot's put until the page has drawn every snapshot sent
        self.snapshot_busy = threading.Event()
        self.undrawn = 0  # snapshots sent that the page has not yet said it drew

    def put(self, msg: dict[str, Any], droppable: bool) -> None:
        """Thread-safe."""
        if droppable:
            self.snapshot_busy.set()
        try:
            self.loop.call_soon_threadsafe(self.put_now, msg, droppable)
        except RuntimeError:  # the loop has closed: the tab is gone
            pass

    def put_now(self, msg: dict[str, Any], droppable: bool = False) -> None:
        """From the event loop's thread only."""
        if droppable:
            self.latest = msg
        elif msg.get("type") == "error":
            if self.errors >= WAITING_ERRORS:
                self.dropped += 1
                return
            self.errors += 1
            self.queue.append(msg)
        elif len(self.queue) >= self.limit:
            self.overflow.set()
            return
        else:
            self.queue.append(msg)
        self.wake.set()

    def ready(self) -> bool:
        """Whether the page has drawn the last snapshot (thread-safe)."""
        return not self.snapshot_busy.is_set()

    def drawn(self) -> bool:
        """The page drew a snapshot (from the event loop's thread); False when none was
        waiting to be drawn (an ack the page owed nothing for)."""
        if self.undrawn == 0:
            return False
        self.undrawn -= 1
        if self.undrawn == 0 and self.latest is None:
            self.snapshot_busy.clear()
        return True

    async def pump(self, ws: WebSocket) -> None:
        """Send what waits, as the page reads it (each send waits while the socket is full)."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                msg = self.queue.popleft()
                self.errors -= msg.get("type") == "error"
                await ws.send_text(json.dumps(clean(msg)))
                if self.dropped and not self.errors:
                    text = (
                        f"{self.dropped} more error message(s) were not sent: the page sent "
                        "faster than it read the answers"
                    )
                    self.dropped = 0
                    await ws.send_text(json.dumps({"type": "error", "message": text}))
            if self.latest is not None:
                msg, self.latest = self.latest, None
                self.undrawn += 1
                await ws.send_text(json.dumps(clean(msg)))


class RateLimit:
    """At most ``rate`` messages in any second (a token bucket of ``rate`` tokens); more than
    ``flood`` messages over it within ``window`` seconds is a flood."""

    def __init__(self, rate: int, flood: int, window: float) -> None:
        self.rate, self.tokens, self.t = rate, float(rate), time.monotonic()
        self.flood, self.window = flood, window
        self.over, self.since = 0, self.t  # messages over the rate in the current window
        self.burst = 0  # messages over the rate since the last one allowed

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.burst = 0
            return True
        if now - self.since > self.window:
            self.over, self.since = 0, now
        self.over += 1
        self.burst += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.over > self.flood
