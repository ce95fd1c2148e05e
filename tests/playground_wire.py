"""The playground's protocols on a bare socket, for the tests that need every header in their
hands (a missing ``Host``, a forged ``Origin``) or a client far faster than a library's: HTTP/1.1
requests and RFC 6455 WebSocket frames, written here in a few lines each."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct


def _head(method: str, path: str, headers: dict[str, str | None]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _status(head: bytes) -> tuple[int, dict[str, str]]:
    first, *rest = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(":", 1) for line in rest if ":" in line)
    return int(first.split()[1]), {k.strip().lower(): v.strip() for k, v in fields.items()}


def request(
    port: int, method: str, path: str, headers: dict[str, str | None], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request on its own connection: the status, the headers and the body.
    ``headers`` is sent as given (a ``None`` value: the header left out)."""
    extra = {"Connection": "close", "Content-Length": str(len(body)) if body else None}
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(_head(method, path, {**headers, **extra}) + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status, fields = _status(head)
    return status, fields, rest


def handshake(
    port: int, headers: dict[str, str | None], path: str = "/ws", rcvbuf: int | None = None
) -> tuple:
    """Open a WebSocket: ``(status, socket)``; the socket is closed unless the status is 101.
    ``rcvbuf``: a small receive buffer, so that a client that does not read fills up soon."""
    key = base64.b64encode(os.urandom(16)).decode()
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
    }
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connecting: the window is agreed then
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(_head("GET", path, {**headers, **upgrade}))
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(1)  # one byte at a time: the first frame stays in the socket
        if not chunk:
            break
        data += chunk
    status = _status(data.partition(b"\r\n\r\n")[0])[0] if data else 0
    if status != 101:
        s.close()
    return status, s


def frame(text: str, opcode: int = 0x1) -> bytes:
    """A client's frame, text by default (masked, as RFC 6455 requires of clients; the key
    is zero, which leaves the payload as it is)."""
    payload = text.encode("latin-1" if opcode != 0x1 else "utf-8")
    n = len(payload)
    if n < 126:
        size = bytes([0x80 | n])
    elif n < 2**16:
        size = bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        size = bytes([0x80 | 127]) + struct.pack("!Q", n)
    return bytes([0x80 | opcode]) + size + b"\x00\x00\x00\x00" + payload


def _exactly(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def read_frame(s: socket.socket) -> tuple[int, bytes]:
    """The next frame from the server: its opcode and payload (servers do not mask)."""
    first, second = _exactly(s, 2)
    n = second & 0x7F
    if n == 126:
        n = struct.unpack("!H", _exactly(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _exactly(s, 8))[0]
    return first & 0x0F, _exactly(s, n)


def read_json(s: socket.socket) -> dict:
    """The next text message, parsed; the server's pings are answered on the way (a close
    frame raises ConnectionError with its code)."""
    while True:
        opcode, payload = read_frame(s)
        if opcode == 0x9:  # uvicorn's keep-alive ping: a live client answers with a pong
            s.sendall(frame(payload.decode("latin-1"), opcode=0xA))
        elif opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            raise ConnectionError(f"closed by the server: {code} {payload[2:].decode()!r}")
        elif opcode == 0x1:
            return json.loads(payload)
