"""The ``proxy`` setting: a SOCKS5 proxy (or Tor) that every connection goes through.

``proxy = "socks5://[user:pass@]HOST:PORT"``, ``"tor"`` (Tor's SOCKS port on this
machine, 127.0.0.1:9050), ``"tor://HOST:PORT"`` (Tor elsewhere: Tor Browser's 9150, a
Whonix gateway), or ``"none"``. With Tor each run offers Tor a fresh random SOCKS user
name, so Tor (``IsolateSOCKSAuth``, on by default) gives the run's connections one
circuit and different runs different ones.

Which way a connection goes is :func:`route`'s answer, from the host name alone: no
name is ever looked up here, since a lookup would tell the network's resolver which
server the sender is about to reach.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit

from protest_dispatch.net.loopback import is_this_machine
from protest_dispatch.vocabulary import Route

TOR_HOST = "127.0.0.1"
TOR_PORT = 9050
NO_PROXY = "none"
_SOCKS5 = frozenset({"socks5", "socks5h"})  # socks5h is curl's name; names always go to the proxy
_WEB = frozenset({"http", "https"})
_TOR_PASSWORD = "protest"  # noqa: S105 - RFC 1929 needs one; Tor isolates on the user name too
RUN_ISOLATION = f"protest-{secrets.token_hex(8)}"
"""This run's (this process's) SOCKS user name for Tor: all its connections share it."""


@dataclass(frozen=True)
class Proxy:
    """A SOCKS5 proxy; ``str()`` names it without its credentials."""

    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    tor: bool = False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socks5://{host}:{self.port}" + (" (Tor)" if self.tor else "")


def parse_proxy(text: str, *, isolation: str | None = None) -> Proxy | None:
    """The proxy ``text`` names, or None for ``"none"``; ValueError says what is wrong.

    ``isolation`` is Tor's SOCKS user name (default: this run's, :data:`RUN_ISOLATION`).
    The messages never repeat a password.
    """
    value = text.strip()
    if value.lower() in (NO_PROXY, ""):
        return None
    if value.lower() == "tor":
        return _tor(TOR_HOST, TOR_PORT, isolation)
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in _WEB:
        raise ValueError(
            "is a web proxy: http:// and https:// proxies are refused, because a web "
            "proxy's CONNECT sees, and may log, the name of every server you reach; use a "
            'SOCKS5 proxy (socks5://HOST:PORT) or "tor"'
        )
    if scheme in ("socks4", "socks4a"):
        raise ValueError(
            "is a SOCKS4 proxy: use SOCKS5 (socks5://HOST:PORT), which lets the proxy "
            "resolve every name and takes a user name and password"
        )
    if scheme not in (*_SOCKS5, "tor"):
        raise ValueError(
            'must be "socks5://[user:password@]HOST:PORT", "tor", "tor://HOST:PORT" or "none"'
        )
    host, port = _address(parts)
    if scheme == "tor":
        if parts.username is not None:
            raise ValueError("is a Tor address with a user name: protest picks Tor's user names")
        return _tor(host, port, isolation)
    username, password = _credentials(parts)
    return Proxy(host=host, port=port, username=username, password=password)


def route(proxy: Proxy | None, host: str) -> Route:
    """How a connection to ``host`` goes: through the proxy unless it is this machine."""
    if proxy is None:
        return Route.DIRECT
    return Route.LOCAL if is_this_machine(host) else Route.PROXY


def _tor(host: str, port: int, isolation: str | None) -> Proxy:
    user = isolation or RUN_ISOLATION
    return Proxy(host=host, port=port, username=user, password=_TOR_PASSWORD, tor=True)


def _address(parts: SplitResult) -> tuple[str, int]:
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be only HOST:PORT after the scheme, with no path or query")
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname
    if not host or port is None or not 0 < port < 65536:
        raise ValueError(
            "must name the proxy's host and port, such as socks5://127.0.0.1:9050 "
            f"({'no host' if not host else 'no port from 1 to 65535'} in it)"
        )
    return host, port


def _credentials(parts: SplitResult) -> tuple[str | None, str | None]:
    if parts.username is None:
        return None, None
    username, password = unquote(parts.username), unquote(parts.password or "")
    if not username or not password:
        raise ValueError("must give both a user name and a password, or neither")
    for part in (username, password):
        if not part.isascii() or len(part) > 255 or not part.isprintable():
            raise ValueError(
                "has a user name or password the SOCKS5 login cannot carry: at most 255 "
                "printable ASCII characters each (percent-encode @ : / as %40 %3A %2F)"
            )
    return username, password
