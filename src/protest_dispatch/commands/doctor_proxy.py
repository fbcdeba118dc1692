"""``protest doctor`` with a proxy: which way each hop goes, and each hop checked through it.

No name is looked up on this machine when a proxy is set: the DNS step says the proxy
resolves it, and the connection step connects through the proxy, so a proxy that is
down shows there (exit 75), before TLS or the login are tried.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from protest_dispatch.commands.checks import Check, failed
from protest_dispatch.errors import ProtestError
from protest_dispatch.net.connect import open_connection
from protest_dispatch.net.proxy import Proxy, route
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.imap import imap_configured, imap_settings
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import AuthMode, CheckStatus, ExitCode, Route

PROXY_STEP = "Proxy"
_WAY = {Route.PROXY: "through it", Route.LOCAL: "directly (this machine)"}


def routes(config: Config, proxy: Proxy, *, smtp: SmtpSettings | None, sender: str) -> Check:
    """One line naming the proxy and the way of every hop protest may take."""
    hops: list[tuple[str, str, int | None]] = []
    if smtp is not None:
        hops.append(("SMTP", smtp.host, smtp.port))
        if smtp.auth is AuthMode.XOAUTH2 and not config.settings.smtp_oauth_token_command:
            host = _token_host(config)
            if host:
                hops.append(("OAuth", host, None))
    if imap_configured(config):
        try:
            imap = imap_settings(config, sender_email=sender)
        except ProtestError:
            pass  # the IMAP steps report it
        else:
            hops.append(("IMAP", imap.host, imap.port))
    parts = [
        f"{label} {host}{'' if port is None else f':{port}'} {_WAY[route(proxy, host)]}"
        for label, host, port in hops
    ]
    return Check(
        PROXY_STEP,
        CheckStatus.OK,
        f"connections go through {proxy}" + (": " + "; ".join(parts) if parts else "") + ".",
    )


def resolved_by_proxy(name: str, host: str, proxy: Proxy) -> Check:
    return Check(
        name, CheckStatus.OK, f"{host} is resolved by the proxy {proxy}; no name is looked up here."
    )


def connect_through(name: str, proxy: Proxy, host: str, port: int, timeout: float) -> Check:
    try:
        open_connection(proxy, host, port, timeout=timeout).close()
    except ProtestError as exc:
        return failed(name, exc)
    except OSError as exc:  # reached through the proxy, then the socket failed at once
        return Check(
            name,
            CheckStatus.FAIL,
            f"Cannot connect to {host} on port {port}: {exc}.",
            "Try again later.",
            ExitCode.TEMPFAIL,
        )
    return Check(
        name, CheckStatus.OK, f"{host} accepts connections on port {port}, through the proxy."
    )


def _token_host(config: Config) -> str | None:
    """The OAuth token endpoint's host, when the sign-in is protest's own."""
    from protest_dispatch.settings.oauth import oauth_client

    try:
        return urlsplit(oauth_client(config).endpoints.token_url).hostname
    except ProtestError:
        return None
