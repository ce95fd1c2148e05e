"""The playground's ASGI application (Starlette): the page, its API and one WebSocket a tab.

Routes::

    GET  /                              the page (static/index.html)
    GET  /static/{app.js,charts.js,style.css}  its assets, from a fixed table (no lookup)
    GET  /api/options                   the registries' names, the defaults and the limits
    WS   /ws                            one session: commands in, snapshots out; the page
                                        acks each snapshot it drew ({"type": "drawn"}) and
                                        sets the pace ({"type": "pace", ...} epochs a second)
    POST /api/session/{id}/upload       a CSV text (at most Limits.upload_bytes)
    GET  /api/session/{id}/model.safetensors, model.onnx, history.csv

Each WebSocket is a :class:`~nnmath.playground.session.Session` with its own worker thread;
the event loop only parses, checks and forwards messages, so the page stays responsive while
a network trains. Every bad message is answered with ``{"type": "error", "message": ...}``
and the connection (and every other session) goes on; what a page sends and is sent is
bounded (:mod:`.flow`), and a page that floods or stops reading is disconnected (1008). Only
the playground's own page gets through (:mod:`.guard`: ``Host`` and ``Origin``). With a
``token`` every request must carry it (``?token=...`` once; the page then has a cookie).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
from collections.abc import Iterable
from concurrent.futures import Future
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from .config import LIMITS, Config, ConfigError, Limits, _integer, _number, options, parse_config
from .export import has_onnx
from .flow import Outbox, RateLimit
from .guard import Guard, allowed_hosts
from .session import PACE, Session
from .upload import parse_csv

__all__ = ["create_app", "ASSETS"]

#: the files the page may ask for, and their media types; nothing else is ever served
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
COMMANDS = ("play", "pause", "step", "epoch", "reset")
COOKIE = "nnmath_playground_token"
#: the page's acknowledgement of a drawn snapshot, exactly as its JSON.stringify writes it;
#: one per snapshot sent does not count against the rate limit (the server asked for it)
DRAWN = '{"type":"drawn"}'
#: the fastest pace a page may ask for, in epochs a second (faster: "full", null)
MAX_PACE = 1000.0


def _asset(name: str) -> bytes:
    return resources.files("nnmath.playground").joinpath("static", name).read_bytes()


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
    if kind == "pace":
        pace = msg.get("epochs_per_second")
        return kind, None if pace is None else _number(msg, "epochs_per_second", 1, 0.01, MAX_PACE)
    if kind == "config":
        return kind, parse_config(msg.get("config"))
    if kind == "trace":
        split = msg.get("split", "train")
        if split not in ("train", "test"):
            raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
        return kind, (split, _integer(msg, "index", 0, 0, LIMITS.points))
    if kind == "drawn":
        return kind, None
    if kind == "unit":
        layer = _integer(msg, "layer", 2, 2, LIMITS.hidden_layers + 2)
        return kind, (layer, _integer(msg, "unit", 0, 0, max(LIMITS.units, LIMITS.classes)))
    known = ", ".join([*COMMANDS, "config", "trace", "unit", "pace", "drawn"])
    raise ConfigError(f"unknown message type {kind!r}; the types are: {known}")


class Playground:
    """The application's state: the sessions by id, the token, the snapshot rate, the limits."""

    def __init__(self, token: str | None, max_rate: float, limits: Limits = LIMITS) -> None:
        self.token, self.max_rate, self.limits = token, max_rate, limits
        self.sessions: dict[str, Session] = {}

    def queue(self, session: Session, kind: str, payload: Any = None) -> Future:
        """Hand a command to ``session``'s worker, unless too many wait already.

        Raises
        ------
        ConfigError
            When :attr:`Limits.pending_commands` commands wait for the worker.
        """
        if session.commands.qsize() >= self.limits.pending_commands:
            raise ConfigError(
                f"the run has {self.limits.pending_commands} commands waiting; "
                "this one was ignored, try again in a moment"
            )
        return session.command(kind, payload)

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
        return JSONResponse({**options(), "onnx": has_onnx(), "pace": PACE})

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
            data = await asyncio.wait_for(asyncio.wrap_future(self.queue(session, *command)), 30)
        except (ValueError, NotImplementedError, TimeoutError) as exc:  # refused: say why
            return _error(409, str(exc) or "the session did not answer in time")
        media = "text/csv" if name.endswith(".csv") else "application/octet-stream"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type=media, headers=disposition)

    async def upload(self, request: Request) -> Response:
        session = self._session(request)
        if isinstance(session, Response):
            return session
        limit = self.limits.upload_bytes
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
        try:
            self.queue(session, "upload", (data, summary))
        except ConfigError as exc:
            return _error(409, str(exc))
        return JSONResponse(summary)

    async def websocket(self, ws: WebSocket) -> None:
        if not self.allowed(ws):  # Host and Origin were checked by the Guard
            await ws.close(code=1008, reason="refused: this playground needs its token")
            return
        await ws.accept()
        if len(self.sessions) >= self.limits.sessions:
            message = f"too many sessions: at most {self.limits.sessions} tabs at once; close one"
            await ws.send_text(json.dumps({"type": "error", "message": message}))
            await ws.close(code=1013, reason="too many sessions")
            return
        await self._run_session(ws)

    async def _run_session(self, ws: WebSocket) -> None:
        """Serve one tab until it goes, floods, or stops reading what it is sent."""
        outbox = Outbox(asyncio.get_running_loop(), self.limits.outbox_messages)
        session = Session(outbox.put, outbox.ready, self.max_rate)
        sid = secrets.token_urlsafe(12)
        self.sessions[sid] = session
        session.start()
        outbox.put_now({"type": "hello", "session": sid})
        tasks = [
            asyncio.create_task(outbox.pump(ws)),
            asyncio.create_task(self._receive(ws, session, outbox)),
            asyncio.create_task(outbox.overflow.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            session.command("close")
            self.sessions.pop(sid, None)
        why = None
        for task in done:  # a send to a page that has gone ends the pump with an exception
            if not task.cancelled() and task.exception() is None and task is not tasks[0]:
                why = task.result() if task is tasks[1] else (1008, "the page does not read")
        if why is not None:  # a page that does not read may never take the close frame
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(*why), 1.0)

    async def _receive(self, ws: WebSocket, session: Session, outbox: Outbox) -> Any:
        """Forward the page's messages; ``(code, reason)`` to close a flood, None when the
        page has gone."""
        lim = self.limits
        limit = RateLimit(lim.messages_per_second, lim.flood_messages, lim.flood_seconds)
        while True:
            event = await ws.receive()
            if event["type"] == "websocket.disconnect":
                return None
            if event.get("text") == DRAWN and outbox.drawn():
                continue
            if not limit.allow():
                if limit.flooding:
                    return 1008, (
                        f"flooding: more than {lim.flood_messages} messages over the limit of "
                        f"{lim.messages_per_second} a second within {lim.flood_seconds:g} s"
                    )
                if limit.burst == 1:  # one reply a burst; the rest are ignored silently
                    message = (
                        f"too many messages: at most {lim.messages_per_second} a second; "
                        "those over it are ignored"
                    )
                    outbox.put_now({"type": "error", "message": message})
                continue
            try:
                text = event.get("text")
                if text is None:
                    raise ConfigError("send text messages (JSON), not bytes")
                if len(text) > lim.message_bytes:
                    raise ConfigError(f"a message may have at most {lim.message_bytes} bytes")
                kind, payload = _message(text)
                if kind == "drawn":  # not in the exact form, or owed nothing: counted
                    outbox.drawn()
                    continue
                self.queue(session, kind, payload)
            except ConfigError as exc:
                outbox.put_now({"type": "error", "message": str(exc)})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _refuse() -> JSONResponse:
    return _error(403, "this playground needs its token: open the address it printed")


def create_app(
    *,
    port: int,
    host: str = "127.0.0.1",
    token: str | None = None,
    max_rate: float = 30.0,
    allowed: Iterable[str] = (),
    limits: Limits = LIMITS,
) -> Guard:
    """The playground as an ASGI application, for a server bound to ``host:port``.

    Parameters
    ----------
    port : int
        The port it is served on: requests must name it in ``Host`` (and ``Origin``).
    host : str
        The address it is served on; the loopback names are always accepted.
    token : str, optional
        When given, every request must carry it (``?token=``, then a cookie).
    max_rate : float
        The most snapshots a session sends per second while training.
    allowed : iterable of str
        More names by which browsers may reach it (``--allowed-host``).
    limits : Limits
        What a page may ask for and send (:data:`~nnmath.playground.config.LIMITS`).
    """
    pg = Playground(token, max_rate, limits)
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
    return Guard(app, allowed_hosts(host, port, allowed))
