"""Helpers for the OAuth2 / XOAUTH2 tests: settings that point protest at the test servers.

The OAuth server is configured as a ``custom`` provider, so the product runs the same
code it runs for Microsoft (device flow) or Google (browser flow with PKCE).
"""

from __future__ import annotations

from pathlib import Path

from kit import env_for
from oauth_server import (
    DEFAULT_USER,
    DESKTOP_CLIENT,
    DESKTOP_SECRET,
    GMAIL_SCOPE,
    OUTLOOK_SMTP_SCOPE,
    PUBLIC_CLIENT,
    OAuthServer,
)
from protest_dispatch.oauth.device import Pacing
from xoauth2_smtp import XOAuth2Server

USER = DEFAULT_USER


def device_env(oauth: OAuthServer) -> dict[str, str]:
    """A Microsoft-style public client on the device flow."""
    return {
        "PROTEST_OAUTH_PROVIDER": "custom",
        "PROTEST_OAUTH_CLIENT_ID": PUBLIC_CLIENT,
        "PROTEST_OAUTH_TOKEN_URL": oauth.token_endpoint,
        "PROTEST_OAUTH_DEVICE_AUTHORIZATION_URL": oauth.device_authorization_endpoint,
        "PROTEST_OAUTH_SCOPE": OUTLOOK_SMTP_SCOPE,
    }


def browser_env(oauth: OAuthServer) -> dict[str, str]:
    """A Google-style desktop client (with its non-secret secret) on the browser flow."""
    return {
        "PROTEST_OAUTH_PROVIDER": "custom",
        "PROTEST_OAUTH_CLIENT_ID": DESKTOP_CLIENT,
        "PROTEST_OAUTH_CLIENT_SECRET": DESKTOP_SECRET,
        "PROTEST_OAUTH_TOKEN_URL": oauth.token_endpoint,
        "PROTEST_OAUTH_AUTHORIZATION_URL": oauth.authorization_endpoint,
        "PROTEST_OAUTH_SCOPE": GMAIL_SCOPE,
    }


def xoauth2_env(
    oauth: OAuthServer,
    smtp: XOAuth2Server | None,
    *,
    log: Path,
    browser: bool = False,
    **extra: str,
) -> dict[str, str]:
    """Everything a send, doctor or login run needs: STARTTLS, XOAUTH2, the client."""
    env = env_for(
        smtp,
        log=log,
        PROTEST_SMTP_SECURITY="starttls",
        PROTEST_SMTP_USERNAME=USER,
        PROTEST_SMTP_AUTH="xoauth2",
        **({"PROTEST_SMTP_CA_FILE": str(smtp.ca_file)} if smtp and smtp.ca_file else {}),
    )
    env.update(browser_env(oauth) if browser else device_env(oauth))
    env.update(extra)
    return env


def virtual_pacing(oauth: OAuthServer) -> Pacing:
    """The device sign-in's sleep and clock in ``oauth``'s virtual time: each wait between
    polls moves the server's clock on, so the server sees the interval kept, at once."""
    return Pacing(sleep=oauth.advance, clock=oauth.now)
