"""Token-endpoint calls through Authlib (PKCE, refresh, the device-code grant) over httpx2.

Every failure becomes one of three things: :class:`OAuthReply` (the server
answered with an RFC 6749 error such as ``invalid_grant`` or
``authorization_pending``; callers decide what it means),
:class:`TokenEndpointUnavailableError` (unreachable, 5xx, or not an OAuth answer:
try later), or a :class:`ConfigError` for an unknown client. No token, code,
verifier or secret is ever put in an exception's text, and the endpoint's own words
pass through a :class:`Masker` that knows every secret of the exchange.

Every exchange is bounded, since the endpoint may be hostile or broken: a total
deadline (a server that sends one byte every 5 s cannot stretch it), an answer of
at most 1 MiB, refused by its Content-Length or as it streams (never buffered), no
compression (a small body cannot unpack to gigabytes), and every number clamped.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from protest_dispatch.errors import ConfigError, SignInError, TokenEndpointUnavailableError
from protest_dispatch.masking import Masker
from protest_dispatch.settings.oauth import OAuthClient
from protest_dispatch.text import ANY_CONTROL

if TYPE_CHECKING:
    import httpx2
    from authlib.integrations.httpx_client import OAuth2Client

HTTP_TIMEOUT = 30.0
"""The whole of one exchange with an endpoint, connecting included."""
MAX_ANSWER = 1024 * 1024
"""A token answer is a few kilobytes; a megabyte is not one."""
LONGEST_TOKEN_LIFE = 24 * 3600.0
"""An access token said to live longer is renewed after a day all the same."""
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_UNSAFE = ANY_CONTROL
_READ_OF_REPLY = 2000
_SHOWN_OF_REPLY = 300
_T = TypeVar("_T")
_D = TypeVar("_D", float, None)


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
    account: str | None = None
    """Whom the provider says signed in (the ID token's email), when the scope asked."""


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

    With the ``proxy`` setting every request goes through it (``net.transport``), and the
    environment's proxies are ignored everywhere.
    """
    from authlib.integrations.httpx_client import OAuth2Client

    secret = client.client_secret.get_secret_value() if client.client_secret else None
    loopback = urlsplit(client.endpoints.token_url).hostname in _LOOPBACK
    deadline = time.monotonic() + timeout
    if client.proxy is not None:
        from protest_dispatch.net.tls import verified_context
        from protest_dispatch.net.transport import http_transport

        verify = verified_context(None, key="proxy", where="the system's certificate store")
        options["transport"] = http_transport(client.proxy, verify=verify)
    return OAuth2Client(
        client_id=client.client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        scope=client.endpoints.scope,
        timeout=timeout,
        # with a proxy set, HTTPS_PROXY and friends may not open another way out
        trust_env=not loopback and client.proxy is None,
        headers={"Accept-Encoding": "identity"},
        event_hooks={"response": [lambda response: _bounded(response, deadline=deadline)]},
        **options,
    )


def _bounded(response: httpx2.Response, *, deadline: float) -> None:
    """Refuse a compressed or oversized answer before reading it; cap the rest as it comes."""
    import httpx2

    url = str(response.request.url.copy_with(query=None))
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise _not_oauth(url, f"it sent a {encoding[:20]!r}-compressed answer")
    length = response.headers.get("content-length", "0").strip()
    if not length.isdigit() or int(length) > MAX_ANSWER:
        raise _too_large(url)
    inner = response.stream

    class Capped(httpx2.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            size = 0
            for chunk in inner:  # type: ignore[union-attr]  # a sync client's stream
                size += len(chunk)
                if size > MAX_ANSWER:
                    raise _too_large(url)
                if time.monotonic() > deadline:
                    raise _too_slow(url, None)
                yield chunk

        def close(self) -> None:
            inner.close()  # type: ignore[union-attr]  # a sync client's stream

    response.stream = Capped()


def _within(url: str, timeout: float, exchange: Callable[[], _T]) -> _T:
    """``exchange()`` with a total deadline: per-read time-outs alone let a server that
    drips its answer (headers included) hold a run for ever. The worker is abandoned
    at the deadline; its stream stops itself at the next byte."""
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(exchange())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=run, name="oauth-exchange", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise _too_slow(url, timeout)
    if failure:
        raise failure[0]
    return outcome[0]


def refresh(client: OAuthClient, *, refresh_token: str, timeout: float = HTTP_TIMEOUT) -> Grant:
    """A new access token (and maybe a rotated refresh token) for ``refresh_token``."""
    url = client.endpoints.token_url

    def exchange() -> Any:
        with session(client, timeout=timeout) as http, _calling(url, client, refresh_token):
            return http.refresh_token(url, refresh_token=refresh_token)

    return _grant(_within(url, timeout, exchange), url)


def device_authorization(client: OAuthClient, *, timeout: float = HTTP_TIMEOUT) -> DeviceCode:
    """Start RFC 8628: ask for a device code and a user code."""
    url = client.endpoints.device_authorization_url
    assert url is not None, "only called for clients with a device authorization endpoint"
    form = {"client_id": client.client_id, "scope": client.endpoints.scope}
    if client.client_secret is not None:
        form["client_secret"] = client.client_secret.get_secret_value()

    def exchange() -> dict[str, Any]:
        with session(client, timeout=timeout) as http, _calling(url, client):
            response = http.request("POST", url, data=form, withhold_token=True)
            return _json_object(response, url)

    body = _within(url, timeout, exchange)
    try:
        return DeviceCode(
            device_code=str(body["device_code"]),
            user_code=_UNSAFE.sub(" ", str(body["user_code"])),
            verification_uri=_UNSAFE.sub(
                " ", str(body.get("verification_uri") or body["verification_url"])
            ),
            verification_uri_complete=body.get("verification_uri_complete"),
            expires_in=seconds(body.get("expires_in"), low=1, high=3600, default=900),
            # NaN and "abc" become the RFC's 5 s here; device.py clamps the rest to 1-60 s
            interval=seconds(body.get("interval", 5), low=0, high=math.inf, default=5.0),
        )
    except (KeyError, TypeError, ValueError):
        raise _not_oauth(url) from None


def device_token(client: OAuthClient, *, device_code: str, timeout: float = HTTP_TIMEOUT) -> Grant:
    """One poll of the token endpoint; pending and slow_down arrive as OAuthReply."""
    url = client.endpoints.token_url

    def exchange() -> Any:
        with session(client, timeout=timeout) as http, _calling(url, client, device_code):
            return http.fetch_token(url, grant_type=DEVICE_GRANT, device_code=device_code)

    return _grant(_within(url, timeout, exchange), url)


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

    def exchange() -> Any:
        with session(client, timeout=timeout) as http, _calling(url, client, code, verifier):
            return http.fetch_token(
                url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=verifier,
            )

    return _grant(_within(url, timeout, exchange), url)


@contextmanager
def _calling(url: str, client: OAuthClient, *secrets: str) -> Iterator[None]:
    """Library errors as ours; the endpoint's words masked for every secret it was sent."""
    import httpx2
    from authlib.integrations.base_client.errors import OAuthError

    secret = client.client_secret.get_secret_value() if client.client_secret else None
    mask = Masker(secret, *secrets)
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
        # cut before masking (a megabyte costs seconds), then shown far shorter than the
        # cut, so a secret the cut split cannot show its first characters
        error = mask(str(exc.error)[:_READ_OF_REPLY])[:_SHOWN_OF_REPLY]
        description = mask((exc.description or "")[:_READ_OF_REPLY])[:_SHOWN_OF_REPLY]
        raise OAuthReply(error, description) from None
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
    kind = token.get("token_type")
    if not isinstance(kind, str) or kind.lower() != "bearer":  # RFC 6750; case-insensitive
        shown = _UNSAFE.sub(" ", str(kind))[:40] if kind is not None else "no"
        raise SignInError(
            f"The token endpoint {url} issued a token of type {shown!r}, not a Bearer "
            "token, which XOAUTH2 needs; it was not used or stored.",
            reason="token_type",
            hint="Check oauth_token_url: it must be your mail provider's OAuth2 token endpoint.",
        )
    refresh_token = token.get("refresh_token")
    expires = token.get("expires_in")
    return Grant(
        access_token=access,
        expires_in=None
        if expires is None
        else seconds(expires, low=0, high=LONGEST_TOKEN_LIFE, default=None),
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        account=_account(token.get("id_token")),
    )


def seconds(value: object, *, low: float, high: float, default: _D) -> float | _D:
    """A duration a server sent, clamped to ``[low, high]``; ``default`` if not a number.

    JSON gives ``NaN``, ``1e400`` (infinity) or ``"abc"`` as readily as ``5``; none may
    reach ``time.sleep`` or a deadline unchecked.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return default
    if math.isnan(number):
        return default
    return min(max(number, low), high)


def _account(id_token: object) -> str | None:
    """The email (or Microsoft's preferred_username) an OpenID Connect ID token names.

    Not checked against a signature: it came on the TLS connection to the token
    endpoint itself, which OpenID Connect Core §3.1.3.7 lets a client rely on.
    """
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    for name in ("email", "preferred_username", "upn"):
        value = claims.get(name)
        if isinstance(value, str) and value and not _UNSAFE.search(value):
            return value[:320]
    return None


def _not_oauth(url: str, why: str | None = None) -> TokenEndpointUnavailableError:
    return TokenEndpointUnavailableError(
        f"The endpoint {url} did not answer as an OAuth server does"
        + (f" ({why})." if why else "."),
        url=url,
        hint="Check the oauth_* URLs if you set them; otherwise try again later.",
    )


def _too_large(url: str) -> TokenEndpointUnavailableError:
    return TokenEndpointUnavailableError(
        f"The endpoint {url} sent an answer larger than {MAX_ANSWER // 1024} KiB, which no "
        "OAuth answer is; it was not read.",
        url=url,
        hint="Check the oauth_* URLs if you set them; otherwise try again later.",
    )


def _too_slow(url: str, timeout: float | None) -> TokenEndpointUnavailableError:
    within = f" within {timeout:g} s" if timeout is not None else " in time"
    return TokenEndpointUnavailableError(
        f"The endpoint {url} did not finish answering{within}.",
        url=url,
        hint="Try again later; a cron job will retry by itself.",
    )
