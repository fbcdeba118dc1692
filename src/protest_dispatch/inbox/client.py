"""An IMAPClient whose connection keeps to :class:`~protest_dispatch.inbox.wire.Limits`.

Imported only when a connection is made: imapclient and imaplib stay out of
``protest --help``.
"""

from __future__ import annotations

import imaplib
import io
import re
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from protest_dispatch.inbox import routed
from protest_dispatch.inbox.wire import OVERSIZED, Limits, oversized

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_CHUNK = 64 * 1024
_ANNOUNCED = re.compile(rb"\{\d+\}$")
_MAXLINE = 16 * 1024 * 1024
"""The longest line: imaplib's own 1 MB would refuse the SEARCH answer of a folder with
some 150,000 matching messages; the answer's total (``Limits.exchange_bytes``) bounds it."""


class _Bounded(imaplib.IMAP4):
    """imaplib's reads and sends, with the connection's :class:`Limits` applied."""

    limits: Limits

    def send(self, data: ReadableBuffer) -> None:
        self.limits.start()
        self.sock.settimeout(min(self.limits.read_timeout, self.limits.remaining()))
        super().send(data)

    @property
    def _stream(self) -> io.BufferedReader:
        return cast(io.BufferedReader, self.file)

    def _io(self, step: Callable[[io.BufferedReader, int], bytes], size: int) -> bytes:
        """At most one read from the socket, its time-out cut to the deadline."""
        self.sock.settimeout(min(self.limits.read_timeout, self.limits.remaining()))
        try:
            return step(self._stream, size)
        except TimeoutError:
            self.limits.remaining()  # the deadline, not the read time-out: say so
            raise

    def _append_untagged(self, typ: str, dat: Any) -> None:
        # A literal read past (see read) stands as a short marker; its line still
        # announces the real size, which imapclient checks: announce the marker's.
        if isinstance(dat, tuple) and len(dat) == 2 and oversized(dat[1]) is not None:
            line = _ANNOUNCED.sub(b"{%d}" % len(dat[1]), dat[0])
            dat = (line, dat[1])
        super()._append_untagged(typ, dat)  # type: ignore[misc]  # imaplib: private, untyped

    def readline(self) -> bytes:
        line = bytearray()
        while len(line) <= _MAXLINE:
            ahead = self._io(io.BufferedReader.peek, 1)
            if not ahead:
                break  # end of stream: imaplib reports it
            end = ahead.find(b"\n")
            piece = self._stream.read(len(ahead) if end < 0 else end + 1)  # buffered already
            self.limits.count(len(piece))
            line += piece
            if end >= 0:
                return bytes(line)
        if len(line) > _MAXLINE:
            raise self.error(f"got more than {_MAXLINE} bytes")
        return bytes(line)

    def read(self, size: int) -> bytes:
        keep = size <= self.limits.literal_bytes
        data = bytearray()
        left = size
        while left > 0:
            piece = self._io(io.BufferedReader.read1, min(left, _CHUNK))
            if not piece:
                break  # end of stream: imaplib reports it
            left -= len(piece)
            if keep:
                self.limits.count(len(piece))
                data += piece
        return bytes(data) if keep else OVERSIZED % size


class _Plain(_Bounded, routed._Plain):
    def __init__(self, host: str, port: int, timeout: float, opener: Any, limits: Limits) -> None:
        self.limits = limits
        limits.start()  # the greeting is an exchange too
        routed._Plain.__init__(self, host, port, timeout, opener)


class _Tls(_Bounded, routed._TLS):
    def __init__(
        self, host: str, port: int, context: ssl.SSLContext | None, timeout: float, opener: Any,
        limits: Limits,
    ) -> None:  # fmt: skip
        self.limits = limits
        limits.start()
        routed._TLS.__init__(self, host, port, context, timeout, opener)


class BoundedClient(routed.RoutedIMAPClient):
    """A :class:`~protest_dispatch.inbox.routed.RoutedIMAPClient` (through the proxy when
    one is set) whose connection reads within :class:`Limits`."""

    def __init__(self, host: str, port: int, *, limits: Limits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(host, port, **kwargs)
        self.normalise_times = False  # INTERNALDATE with its zone, not as local naive time

    def _create_IMAP4(self) -> imaplib.IMAP4:
        timeout = float(self._timeout.connect)
        opener = routed._Opener(self._proxy, timeout)
        if self.ssl:
            return _Tls(self.host, self.port, self.ssl_context, timeout, opener, self.limits)
        return _Plain(self.host, self.port, timeout, opener, self.limits)
