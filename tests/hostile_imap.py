"""A hostile IMAP server on 127.0.0.1: bad numbers, huge literals, garbage, a trickle.

Just enough IMAP4rev1 for imapclient and ``protest inbox`` (CAPABILITY, LOGIN,
EXAMINE/SELECT, UID SEARCH, UID FETCH, LOGOUT; anything else gets ``OK``), with
every answer the scan relies on scripted by a :class:`Script`:

- ``uidvalidity``, ``uidnext``, ``search``: the raw bytes the server puts where the
  numbers go (``b"abc"``, ``b"18446744073709551616"``...);
- ``messages``: UID -> (header, whole message) answered to FETCH, where a
  :class:`Huge` instead of bytes announces a literal of that size and streams it
  in 1 MiB pieces (the server never holds it);
- ``garbage``: a command name whose answer is replaced by these bytes (``{tag}`` in
  them becomes the command's tag);
- ``trickle``: a command name whose answer is sent one byte every ``trickle_every``
  seconds, for ``trickle_bytes`` bytes (a server that never quite stops talking).

Plain text only (``imap_security = "none"`` is allowed to loopback). Run it with
``with HostileImap(script) as server:``; ``server.port`` is where it listens and
``server.commands`` what the client sent (the password is never recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import threading
from collections.abc import Iterator
from types import TracebackType

HOST = "127.0.0.1"
_CHUNK = b"x" * (1024 * 1024)


@dataclasses.dataclass(frozen=True)
class Huge:
    size: int


Body = bytes | Huge


@dataclasses.dataclass
class Script:
    uidvalidity: bytes = b"7"
    uidnext: bytes | None = None
    search: bytes | None = None
    """The SEARCH answer; by default the UIDs of ``messages``."""
    messages: dict[int, tuple[Body, Body]] = dataclasses.field(default_factory=dict)
    garbage: tuple[str, bytes] | None = None
    trickle: str | None = None
    trickle_every: float = 0.2
    trickle_bytes: int = 10_000


class HostileImap:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.port = 0
        self.commands: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> HostileImap:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the hostile IMAP server did not start")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(5)

    def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, HOST, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        with contextlib.suppress(Exception):
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError, OSError):
            writer.write(b"* OK [CAPABILITY IMAP4rev1] hostile server ready\r\n")
            await writer.drain()
            while line := await reader.readline():
                tag, name, rest = _split(line)
                self.commands.append(name if name != "LOGIN" else "LOGIN ********")
                for piece in self._answer(tag, name, rest):
                    await self._send(writer, name, piece)
                if name == "LOGOUT":
                    break
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, name: str, piece: Body) -> None:
        script = self.script
        if isinstance(piece, Huge):
            left = piece.size
            while left > 0:
                writer.write(_CHUNK[: min(left, len(_CHUNK))])
                left -= len(_CHUNK)
                await writer.drain()
            return
        if script.trickle == name:
            data = (piece * (script.trickle_bytes // max(len(piece), 1) + 1))[
                : script.trickle_bytes
            ]
            for byte in data:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(script.trickle_every)
            return
        writer.write(piece)
        await writer.drain()

    def _answer(self, tag: str, name: str, rest: str) -> Iterator[Body]:
        script = self.script
        if script.garbage is not None and script.garbage[0] == name:
            yield script.garbage[1].replace(b"{tag}", tag.encode())
            return
        done = f"{tag} OK {name} completed\r\n".encode()
        if name == "CAPABILITY":
            yield b"* CAPABILITY IMAP4rev1\r\n" + done
        elif name == "LOGIN":
            yield f"{tag} OK [CAPABILITY IMAP4rev1] logged in\r\n".encode()
        elif name in ("EXAMINE", "SELECT"):
            answer = b"* 3 EXISTS\r\n* OK [UIDVALIDITY " + script.uidvalidity + b"]\r\n"
            if script.uidnext is not None:
                answer += b"* OK [UIDNEXT " + script.uidnext + b"]\r\n"
            yield answer + f"{tag} OK [READ-ONLY] {name} completed\r\n".encode()
        elif name == "SEARCH":
            found = script.search
            if found is None:
                found = " ".join(str(uid) for uid in sorted(script.messages)).encode()
            yield b"* SEARCH " + found + b"\r\n" + done
        elif name == "FETCH":
            whole = "BODY.PEEK[]" in rest.upper()
            for number, uid in enumerate(_uids(rest, script.messages), start=1):
                body = script.messages[uid][1 if whole else 0]
                key = b"BODY[]<0>" if whole else b"BODY[HEADER.FIELDS (FROM)]<0>"
                size = body.size if isinstance(body, Huge) else len(body)
                yield b"* %d FETCH (UID %d %s {%d}\r\n" % (number, uid, key, size)
                yield body
                yield b' INTERNALDATE "06-May-2024 09:13:05 +0000")\r\n'
            yield done
        elif name == "LOGOUT":
            yield b"* BYE hostile server done\r\n" + done
        else:
            yield done


def _split(line: bytes) -> tuple[str, str, str]:
    words = line.decode("ascii", "replace").strip().split(" ", 2)
    tag = words[0] if words else "*"
    name = words[1].upper() if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if name == "UID" and rest:
        name, _, rest = rest.partition(" ")
        name = name.upper()
    return tag, name, rest


def _uids(rest: str, messages: dict[int, tuple[Body, Body]]) -> list[int]:
    found = re.match(r"([0-9:,*]+)", rest)
    ranges = []
    for part in (found.group(1) if found else "").split(","):
        low, _, high = part.partition(":")
        if low.isdigit():
            top = int(high) if high.isdigit() else (2**64 if high else int(low))
            ranges.append((int(low), top))
    return [uid for uid in sorted(messages) if any(lo <= uid <= hi for lo, hi in ranges)]
