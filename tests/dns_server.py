"""A DNS server on 127.0.0.1 for the tests, built from dnspython's message classes.

Each name's behaviour is set by the test (``server.zone["x.example.org"] = "mx"``);
unknown names get ``default`` (NXDOMAIN unless said). It answers over UDP, and over
TCP on the same port (RFC 7766 framing: the retry after a truncated answer, and DNS
through a SOCKS proxy), in its own thread and event loop, after ``delay`` seconds per
answer, without blocking other queries.

Behaviours: ``mx``, ``null-mx``, ``nxdomain``, ``a-only``, ``aaaa-only``, ``nothing``
(exists, no records), ``timeout`` (never answers), ``servfail``, ``refused``,
``garbage`` (random bytes), ``truncated`` (TC set, over TCP too: no usable answer),
``tc-then-tcp`` (TC set over UDP, the MX record over TCP, as a large answer comes),
``huge`` (200 MX records), ``wrong-id``. ``queries`` records (name, type) and
``tcp_queries`` the names asked over TCP.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest


class DnsServer(asyncio.DatagramProtocol):
    def __init__(self, *, delay: float = 0.0, default: str = "nxdomain") -> None:
        self.zone: dict[str, str] = {}
        self.default = default
        self.delay = delay
        self.queries: list[tuple[str, str]] = []
        self.tcp_queries: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.transport: Any = None
        self.port = 0
        self._clients: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> DnsServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._open(), self.loop)
        future.result(5)
        return self

    async def _open(self) -> None:
        """UDP and TCP on one port, as a resolver retries a truncated answer there."""
        for _ in range(50):
            self.transport, _ = await self.loop.create_datagram_endpoint(
                lambda: self, local_addr=("127.0.0.1", 0)
            )
            self.port = self.transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._tcp_client, "127.0.0.1", self.port)
            except OSError:  # that TCP port is taken: another pair
                self.transport.close()
                continue
            self.tcp_port = self.port
            return
        raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                wire = self._respond(await reader.readexactly(size), tcp=True)
                if wire is None:
                    continue
                await asyncio.sleep(self.delay)
                writer.write(len(wire).to_bytes(2, "big") + wire)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()

    async def _close(self) -> None:
        """End every connection now, in the running loop. A client left waiting was
        collected in some later test, closing its writer on a closed loop: an
        unraisable error that failed that test (seen in CI on Python 3.12)."""
        self._tcp.close()
        self.transport.close()
        clients = list(self._clients)
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = self._respond(data)
        if wire is not None:
            self.loop.call_later(self.delay, self.transport.sendto, wire, addr)

    def _respond(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        how = self.zone.get(name, self.default)
        if tcp:
            self.tcp_queries.append(name)
        if how == "tc-then-tcp":
            how = "mx" if tcp else "truncated"
        return self._answer(query, how, question, kind)

    def _answer(
        self, query: dns.message.Message, how: str, question: Any, kind: str
    ) -> bytes | None:
        response = dns.message.make_response(query)
        records: list[str] = []
        if how == "timeout":
            return None
        if how == "garbage":
            return query.id.to_bytes(2, "big") + os.urandom(40)
        if how == "wrong-id":
            response.id = (query.id + 1) % 65536
        if how == "nxdomain":
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif how == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif how == "refused":
            response.set_rcode(dns.rcode.REFUSED)
        elif how == "truncated":
            response.flags |= dns.flags.TC
        elif kind == "MX" and how in ("mx", "wrong-id"):
            records = [f"10 mail.{question.name.to_text()}"]
        elif kind == "MX" and how == "null-mx":
            records = ["0 ."]
        elif kind == "MX" and how == "huge":
            records = [f"{i} mx{i}.example.net." for i in range(200)]
        elif kind == "A" and how == "a-only":
            records = ["192.0.2.1"]
        elif kind == "AAAA" and how == "aaaa-only":
            records = ["2001:db8::1"]
        if records:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 300, "IN", kind, records)
            )
        return response.to_wire(max_size=65535)


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer().start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    import argparse
    import sys
    import time

    parser = argparse.ArgumentParser(description="A DNS server on 127.0.0.1 for benchmarks.")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--default", default="mx")
    parser.add_argument("--seconds", type=float, default=300.0, help="stop after this long")
    args = parser.parse_args()
    server = DnsServer(delay=args.delay_ms / 1000, default=args.default).start()
    sys.stdout.write(f"{server.port}\n")
    sys.stdout.flush()
    time.sleep(args.seconds)
    server.stop()
