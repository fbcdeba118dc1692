#!/usr/bin/env python3
"""Play the user's browser for an OAuth sign-in: open a URL, follow the redirect to loopback.

Standard library only, so it runs under any Python as a ``BROWSER`` program. Python's
``webbrowser`` treats each ``BROWSER`` entry as one program name (an entry with arguments
such as ``python fake_browser.py %s`` is looked up as a single file name and fails), passes
the URL as the only argument and waits for it to exit. So :func:`install` writes a
one-line wrapper script and points ``BROWSER`` at it, and the script detaches: the product
usually serves its loopback redirect only after ``webbrowser.open`` returns.

Each visit appends one JSON line to ``$FAKE_BROWSER_LOG`` (if set) with statuses and the
redirect's host and parameter names; authorization codes are never written.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})


@dataclass(frozen=True)
class Visit:
    """What the browser saw; ``callback_*`` stay None when nothing was redirected to loopback."""

    url: str
    status: int
    location: str | None
    callback_status: int | None = None
    callback_body: str = ""
    error: str | None = None

    @property
    def redirect_params(self) -> dict[str, str]:
        """The query of the redirect (code, state or error), for assertions."""
        if self.location is None:
            return {}
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.location).query))

    def public(self) -> dict[str, object]:
        """Loggable form: the redirect's parameter values could be live codes."""
        data = asdict(self)
        data["location"] = None
        data["redirect_keys"] = sorted(self.redirect_params)
        return data


def _get(url: str, timeout: float) -> tuple[int, dict[str, str], str]:
    """GET without proxies or redirect-following: both would hide what a test must see."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to visit a non-loopback URL: {parts.scheme}://{parts.netloc}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request("GET", target, headers={"User-Agent": "fake-browser"})
        response = conn.getresponse()
        body = response.read(65536).decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def visit(url: str, *, timeout: float = 5.0, listener_was_up: bool = False) -> Visit:
    """GET ``url``; if it redirects to a loopback http URL, GET that too (retrying until the
    listener is up, within ``timeout``). Redirects elsewhere are reported, not followed.

    ``listener_was_up``: the caller saw the listener answer already, so a refused
    connection means it has closed; that is reported at once instead of waited out.
    """
    status, headers, _ = _get(url, timeout)
    location = headers.get("location") if 300 <= status < 400 else None
    if location is None:
        return Visit(url=url, status=status, location=None)
    target = urllib.parse.urlsplit(location)
    if target.scheme != "http" or target.hostname not in LOOPBACK_HOSTS:
        return Visit(url=url, status=status, location=location, error="redirect not loopback")
    deadline = time.monotonic() + timeout
    while True:
        try:
            cb_status, _, cb_body = _get(location, timeout)
        except ConnectionRefusedError:
            if listener_was_up or time.monotonic() > deadline:
                return Visit(url, status, location, error="loopback listener refused")
            time.sleep(0.02)
            continue
        except OSError as exc:
            return Visit(url, status, location, error=type(exc).__name__)
        return Visit(url, status, location, callback_status=cb_status, callback_body=cb_body)


def install(directory: Path, *, log: Path | None = None) -> str:
    """Write a wrapper for this script into ``directory``; return the value for ``BROWSER``.

    The wrapper runs this interpreter (the test venv's), whichever ``python3`` is on PATH.
    """
    wrapper = directory / "fake-browser"
    lines = ["#!/bin/sh"]
    if log is not None:
        lines.append(f"export FAKE_BROWSER_LOG='{log}'")
    lines.append(f"exec '{sys.executable}' '{Path(__file__).resolve()}' \"$@\"")
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o755)
    return str(wrapper)


def read_log(log: Path) -> list[dict[str, object]]:
    """The visits logged so far (one JSON object each)."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _record(result: Visit) -> None:
    log = os.environ.get("FAKE_BROWSER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(result.public()) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--now":
        try:
            result = visit(argv[2])
        except Exception as exc:  # a browser shows an error page; the log carries it
            result = Visit(url=argv[2], status=0, location=None, error=repr(exc))
        _record(result)
        return 0
    if len(argv) != 2:
        print("usage: fake_browser.py URL", file=sys.stderr)
        return 2
    subprocess.Popen(  # detach: webbrowser.open waits for us, the product's listener may not
        [sys.executable, __file__, "--now", argv[1]],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
