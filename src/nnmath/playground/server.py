"""The playground's ASGI application (Starlette): the page, its API and one WebSocket a tab.

Routes::

    GET  /                              the page (static/index.html)
    GET  /static/{app.js,style.css}     its assets, from a fixed table (no path is looked up)
    GET  /api/options                   the registries' names, the defaults and the limits
    WS   /ws                            one session: commands in, snapshots out
    POST /api/session/{id}/upload       a CSV text (at most Limits.upload_bytes)
    GET  /api/session/{id}/model.safetensors, model.onnx, history.csv

Each WebSocket is a :class:`~nnmath.playground.session.Session` with its own worker thread;
the event loop only parses, checks and forwards messages, so the page stays responsive while
a network trains. Every bad message is answered with ``{"type": "error", "message": ...}``
and the connection (and every other session) goes on. With a ``token`` every request must
carry it (``?token=...`` once; the page then has a cookie).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import secrets
import threading
import time
from collections import deque
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .config import LIMITS, Config, ConfigError, _integer, _number, options, parse_config
from .export import has_onnx
from .session import Session
from .upload import parse_csv

__all__ = ["create_app", "ASSETS"]

#: the files the page may ask for, and their media types; nothing else is ever served
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
COMMANDS = ("play", "pause", "step", "epoch", "reset")
COOKIE = "nnmath_playground_token"


def _asset(name: str) -> bytes:
    return resources.files("nnmath.playground").joinpath("static", name).read_bytes()


def _clean(value: Any) -> Any:
    """``value`` with NaN and ±∞ as ``null`` (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class Outbox:
    """Messages from a session's worker thread to its WebSocket: every message in order,
    except snapshots, of which only the newest waits (a slow page skips, never lags)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: deque[dict[str, Any]] = deque()
        self.latest: dict[str, Any] | None = None
        self.wake = asyncio.Event()
        self.snapshot_busy = threading.Event()  # set from the snapshot's put to its send

    def put(self, msg: dict[str, Any], droppable: bool) -> None:
        """Thread-safe."""
        if droppable:
            self.snapshot_busy.set()
        try:
            self.loop.call_soon_threadsafe(self._put, msg, droppable)
        except RuntimeError:  # the loop has closed: the tab is gone
            pass

    def _put(self, msg: dict[str, Any], droppable: bool) -> None:
        if droppable:
            self.latest = msg
        else:
            self.queue.append(msg)
        self.wake.set()

    def ready(self) -> bool:
        """Whether the last snapshot has been sent (thread-safe)."""
        return not self.snapshot_busy.is_set()

    async def pump(self, ws: WebSocket) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                await ws.send_text(json.dumps(_clean(self.queue.popleft())))
            if self.latest is not None:
                msg, self.latest = self.latest, None
                await ws.send_text(json.dumps(_clean(msg)))
                self.snapshot_busy.clear()


class RateLimit:
    """At most ``rate`` messages in any second (a token bucket of ``rate`` tokens)."""

    def __init__(self, rate: int) -> None:
        self.rate, self.tokens, self.t = rate, float(rate), time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _message(text: str) -> tuple[str, Any]:
    """A WebSocket message checked: the session command and its payload.

    Raises
    ------
    ConfigError
        For anything but a JSON object of a known type with valid fields.
    """
    try:
        msg = json.loads(text)
    except ValueError:
        raise ConfigError('a message must be a JSON object such as {"type": "play"}') from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ConfigError('a message must be a JSON object with a "type"')
    kind = msg["type"]
    if kind in COMMANDS:
        return kind, None
    if kind == "config":
        return kind, parse_config(msg.get("config"))
    if kind == "trace":
        split = msg.get("split", "train")
        if split not in ("train", "test"):
            raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
        return kind, (split, _integer(msg, "index", 0, 0, LIMITS.points))
    if kind == "unit":
        layer = _integer(msg, "layer", 2, 2, LIMITS.hidden_layers + 2)
        return kind, (layer, _integer(msg, "unit", 0, 0, max(LIMITS.units, LIMITS.classes)))
    known = ", ".join([*COMMANDS, "config", "trace", "unit"])
    raise ConfigError(f"unknown message type {kind!r}; the types are: {known}")


class Playground:
    """The application's state: the sessions by id, the token, the snapshot rate."""

    def __init__(self, token: str | None, max_rate: float) -> None:
        self.token, self.max_rate = token, max_rate
        self.sessions: dict[str, Session] = {}

    def allowed(self, conn: HTTPConnection) -> bool:
        if self.token is None:
            return True
        given = conn.query_params.get("token") or conn.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def page(self, request: Request) -> Response:
        if not self.allowed(request):
            return _refuse()
        response = Response(_asset("index.html"), media_type=ASSETS["index.html"])
        if self.token is not None:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS or name == "index.html":
            return JSONResponse({"error": f"no asset {name!r}"}, status_code=404)
        if not self.allowed(request):
            return _refuse()
        return Response(_asset(name), media_type=ASSETS[name])

    async def options(self, request: Request) -> Response:
        if not self.allowed(request):
            return _refuse()
        return JSONResponse({**options(), "onnx": has_onnx()})

    def _session(self, request: Request) -> Session | Response:
        if not self.allowed(request):
            return _refuse()
        session = self.sessions.get(request.path_params["sid"])
        if session is None:
            return _error(404, "no such session (its tab was closed or the server restarted)")
        return session

    async def export(self, request: Request) -> Response:
        session = self._session(request)
        if isinstance(session, Response):
            return session
        name = request.path_params["name"]
        kinds = {"model.safetensors": "safetensors", "model.onnx": "onnx", "history.csv": None}
        if name not in kinds:
            return _error(404, f"no export {name!r}; there are: {', '.join(kinds)}")
        command = ("history", None) if kinds[name] is None else ("model", kinds[name])
        try:
            data = await asyncio.wait_for(asyncio.wrap_future(session.command(*command)), 30)
        except (ValueError, TimeoutError) as exc:
            return _error(409, str(exc) or "the session did not answer in time")
        media = "text/csv" if name.endswith(".csv") else "application/octet-stream"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type=media, headers=disposition)

    async def upload(self, request: Request) -> Response:
        session = self._session(request)
        if isinstance(session, Response):
            return session
        limit = LIMITS.upload_bytes
        too_big = f"the file is larger than {limit // 1024} KiB, the upload limit"
        if int(request.headers.get("content-length") or 0) > limit:
            return _error(413, too_big)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _error(413, too_big)
        try:
            text = body.decode("utf-8-sig")
            c = session.config or Config()
            q = dict(request.query_params)
            fraction = _number(q, "train_fraction", c.train_fraction, 0.1, 0.9)
            seed = _integer(q, "seed", c.seed, 0, 2**31 - 1)
            data, summary = await run_in_threadpool(parse_csv, text, fraction, seed)
        except UnicodeDecodeError:
            return _error(400, "the file is not UTF-8 text; save it as a plain CSV file")
        except ConfigError as exc:
            return _error(400, str(exc))
        session.command("upload", (data, summary))
        return JSONResponse(summary)

    async def websocket(self, ws: WebSocket) -> None:
        if not self.allowed(ws) or not _same_origin(ws):
            await ws.close(code=1008, reason="refused: wrong token or another site's page")
            return
        await ws.accept()
        if len(self.sessions) >= LIMITS.sessions:
            message = f"too many sessions: at most {LIMITS.sessions} tabs at once; close one"
            await ws.send_text(json.dumps({"type": "error", "message": message}))
            await ws.close(code=1013, reason="too many sessions")
            return
        await self._run_session(ws)

    async def _run_session(self, ws: WebSocket) -> None:
        outbox = Outbox(asyncio.get_running_loop())
        session = Session(outbox.put, outbox.ready, self.max_rate)
        sid = secrets.token_urlsafe(12)
        self.sessions[sid] = session
        session.start()
        pump = asyncio.create_task(outbox.pump(ws))
        outbox.put({"type": "hello", "session": sid}, False)
        try:
            await self._receive(ws, session, outbox)
        except WebSocketDisconnect:
            pass
        finally:
            session.command("close")
            self.sessions.pop(sid, None)
            pump.cancel()

    async def _receive(self, ws: WebSocket, session: Session, outbox: Outbox) -> None:
        limit = RateLimit(LIMITS.messages_per_second)
        while True:
            event = await ws.receive()
            if event["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(event.get("code", 1000))
            text = event.get("text")
            try:
                if not limit.allow():
                    raise ConfigError(
                        f"too many messages: at most {LIMITS.messages_per_second} a second; "
                        "this one was ignored"
                    )
                if text is None:
                    raise ConfigError("send text messages (JSON), not bytes")
                if len(text) > LIMITS.message_bytes:
                    raise ConfigError(f"a message may have at most {LIMITS.message_bytes} bytes")
                session.command(*_message(text))
            except ConfigError as exc:
                outbox.put({"type": "error", "message": str(exc)}, False)


def _same_origin(ws: WebSocket) -> bool:
    """A browser's WebSocket from a page of this server (or a client that is no browser)."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1] == ws.headers.get("host")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _refuse() -> JSONResponse:
    return _error(403, "this playground needs its token: open the address it printed")


def create_app(token: str | None = None, max_rate: float = 30.0) -> Starlette:
    """The playground as an ASGI application.

    Parameters
    ----------
    token : str, optional
        When given, every request must carry it (``?token=``, then a cookie).
    max_rate : float
        The most snapshots a session sends per second while training.
    """
    pg = Playground(token, max_rate)
    routes = [
        Route("/", pg.page),
        Route("/static/{name}", pg.static),
        Route("/api/options", pg.options),
        Route("/api/session/{sid}/upload", pg.upload, methods=["POST"]),
        Route("/api/session/{sid}/{name}", pg.export),
        WebSocketRoute("/ws", pg.websocket),
    ]
    app = Starlette(routes=routes)
    app.state.playground = pg
    return app
