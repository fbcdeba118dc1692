"""An HTTPS server on 127.0.0.1 with a throwaway trustme CA, for ``protest get``.

``server.routes[path]`` is what a GET of that path answers: bytes (a 200 with a
Content-Length), ``Redirect(location)``, ``Huge(megabytes, announce)`` (zeros, with or
without a Content-Length), or ``HANG`` (headers never come). Everything else is 404.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme


@dataclass(frozen=True)
class Redirect:
    location: str


@dataclass(frozen=True)
class Huge:
    megabytes: int
    announce: bool


HANG = object()


class HttpsServer:
    def __init__(self, tmp: Path, *, tls: bool = True) -> None:
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        self.stopping = threading.Event()
        ca = trustme.CA()
        self.ca_file = tmp / "https-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                answer = server.routes.get(self.path)
                if answer is HANG:
                    server.stopping.wait(30)
                    return
                if isinstance(answer, Redirect):
                    self.send_response(302)
                    self.send_header("Location", answer.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif isinstance(answer, Huge):
                    self.send_response(200)
                    if answer.announce:
                        self.send_header("Content-Length", str(answer.megabytes * 2**20))
                    self.end_headers()
                    chunk = b"\0" * 2**20
                    try:
                        for _ in range(answer.megabytes):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                elif isinstance(answer, bytes):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                else:
                    self.send_error(404)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            # and the name the SOCKS5 test proxy resolves for it (socks5_server.py)
            ca.issue_cert("127.0.0.1", "localhost", "web.proxy-only.test").configure_cert(context)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> HttpsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        time.sleep(0)


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[HttpsServer]:
    server = HttpsServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
