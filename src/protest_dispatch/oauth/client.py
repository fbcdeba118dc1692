"""Token-endpoint calls through Authlib (PKCE, refresh, the device-code grant) over httpx2.

Every failure becomes one of three things: :class:`OAuthReply` (the server
answered with an RFC 6749 error such as ``invalid_grant`` or
``authorization_pending``; callers decide what it means),
:class:`TokenEndpointUnavailableError` (unreachable, 5xx, or not an OAuth answer:
try later), or a :class:`ConfigError` for an unknown client. No token, code,
verifier or secret is ever put in an exception's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from protest_dispatch.errors import ConfigError, TokenEndpointUnavailableError
from protest_dispatch.settings.oauth import OAuthClient

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client

HTTP_TIMEOUT = 30.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class OAuthReply(Exception):
    """The endpoint answered with an OAuth error code (``invalid_grant``, ``slow_down``...)."""

    def __init__(self, error: str, description: str | None = None) -> None:
        super().__init__(error)
        self.error = _UNSAFE.sub(" ", error)
        self.description = _UNSAFE.sub(" ", description or "").strip()

    def explained(self) -> str:
        return self.error + (f" ({self.description})" if self.description else "")


@dataclass(frozen=True)
class Grant:
    """What the token endpoint issued; repr shows no token."""

    access_token: str = field(repr=False)
    expires_in: float | None
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DeviceCode:
    """RFC 8628 §3.2: shown to the user as the server gave it (except ``device_code``)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


def session(client: OAuthClient, *, timeout: float = HTTP_TIMEOUT, **options: Any) -> OAuth2Client:
    """An Authlib client; proxies from the environment are ignored for loopback endpoints.

    With the ``proxy`` setting every request goes through it (``net.http``), and the
    environment's proxies are ignored everywhere.
    """
    from authlib.integrations.httpx_client import OAuth2Client

    secret = client.client_secret.get_secret_value() if client.client_secret else None
    loopback = urlsplit(client.endpoints.token_url).hostname in _LOOPBACK
    if client.proxy is not None:
        from protest_dispatch.net.http import http_transport

        options["transport"] = http_transport(client.proxy)
    return OAuth2Client(
        client_id=client.client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        scope=client.endpoints.scope,
        timeout=timeout,
        # with a proxy set, HTTPS_PROXY and friends may not open another way out
        trust_env=not loopback and client.proxy is None,
        **options,
    )


def refresh(client: OAuthClient, *, refresh_token: str, timeout: float = HTTP_TIMEOUT) -> Grant:
    """A new access token (and maybe a rotated refresh token) for ``refresh_token``."""
    url = client.endpoints.token_url
    with session(client, timeout=timeout) as http, _calling(url, client):
        token = http.refresh_token(url, refresh_token=refresh_token)
    return _grant(token, url)


def device_authorization(client: OAuthClient, *, timeout: float = HTTP_TIMEOUT) -> DeviceCode:
    """Start RFC 8628: ask for a device code and a user code."""
    url = client.endpoints.device_authorization_url
    assert url is not None, "only called for clients with a device authorization endpoint"
    form = {"client_id": client.client_id, "scope": client.endpoints.scope}
    if client.client_secret is not None:
        form["client_secret"] = client.client_secret.get_secret_value()
    with session(client, timeout=timeout) as http, _calling(url, client):
        response = http.request("POST", url, data=form, withhold_token=True)
        body = _json_object(response, url)
    try:
        return DeviceCode(
            device_code=str(body["device_code"]),
            user_code=_UNSAFE.sub(" ", str(body["user_code"])),
            verification_uri=_UNSAFE.sub(
                " ", str(body.get("verification_uri") or body["verification_url"])
            ),
            verification_uri_complete=body.get("verification_uri_complete"),
            expires_in=float(body.get("expires_in", 900)),
            interval=float(body.get("interval", 5)),
        )
    except (KeyError, TypeError, ValueError):
        raise _not_oauth(url) from None


def device_token(client: OAuthClient, *, device_code: str, timeout: float = HTTP_TIMEOUT) -> Grant:
    """One poll of the token endpoint; pending and slow_down arrive as OAuthReply."""
    url = client.endpoints.token_url
    with session(client, timeout=timeout) as http, _calling(url, client):
        token = http.fetch_token(url, grant_type=DEVICE_GRANT, device_code=device_code)
    return _grant(token, url)


def exchange_code(
    client: OAuthClient,
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
    timeout: float = HTTP_TIMEOUT,
) -> Grant:
    """RFC 6749 §4.1.3 with the PKCE verifier (RFC 7636 §4.5)."""
    url = client.endpoints.token_url
    with session(client, timeout=timeout) as http, _calling(url, client):
        token = http.fetch_token(
            url,
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=verifier,
        )
    return _grant(token, url)


@contextmanager
def _calling(url: str, client: OAuthClient) -> Iterator[None]:
    import httpx2
    from authlib.integrations.base_client.errors import OAuthError

    try:
        yield
    except OAuthError as exc:
        if exc.error == "invalid_client":
            raise ConfigError(
                f"The token endpoint {url} does not accept the OAuth client "
                f"{client.client_id!r} (invalid_client).",
                key="oauth_client_id",
                hint="Check oauth_client_id (and for Google oauth_client_secret) against the "
                "client you registered; a Microsoft client must allow public client flows.",
            ) from None
        raise OAuthReply(str(exc.error), exc.description) from None
    except httpx2.HTTPStatusError as exc:
        raise TokenEndpointUnavailableError(
            f"The token endpoint {url} answered HTTP {exc.response.status_code}.",
            url=url,
            hint="Try again later; a cron job will retry by itself.",
        ) from None
    except httpx2.HTTPError as exc:
        raise TokenEndpointUnavailableError(
            f"The token endpoint {url} could not be reached ({type(exc).__name__}).",
            url=url,
            hint="Check that you are online, then try again later; a cron job will retry "
            "by itself.",
        ) from None
    except ValueError:
        raise _not_oauth(url) from None


def _json_object(response: Any, url: str) -> dict[str, Any]:
    """The JSON answer, or Authlib's OAuthError so that ``_calling`` maps it like others."""
    from authlib.integrations.base_client.errors import OAuthError

    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        raise OAuthError(str(body["error"]), str(body.get("error_description") or ""))
    if response.status_code >= 500 or not isinstance(body, dict):
        raise _not_oauth(url)
    return body


def _grant(token: Any, url: str) -> Grant:
    access = token.get("access_token") if isinstance(token, dict) else None
    if not isinstance(access, str) or not access:
        raise _not_oauth(url)
    expires = token.get("expires_in")
    refresh_token = token.get("refresh_token")
    return Grant(
        access_token=access,
        expires_in=float(expires) if isinstance(expires, int | float) else None,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
    )


def _not_oauth(url: str) -> TokenEndpointUnavailableError:
    return TokenEndpointUnavailableError(
        f"The endpoint {url} did not answer as an OAuth server does.",
        url=url,
        hint="Check the oauth_* URLs if you set them; otherwise try again later.",
    )
