"""``protest login`` and ``logout``: sign in once, store the refresh token, or remove it.

The course prints nothing: what to show the user (the device flow's URL and code,
the browser flow's URL) goes to the caller's callbacks, and nothing is read from
standard input, so ``login`` works with stdin closed and stdout a pipe.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.addresses import same_mailbox
from protest_dispatch.errors import ConfigError, SignInError
from protest_dispatch.oauth.client import DeviceCode
from protest_dispatch.oauth.device import Pacing
from protest_dispatch.oauth.store import RefreshTokenStore
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.oauth import OAuthClient, oauth_client
from protest_dispatch.vocabulary import TokenStore


@dataclass(frozen=True)
class LoginRequest:
    config_path: Path | None = None
    store: TokenStore = TokenStore.KEYRING
    smtp_host: str | None = None
    token_file: Path | None = None  # tests; users get the data folder's file
    proxy: str | None = None  # --proxy


@dataclass(frozen=True)
class LoginResult:
    """What was stored where; never the token itself."""

    account: str
    flow: str  # "device" or "browser"
    stored_in: TokenStore
    asked_for: TokenStore
    file: Path
    signed_in_as: str | None = None
    """The account the provider names (ID token), when the scope asked for it."""
    keyring_failures: tuple[str, ...] = ()

    @property
    def fell_back(self) -> bool:
        """The keyring was asked for but did not work, so the file holds the token."""
        return self.stored_in is not self.asked_for


@dataclass(frozen=True)
class LogoutResult:
    account: str
    removed: tuple[TokenStore, ...]
    file: Path
    keyring_failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prompts:
    """How the caller shows each flow's instructions, and opens a browser."""

    device_code: Callable[[DeviceCode], None]
    browser_url: Callable[[str], None]
    outside_proxy: Callable[[str, bool], None] = lambda proxy, device: None
    """Told (the proxy, whether the device flow is used) that the browser bypasses the proxy."""
    open_browser: Callable[[str], object] = webbrowser.open


def login(
    *,
    request: LoginRequest,
    prompts: Prompts,
    pacing: Pacing = Pacing(),  # noqa: B008 - frozen, so one shared default is safe
) -> LoginResult:
    """Sign in with the configured client and flow, then store the refresh token."""
    config = Config.load(path=request.config_path).with_options(proxy=request.proxy)
    client = oauth_client(config)
    store = _store(config, request)
    open_browser = prompts.open_browser
    if client.proxy is not None:
        # The token requests go through the proxy; a browser is outside protest's reach.
        prompts.outside_proxy(str(client.proxy), client.uses_device_flow)
        open_browser = _not_opened  # the system browser would show the provider our address
    if client.uses_device_flow:
        from protest_dispatch.oauth.device import device_sign_in

        grant = device_sign_in(client, show=prompts.device_code, pacing=pacing)
        flow = "device"
    else:
        from protest_dispatch.oauth.browser import browser_sign_in

        grant = browser_sign_in(client, show=prompts.browser_url, open_browser=open_browser)
        flow = "browser"
    if grant.refresh_token is None:
        raise SignInError(
            "The provider signed you in but issued no refresh token, so protest could not "
            "send later without you.",
            reason="no_refresh_token",
            hint=_no_refresh_hint(client),
        )
    _check_account(grant.account, username=store.username)
    where = store.save(grant.refresh_token, where=request.store)
    return LoginResult(
        account=store.entry.removeprefix("oauth:"),
        flow=flow,
        stored_in=where,
        asked_for=request.store,
        file=store.file,
        signed_in_as=grant.account,
        keyring_failures=tuple(store.keyring_failures),
    )


def _check_account(account: str | None, *, username: str) -> None:
    """Refuse a grant for another account than the mailbox the letters go out from.

    The loopback redirect can be reached by any local process; one that read the
    authorization URL could have put in a code for its own account. The provider's
    ID token says who signed in, when the scope has ``openid`` and ``email``.
    """
    if account is None or same_mailbox(account, username):
        return
    raise SignInError(
        f"The provider says you signed in as {account}, but smtp_username is {username}, "
        "so the sign-in was not stored.",
        reason="account",
        hint=f"Run `protest login` again and choose {username} at the provider (or correct "
        "smtp_username). If you did choose it, another program on this computer may have "
        "answered the sign-in in your browser's place: check what runs on this computer.",
    )


def _not_opened(url: str) -> bool:
    return False


def logout(*, request: LoginRequest) -> LogoutResult:
    """Remove what ``login`` stored for this account, wherever it is."""
    store = _store(Config.load(path=request.config_path), request)
    removed = tuple(store.delete())
    return LogoutResult(
        account=store.entry.removeprefix("oauth:"),
        removed=removed,
        file=store.file,
        keyring_failures=tuple(store.keyring_failures),
    )


def _store(config: Config, request: LoginRequest) -> RefreshTokenStore:
    settings = config.with_options(smtp_host=request.smtp_host).settings
    host, username = settings.smtp_host, settings.smtp_username
    if not host or not username:
        missing = "smtp_host" if not host else "smtp_username"
        raise ConfigError(
            f"No {missing} is set, so there is no account to sign in to.",
            key=missing,
            hint="Run 'protest init', or set smtp_host and smtp_username (your full email "
            "address) in the config file.",
        )
    return RefreshTokenStore.for_account(username=username, host=host, file=request.token_file)


def _no_refresh_hint(client: OAuthClient) -> str:
    if "offline_access" in client.endpoints.scope.split() or client.offline_params:
        return "Check the client's settings at your provider, then run `protest login` again."
    return "Add offline_access to oauth_scope, then run `protest login` again."
