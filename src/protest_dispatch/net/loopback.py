"""Whether a host name can only mean this machine.

A password may cross a connection without TLS only to a server on loopback; a
name is trusted as loopback only if every address it resolves to is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def resolve_loopback_only(host: str, *, timeout: float = 2.0) -> bool:
    """True if ``host`` can only mean this machine: every address it has is loopback.

    Async so a slow resolver cannot stall the event loop. The lookup runs in a
    daemon thread, so a hung resolver costs at most ``timeout`` and cannot keep
    the process alive at exit either. A name that does not resolve is not
    loopback.
    """
    name = _bare(host)
    if is_this_machine(name):
        return True
    if _parse_ip(name) is not None:
        return False
    try:
        addresses = await asyncio.wait_for(lookup_addresses(name), timeout)
    except (OSError, UnicodeError, TimeoutError):
        return False
    parsed = [_parse_ip(a) for a in addresses]
    return bool(parsed) and all(ip is not None and _is_loopback(ip) for ip in parsed)


def is_this_machine(host: str) -> bool:
    """``localhost`` or a loopback address, decided without a lookup.

    With a proxy set this is the whole rule: looking a name up would tell the
    network's resolver which server the sender is about to reach.
    """
    name = _bare(host)
    if name.lower().rstrip(".") == "localhost":
        return True
    literal = _parse_ip(name)
    return literal is not None and _is_loopback(literal)


def _bare(host: str) -> str:
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name


def _parse_ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _is_loopback(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def lookup_addresses(name: str) -> asyncio.Future[set[str]]:
    """The addresses ``name`` resolves to, looked up in a daemon thread.

    Await it under a timeout: a hung resolver then costs only the timeout, and the
    thread can neither block the event loop nor keep the process alive at exit.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[set[str]] = loop.create_future()

    def settle(result: set[str] | None, error: BaseException | None) -> None:
        if future.done():  # the caller stopped waiting
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or set())

    def lookup() -> None:
        result: set[str] | None = None
        error: BaseException | None = None
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
            result = {str(info[4][0]) for info in infos}
        except (OSError, UnicodeError) as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=lookup, name="protest-smtp-dns", daemon=True).start()
    return future
