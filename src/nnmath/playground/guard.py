"""Who may drive the playground: its own page only (the ``Host`` and ``Origin`` checks), and
the headers every response carries.

A page on another site cannot read the playground's answers, but it can make a browser send
requests to 127.0.0.1 and, by DNS rebinding (its own name resolving to 127.0.0.1 a moment
later), even become "same-origin" with it. So, as Jupyter does:

* every request must name the server by one of the names it is bound to in ``Host``
  (127.0.0.1, ``localhost``, ``[::1]`` or the ``--host`` given, with the bound port); a
  rebound name is refused (HTTP 403, the WebSocket closed before it is accepted);
* the WebSocket and every request that changes state (any method but GET, HEAD, OPTIONS)
  must carry an ``Origin`` that is one of those names: browsers always send it there, so a
  missing one is refused too; any other request that carries an ``Origin`` must carry one of
  ours;
* every response forbids framing and MIME sniffing and keeps the address (and its token) out
  of ``Referer``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

__all__ = ["SECURITY_HEADERS", "Guard", "allowed_hosts", "LOOPBACK_NAMES"]

#: the names of this machine a browser on it may use for a loopback server
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",  # the speeds table colours its rows with style=""
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
#: sent with every HTTP response (the page, its assets, the API, the refusals)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "referrer-policy": "no-referrer",  # a remote playground's address carries its token
    "cross-origin-resource-policy": "same-origin",
}


def _name(host: str) -> str:
    """``host`` as a browser writes it in ``Host``: IPv6 addresses in brackets, lower case."""
    host = host.strip().lower()
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


def _this_machine() -> set[str]:
    """The names and addresses by which other machines may reach this one (best effort)."""
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    try:  # the address of the route out: no packet is sent by connecting a UDP socket
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            names.add(s.getsockname()[0])
    except OSError:
        pass
    return {n for n in names if n}


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` values a server bound to ``host:port`` accepts.

    Parameters
    ----------
    host : str
        The address it listens on. A wildcard (``0.0.0.0``, ``::``) stands for every address
        of this machine: its host names and the addresses they resolve to.
    port : int
        The bound port; a name is accepted without it only where browsers leave it out (80).
    extra : iterable of str
        More names (``--allowed-host``), say the name a classroom types.

    Returns
    -------
    frozenset of str
        Lower-case ``name:port`` values (and bare names for port 80).
    """
    names = {*LOOPBACK_NAMES, host, *extra}
    if host in ("0.0.0.0", "::", ""):
        names |= _this_machine()
    names = {_name(n) for n in names if n not in ("0.0.0.0", "::", "")}
    with_port = {f"{n}:{port}" for n in names}
    return frozenset(with_port | names if port == 80 else with_port)


class Guard:
    """ASGI middleware: refuses requests that do not name this server or come from another
    site's page, and adds :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: Any, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts
        self.state = app.state  # the application's state, where the tests look

    def refusal(self, kind: str, method: str, headers: Headers) -> str | None:
        """Why a request is refused, or None."""
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            return (
                f"refused: Host {host!r} does not name this playground; open the address it "
                "printed (or start it with --allowed-host NAME)"
            )
        origin = headers.get("origin")
        if origin is None:
            if kind == "websocket" or method not in SAFE_METHODS:
                return "refused: no Origin; only the playground's own page may do this"
            return None
        scheme, _, name = origin.lower().partition("://")
        if scheme != "http" or name not in self.hosts:
            return f"refused: a page of {origin!r} may not drive this playground"
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        why = self.refusal(scope["type"], scope.get("method", "GET"), Headers(scope=scope))
        if why is not None and scope["type"] == "websocket":
            reason = why.encode()[:120].decode(errors="ignore")  # a close frame holds 123 bytes
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        if why is not None:
            await JSONResponse({"error": why}, 403, SECURITY_HEADERS)(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                given = {bytes(k).lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                extra = [(k, v) for k, v in extra if k not in given]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
