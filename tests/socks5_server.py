"""A SOCKS5 proxy on 127.0.0.1 for tests (RFC 1928, RFC 1929), standard library only.

It records every CONNECT request (the host name or address as the client sent it, the
port, and the user name offered), and it resolves names that only it knows: every
name under ``proxy-only.test`` (``smtp.proxy-only.test``...) means 127.0.0.1. No
resolver on the machine knows those names, so a client that resolved or connected
directly would fail: a test that passes through this proxy proves the name went to
the proxy. It never connects anywhere but 127.0.0.1::

    from socks5_server import running_socks5

    with running_socks5() as proxy:
        ...  # proxy = f"socks5://127.0.0.1:{proxy.port}"
        assert proxy.connects[0].host == "smtp.proxy-only.test"

Faults (``fault=``): ``"refuse"`` answers every CONNECT with reply 5 (connection
refused), ``"garbage"`` answers the greeting with an HTTP error page, ``"close"``
hangs up after reading the greeting, ``"close-after-method"`` after choosing the
method. ``auth=("user", "password")`` requires that login (RFC 1929) and refuses
clients that offer none. Fixtures: ``socks5_proxy`` and ``socks5_proxy_factory``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest

HOST = "127.0.0.1"
PROXY_ONLY = "proxy-only.test"
"""Names under this domain exist only for this proxy (RFC 2606 reserves ``.test``)."""
PROXY_ONLY_ADDRESS = "192.0.2.53"
"""An address (TEST-NET-1, RFC 5737: routed nowhere) that only this proxy reaches: 127.0.0.1."""
Fault = Literal["refuse", "garbage", "close", "close-after-method"]

_SUCCEEDED, _REFUSED, _HOST_UNREACHABLE, _NOT_ALLOWED = 0, 5, 4, 2


def proxy_only(name: str) -> str:
    """``smtp`` -> ``smtp.proxy-only.test``: a name only the test proxy resolves."""
    return f"{name}.{PROXY_ONLY}"


@dataclass(frozen=True)
class Connect:
    """One CONNECT request, as the client sent it."""

    host: str
    """The name (address type 3) or the address (types 1 and 4) the client asked for."""
    port: int
    user: str | None
    """The RFC 1929 user name offered, or None when the client offered no login."""
    by_name: bool
    """True when the client sent a name for the proxy to resolve (remote DNS)."""


@dataclass
class Socks5Server:
    host: str
    port: int
    fault: Fault | None = None
    auth: tuple[str, str] | None = None
    _connects: list[Connect] = field(default_factory=list)
    _accepted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"socks5://{self.host}:{self.port}"

    @property
    def connects(self) -> list[Connect]:
        with self._lock:
            return list(self._connects)

    @property
    def accepted(self) -> int:
        """TCP connections accepted, whether or not a CONNECT followed."""
        with self._lock:
            return self._accepted

    def users(self) -> set[str | None]:
        return {c.user for c in self.connects}

    def record(self, connect: Connect) -> None:
        with self._lock:
            self._connects.append(connect)

    def count_accept(self) -> None:
        with self._lock:
            self._accepted += 1


def resolve(host: str) -> str | None:
    """Where the proxy connects for ``host``: only loopback, and only names it knows."""
    name = host.lower().rstrip(".")
    if name in (PROXY_ONLY, PROXY_ONLY_ADDRESS) or name.endswith("." + PROXY_ONLY):
        return HOST
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None  # any real name: this proxy never resolves or reaches the world
    return str(address) if address.is_loopback else None


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        proxy = self.server.proxy
        proxy.count_accept()
        client = self.request
        client.settimeout(10)
        with contextlib.suppress(OSError, ValueError):
            self._serve(proxy, client)

    def _serve(self, proxy: Socks5Server, client: socket.socket) -> None:
        version, count = _read(client, 2)
        methods = _read(client, count)
        if proxy.fault == "close" or version != 5:
            return
        if proxy.fault == "garbage":
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        user = None
        if proxy.auth is not None:
            if 2 not in methods:
                client.sendall(b"\x05\xff")
                return
            client.sendall(b"\x05\x02")
            user = self._login(client, proxy.auth)
            if user is None:
                return
        elif 2 in methods:
            client.sendall(b"\x05\x02")  # accept any login so the user name is recorded
            user = self._login(client, None)
            if user is None:
                return
        elif 0 in methods:
            client.sendall(b"\x05\x00")
        else:
            client.sendall(b"\x05\xff")
            return
        if proxy.fault == "close-after-method":
            return
        host, port, by_name = _request(client)
        proxy.record(Connect(host=host, port=port, user=user, by_name=by_name))
        target = resolve(host)
        if proxy.fault == "refuse" or target is None:
            _reply(client, _REFUSED if target is not None else _HOST_UNREACHABLE)
            return
        try:
            upstream = socket.create_connection((target, port), timeout=10)
        except OSError:
            _reply(client, _REFUSED)
            return
        with upstream:
            _reply(client, _SUCCEEDED)
            _relay(client, upstream)

    @staticmethod
    def _login(client: socket.socket, required: tuple[str, str] | None) -> str | None:
        (version,) = _read(client, 1)
        user = _read(client, _read(client, 1)[0]).decode("utf-8", "replace")
        password = _read(client, _read(client, 1)[0]).decode("utf-8", "replace")
        ok = version == 1 and (required is None or (user, password) == required)
        client.sendall(b"\x01\x00" if ok else b"\x01\x01")
        return user if ok else None


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client hung up")
        data += chunk
    return data


def _request(client: socket.socket) -> tuple[str, int, bool]:
    version, command, _, kind = _read(client, 4)
    if version != 5 or command != 1:
        raise ValueError("only CONNECT is served")
    if kind == 1:
        host, by_name = socket.inet_ntop(socket.AF_INET, _read(client, 4)), False
    elif kind == 4:
        host, by_name = socket.inet_ntop(socket.AF_INET6, _read(client, 16)), False
    elif kind == 3:
        host, by_name = _read(client, _read(client, 1)[0]).decode("ascii", "replace"), True
    else:
        raise ValueError(f"unknown address type {kind}")
    port = int.from_bytes(_read(client, 2), "big")
    return host, port, by_name


def _reply(client: socket.socket, code: int) -> None:
    client.sendall(bytes([5, code, 0, 1, 127, 0, 0, 1, 0, 0]))


def _relay(a: socket.socket, b: socket.socket) -> None:
    a.settimeout(None)
    b.settimeout(None)
    with selectors.DefaultSelector() as selector:
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        while True:
            for key, _ in selector.select(timeout=30):
                source: socket.socket = key.fileobj  # type: ignore[assignment]  # registered sockets
                data = source.recv(65536)
                if not data:
                    return
                key.data.sendall(data)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: Socks5Server) -> None:
        self.proxy = proxy
        super().__init__((HOST, 0), _Handler)


@contextlib.contextmanager
def running_socks5(
    *, fault: Fault | None = None, auth: tuple[str, str] | None = None
) -> Iterator[Socks5Server]:
    proxy = Socks5Server(host=HOST, port=0, fault=fault, auth=auth)
    server = _TCPServer(proxy)
    proxy.port = server.server_address[1]
    thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05), name="socks5-test", daemon=True
    )
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def socks5_proxy() -> Iterator[Socks5Server]:
    with running_socks5() as proxy:
        yield proxy


@pytest.fixture
def socks5_proxy_factory() -> Iterator[Callable[..., Socks5Server]]:
    with contextlib.ExitStack() as stack:

        def start(**options: object) -> Socks5Server:
            return stack.enter_context(running_socks5(**options))  # type: ignore[arg-type]

        yield start
