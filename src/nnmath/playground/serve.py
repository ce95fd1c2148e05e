"""Starting the playground's server: the address, the token, uvicorn on a bound socket."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import LIMITS, Limits
from .server import create_app

__all__ = ["Address", "bind", "Server", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Address:
    host: str
    port: int
    token: str | None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")


def bind(host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False) -> tuple:
    """A listening socket on ``host:port`` (port 0: a free one) and its :class:`Address`.

    Raises
    ------
    ValueError
        For a host that is not loopback without ``allow_remote``.
    OSError
        When the port cannot be bound (say it is taken).
    """
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"--host {host} would let other machines in; the playground binds 127.0.0.1 unless "
            "you add --allow-remote (then every visitor needs the token in the printed address)"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    return sock, Address(host, sock.getsockname()[1], token)


class Server:
    """uvicorn serving the playground on a bound socket, in this thread or in a background
    one (``start``/``stop``, for the tests and the benchmark)."""

    def __init__(
        self,
        sock: socket.socket,
        address: Address,
        max_rate: float = 30.0,
        allowed: Iterable[str] = (),
        limits: Limits = LIMITS,
    ) -> None:
        import uvicorn

        self.sock, self.address = sock, address
        app = create_app(
            port=address.port,
            host=address.host,
            token=address.token,
            max_rate=max_rate,
            allowed=allowed,
            limits=limits,
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            ws="websockets-sansio",
            lifespan="off",
            # a larger message is refused (close 1009) before it is read whole into memory
            ws_max_size=4 * limits.message_bytes,
        )
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self, timeout: float = 10.0) -> Server:
        import time

        self.thread = threading.Thread(target=self.run, name="nnmath-playground-server")
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the playground's server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
        self.sock.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
