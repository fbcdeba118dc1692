"""Where each SMTP connection's access token comes from: a command, or a stored sign-in.

A token command runs right before each connection opens, so a long cron run
never presents an expired token. A stored sign-in keeps the refresh token in the
keyring or the private file and the access token in memory only, refreshed
shortly before it expires; a rotated refresh token replaces the stored one at
once. Refreshes are serialised by a lock across threads and event loops, and by a
file lock across processes, so no connection ever presents a refresh token that a
rotation has already replaced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from protest_dispatch.errors import SignInError, SignInRequiredError
from protest_dispatch.oauth import client as oauth_http
from protest_dispatch.oauth.client import Grant, OAuthReply
from protest_dispatch.oauth.store import RefreshTokenStore
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.oauth import OAuthClient, oauth_client
from protest_dispatch.settings.secrets import run_secret_command
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import AuthMode

TOKEN_COMMAND_SECONDS = 60.0
REFRESH_MARGIN = 120.0
"""Refresh this long before expiry: a connection may take a while to reach AUTH."""
UNKNOWN_LIFETIME = 300.0
"""When the server does not say how long a token lives, assume it is short."""
Refresher = Callable[..., Grant]


@dataclass(frozen=True)
class CommandTokenSource:
    """``smtp_oauth_token_command``: its first output line is the access token."""

    command: str = field(repr=False)
    timeout: float = TOKEN_COMMAND_SECONDS

    async def __call__(self) -> str:
        return await asyncio.to_thread(self.current)

    def current(self) -> str:
        token = run_secret_command(
            self.command,
            key="smtp_oauth_token_command",
            what="access token",
            timeout=self.timeout,
        )
        return token.strip()  # tokens hold no spaces; helpers may pad the line


class StoredTokenSource:
    """The sign-in ``protest login`` stored; never starts a sign-in itself."""

    def __init__(
        self,
        *,
        client: OAuthClient,
        store: RefreshTokenStore,
        clock: Callable[[], float] = time.monotonic,
        margin: float = REFRESH_MARGIN,
        refresher: Refresher = oauth_http.refresh,
    ) -> None:
        self.client = client
        self.store = store
        self._clock = clock
        self._margin = margin
        self._refresher = refresher
        self._lock = threading.Lock()
        self._access: str | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0

    def __repr__(self) -> str:
        return f"StoredTokenSource(account={self.store.entry!r})"

    async def __call__(self) -> str:
        return await asyncio.to_thread(self.current)

    def current(self) -> str:
        """A valid access token, refreshed first when it is near its end."""
        with self._lock:
            if self._access is not None and self._fresh():
                return self._access
            with self.store.exclusive():
                return self._refresh()

    def _fresh(self) -> bool:
        # With short-lived tokens the margin shrinks to half the lifetime.
        margin = min(self._margin, self._lifetime / 2)
        return self._clock() < self._expires_at - margin

    def _refresh(self) -> str:
        account = f"{self.store.username} at {self.store.host}"
        stored = self.store.load()
        if stored is None:
            failed = "; ".join(self.store.keyring_failures)
            raise SignInRequiredError(
                f"There is no OAuth sign-in stored for {account}"
                + (
                    f" that protest can read: the system keyring failed ({failed})."
                    if failed
                    else "."
                ),
                account=self.store.entry,
                hint="Run `protest login` first (it is interactive); send never signs in by "
                "itself.",
            )
        refresh_token, where = stored
        started = self._clock()
        try:
            grant = self._refresher(self.client, refresh_token=refresh_token)
        except OAuthReply as reply:
            self._access = None
            if reply.error == "invalid_grant":
                raise SignInRequiredError(
                    f"The provider no longer accepts the stored sign-in for {account} "
                    f"({reply.explained()}): it was revoked or has expired.",
                    account=self.store.entry,
                    hint="Run `protest login` again.",
                ) from None
            raise SignInError(
                f"The token endpoint refused to renew the sign-in for {account}: "
                f"{reply.explained()}.",
                reason=reply.error,
                hint="Check the oauth_* settings, then run `protest login` again.",
            ) from None
        if grant.refresh_token is not None and grant.refresh_token != refresh_token:
            self.store.save(grant.refresh_token, where=where)
        self._lifetime = grant.expires_in if grant.expires_in is not None else UNKNOWN_LIFETIME
        self._expires_at = started + self._lifetime
        self._access = grant.access_token
        return grant.access_token


TokenSource = CommandTokenSource | StoredTokenSource


def token_source(config: Config, *, username: str, host: str) -> TokenSource:
    """The token command if one is set, else the stored sign-in for this account."""
    command = config.settings.smtp_oauth_token_command
    if command:
        return CommandTokenSource(command)
    store = RefreshTokenStore.for_account(username=username, host=host)
    if store.load() is None:
        failed = "; ".join(store.keyring_failures)
        raise SignInRequiredError(
            f"smtp_auth is xoauth2 but there is no token command and no stored sign-in for "
            f"{username} at {host}"
            + (f" that protest can read: the system keyring failed ({failed})." if failed else "."),
            account=store.entry,
            hint="Run `protest login` (interactive, once), or set smtp_oauth_token_command "
            "to a token helper such as oama.",
        )
    return StoredTokenSource(client=oauth_client(config), store=store)


def with_token_source(settings: SmtpSettings, config: Config, *, renew: bool) -> SmtpSettings:
    """``settings`` with its token provider attached when ``smtp_auth`` is xoauth2.

    With ``renew`` a stored sign-in is renewed now, so a revoked one (exit 1) or an
    unreachable token endpoint (exit 75) stops the run before anything is planned.
    A token command is not run early: it runs right before each connection.
    """
    if settings.auth is not AuthMode.XOAUTH2 or settings.username is None:
        return settings
    source = token_source(config, username=settings.username, host=settings.host)
    if renew and isinstance(source, StoredTokenSource):
        source.current()
    return dataclasses.replace(settings, token=source)
