"""Authorization code with PKCE (RFC 7636) on a loopback redirect (RFC 8252 §7.3).

The listener binds 127.0.0.1 on a random port and a random path, and takes the
first request that reaches it, whatever it is, and closes: a local process that
reaches it first (it may read the URL from the browser's command line) can only
end the sign-in, never put its own code in. A random ``state`` must come back
unchanged; the code and verifier never appear in output or errors. The browser is
opened with ``webbrowser`` (which honours ``BROWSER``), and the URL is always shown
too, for a machine without a browser.
"""

from __future__ import annotations

import contextlib
import hmac
import http.server
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from protest_dispatch.errors import SignInError
from protest_dispatch.oauth import client as oauth_http
from protest_dispatch.oauth.client import Grant, OAuthReply
from protest_dispatch.settings.oauth import OAuthClient

LOOPBACK = "127.0.0.1"
WAIT_SECONDS = 300.0
_DONE_PAGE = b"Signed in to protest. You may close this window and return to the terminal.\n"
_FAILED_PAGE = b"protest could not use this sign-in; see the terminal for why.\n"


def browser_sign_in(
    client: OAuthClient,
    *,
    show: Callable[[str], None],
    open_browser: Callable[[str], object] = webbrowser.open,
    wait: float = WAIT_SECONDS,
) -> Grant:
    """Run the browser flow to the end: a grant, or a SignInError saying why not."""
    url_base = client.endpoints.authorization_url
    assert url_base is not None, "only called for clients with an authorization endpoint"
    verifier = secrets.token_urlsafe(72)  # 96 characters of [A-Za-z0-9_-] (RFC 7636 §4.1)
    state = secrets.token_urlsafe(32)
    with _OneRequest(path=f"/{secrets.token_urlsafe(16)}/", state=state) as listener:
        redirect_uri = f"http://{LOOPBACK}:{listener.port}{listener.path}"
        with oauth_http.session(
            client, redirect_uri=redirect_uri, code_challenge_method="S256"
        ) as http_client:
            url, _ = http_client.create_authorization_url(
                url_base, state=state, code_verifier=verifier, **client.offline_params
            )
        show(url)
        with contextlib.suppress(webbrowser.Error):  # the URL is shown: open it anywhere
            open_browser(url)
        query = listener.receive(timeout=wait)
    code = _code_from(query, state=state)
    try:
        return oauth_http.exchange_code(
            client, code=code, redirect_uri=redirect_uri, verifier=verifier
        )
    except OAuthReply as reply:
        raise SignInError(
            f"The token endpoint refused the authorization code: {reply.explained()}.",
            reason=reply.error,
            hint="Run `protest login` again; if it keeps failing, check oauth_client_id "
            "and oauth_client_secret.",
        ) from None


def _code_from(query: dict[str, str] | None, *, state: str) -> str:
    if query is None:
        raise SignInError(
            "No answer came back from the browser in time, so nothing was stored.",
            reason="timeout",
            hint="Run `protest login` again and finish signing in in the browser; on a "
            "machine without one, open the URL shown on a computer that can reach this one.",
        )
    if not hmac.compare_digest(query.get("state", ""), state):
        raise SignInError(
            "The answer from the browser did not carry the state this sign-in sent, so it "
            "was refused (it may not come from your sign-in).",
            reason="state",
            hint="Run `protest login` again.",
        )
    error = query.get("error")
    if error:
        denied = error == "access_denied"
        raise SignInError(
            "The sign-in was declined, so nothing was stored."
            if denied
            else f"The provider refused the sign-in: {error}.",
            reason=error,
            hint="Run `protest login` again and accept the request to send mail."
            if denied
            else "Check oauth_client_id, oauth_client_secret and oauth_scope, then run "
            "`protest login` again.",
        )
    code = query.get("code")
    if not code:
        raise SignInError(
            "The answer from the browser carried no authorization code.",
            reason="no_code",
            hint="Run `protest login` again.",
        )
    return code


class _OneRequest:
    """An HTTP listener on 127.0.0.1 that takes one request, answers it, and closes.

    Each connection gets its own thread, so a browser's spare, idle connection
    cannot hold up the real request; connections that send no request do not count.
    """

    def __init__(self, *, path: str, state: str) -> None:
        self.path = path
        self._received: dict[str, str] | None = None
        self._done = threading.Event()
        self._first = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10  # an idle connection is dropped after this

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                good = (
                    parts.path == outer.path
                    and ("code" in query or "error" in query)
                    and hmac.compare_digest(query.get("state", ""), state)
                )
                with outer._first:
                    first = not outer._done.is_set()
                    if first:
                        outer._received = query if good else {}
                        outer._done.set()
                self.send_response(200 if good and first else 400)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                ok = first and good and "code" in query
                self.wfile.write(_DONE_PAGE if ok else _FAILED_PAGE)

            def log_message(self, format: str, *args: object) -> None:
                """Silent: the request line holds the authorization code."""

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])

    def __enter__(self) -> _OneRequest:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.server_close()

    def receive(self, *, timeout: float) -> dict[str, str] | None:
        """The one request's query parameters, or None if none came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self._done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._server.timeout = min(left, 0.2)
            self._server.handle_request()
            self._done.wait(0.05)  # a handler thread may be finishing the request
        self._server.server_close()
        return self._received
