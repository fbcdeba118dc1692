"""An IMAPClient whose connection keeps to :class:`~protest_dispatch.inbox.wire.Limits`.

Imported only when a connection is made: imapclient and imaplib stay out of
``protest --help``.
"""

from __future__ import annotations

import imaplib
import io
import ssl
from typing import TYPE_CHECKING, Any, cast

from imapclient import IMAPClient, imap4, tls

from protest_dispatch.inbox.wire import OVERSIZED, Limits

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_CHUNK = 64 * 1024
_MAXLINE = 1_000_000
"""imaplib's own cap on one line (``imaplib._MAXLINE``)."""


class _Bounded(imaplib.IMAP4):
    """imaplib's reads and sends, with the connection's :class:`Limits` applied."""

    limits: Limits

    def send(self, data: ReadableBuffer) -> None:
        self.limits.start()
        self.sock.settimeout(min(self.limits.read_timeout, self.limits.remaining()))
        super().send(data)

    def _arm(self) -> io.BufferedReader:
        """The stream to read from, with the socket's time-out cut to the deadline."""
        self.sock.settimeout(min(self.limits.read_timeout, self.limits.remaining()))
        return cast(io.BufferedReader, self.file)

    def readline(self) -> bytes:
        line = bytearray()
        while len(line) <= _MAXLINE:
            stream = self._arm()
            ahead = stream.peek(1)
            if not ahead:
                break  # end of stream: imaplib reports it
            end = ahead.find(b"\n")
            piece = stream.read(len(ahead) if end < 0 else end + 1)
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
            piece = self._arm().read1(min(left, _CHUNK))
            if not piece:
                break  # end of stream: imaplib reports it
            left -= len(piece)
            if keep:
                self.limits.count(len(piece))
                data += piece
        return bytes(data) if keep else OVERSIZED % size


class _Plain(_Bounded, imap4.IMAP4WithTimeout):  # type: ignore[misc]  # imapclient: no hints
    def __init__(self, host: str, port: int, timeout: float | None, limits: Limits) -> None:
        self.limits = limits
        limits.start()  # the greeting is an exchange too
        imap4.IMAP4WithTimeout.__init__(self, host, port, timeout)


class _Tls(_Bounded, tls.IMAP4_TLS):  # type: ignore[misc]  # imapclient: no hints
    def __init__(
        self, host: str, port: int, context: ssl.SSLContext | None, timeout: float | None,
        limits: Limits,
    ) -> None:  # fmt: skip
        self.limits = limits
        limits.start()
        tls.IMAP4_TLS.__init__(self, host, port, context, timeout)


class BoundedClient(IMAPClient):  # type: ignore[misc]  # imapclient: no type hints
    """An IMAPClient whose connection reads within :class:`Limits`."""

    def __init__(self, host: str, port: int, *, limits: Limits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(host, port, **kwargs)

    def _create_IMAP4(self) -> imaplib.IMAP4:
        connect = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _Tls(self.host, self.port, self.ssl_context, connect, self.limits)
        return _Plain(self.host, self.port, connect, self.limits)
