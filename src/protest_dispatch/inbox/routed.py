"""An IMAPClient whose connection opens the way the ``proxy`` setting says.

imapclient has no proxy option (its maintainer declined one, imapclient #133); its
``_create_IMAP4`` is the seam. The socket comes from :func:`net.connect.open_connection`
(through the proxy, which resolves the name, unless the server is this machine); TLS,
implicit or by STARTTLS, is then verified against the server's real name as before.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from imapclient import IMAPClient
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.tls import IMAP4_TLS, wrap_socket

from protest_dispatch.net.connect import open_connection
from protest_dispatch.net.proxy import Proxy


class RoutedIMAPClient(IMAPClient):  # type: ignore[misc]  # imapclient has no type hints
    """``IMAPClient(host, port, ssl=..., ssl_context=..., timeout=SECONDS, proxy=...)``."""

    def __init__(self, *args: Any, proxy: Proxy | None, timeout: float, **kwargs: Any) -> None:
        self._proxy = proxy
        super().__init__(*args, timeout=timeout, **kwargs)

    def _create_IMAP4(self) -> Any:
        timeout = float(self._timeout.connect)
        opener = _Opener(self._proxy, timeout)
        if self.ssl:
            return _TLS(self.host, self.port, self.ssl_context, timeout, opener)
        return _Plain(self.host, self.port, timeout, opener)


class _Opener:
    def __init__(self, proxy: Proxy | None, timeout: float) -> None:
        self.proxy = proxy
        self.timeout = timeout

    def __call__(self, host: str, port: int) -> socket.socket:
        return open_connection(self.proxy, host, port, timeout=self.timeout)


class _Plain(IMAP4WithTimeout):  # type: ignore[misc]
    def __init__(self, host: str, port: int, timeout: float, opener: _Opener) -> None:
        self._opener = opener  # before __init__, which connects
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return self._opener(self.host, self.port)


class _TLS(IMAP4_TLS):  # type: ignore[misc]
    def __init__(
        self, host: str, port: int, context: ssl.SSLContext | None, timeout: float, opener: _Opener
    ) -> None:
        self._opener = opener
        super().__init__(host, port, context, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = self._opener(self.host, self.port)
        try:
            wrapped: socket.socket = wrap_socket(sock, self.ssl_context, self.host)  # real name
            return wrapped
        except BaseException:
            sock.close()
            raise
