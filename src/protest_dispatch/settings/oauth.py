"""Which OAuth client and endpoints ``protest login`` and the token refresh use.

The user brings their own client (``oauth_client_id``): protest ships, embeds and
defaults to no application's client ID, since a provider can disable a borrowed
one for everybody at once (Microsoft did so to Thunderbird's in August 2024).
Presets carry only the providers' public endpoints and scopes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from protest_dispatch.errors import ConfigError
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.providers import by_host, by_key
from protest_dispatch.vocabulary import OAuthProvider

if TYPE_CHECKING:
    from protest_dispatch.settings.model import Settings

_MICROSOFT = "https://login.microsoftonline.com/common/oauth2/v2.0"
ACCOUNT_SCOPE = "openid email"
"""OpenID Connect's ID token names the account that signed in, so ``login`` can refuse
a grant for another mailbox than the one the letters go out from (a code pasted in
from someone else's sign-in). Microsoft puts ``preferred_username`` in it only with
``profile``."""
MICROSOFT_SMTP_SCOPE = (
    f"{ACCOUNT_SCOPE} profile https://outlook.office.com/SMTP.Send offline_access"
)
MICROSOFT_IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
GOOGLE_MAIL_SCOPE = f"{ACCOUNT_SCOPE} https://mail.google.com/"


@dataclass(frozen=True)
class Endpoints:
    authorization_url: str | None
    token_url: str
    device_authorization_url: str | None
    scope: str


PRESETS: dict[OAuthProvider, Endpoints] = {
    OAuthProvider.MICROSOFT: Endpoints(
        authorization_url=f"{_MICROSOFT}/authorize",
        token_url=f"{_MICROSOFT}/token",
        device_authorization_url=f"{_MICROSOFT}/devicecode",
        scope=MICROSOFT_SMTP_SCOPE,
    ),
    OAuthProvider.GOOGLE: Endpoints(
        # Google's device flow does not grant mail scopes: the browser flow it is.
        authorization_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",  # noqa: S106 - a URL, not a secret
        device_authorization_url=None,
        scope=GOOGLE_MAIL_SCOPE,
    ),
}


@dataclass(frozen=True)
class OAuthClient:
    """One OAuth client at one provider; the secret never shows in repr."""

    provider: OAuthProvider
    client_id: str
    endpoints: Endpoints
    client_secret: SecretStr | None = field(default=None, repr=False)
    proxy: Proxy | None = None
    """The SOCKS5 proxy the endpoints are reached through (config ``proxy``)."""

    @property
    def uses_device_flow(self) -> bool:
        """RFC 8628 when the provider has it; otherwise the browser with PKCE."""
        return self.endpoints.device_authorization_url is not None

    @property
    def offline_params(self) -> dict[str, str]:
        """Google returns a refresh token only with these; others ignore them."""
        if self.provider is OAuthProvider.MICROSOFT:
            return {}
        return {"access_type": "offline", "prompt": "consent"}


def oauth_client(config: Config) -> OAuthClient:
    """The configured client, or a ConfigError naming the missing or wrong key."""
    settings = config.settings
    client_id = (settings.oauth_client_id or "").strip()
    if not client_id:
        raise ConfigError(
            "No oauth_client_id is set: protest signs in with your own OAuth client and "
            "never borrows another application's.",
            key="oauth_client_id",
            hint="Register a client as the README's 'Outlook and Microsoft 365' or 'Gmail "
            "without app passwords' section explains, then set oauth_client_id in the config "
            "file (or PROTEST_OAUTH_CLIENT_ID).",
        )
    provider = _provider(config)
    secret = settings.oauth_client_secret
    endpoints = PRESETS.get(provider) or _custom(settings)
    scope = (settings.oauth_scope or "").strip()
    if scope and scope != endpoints.scope:  # e.g. Microsoft's IMAP scope for a mailbox reader
        endpoints = dataclasses.replace(endpoints, scope=scope)
    return OAuthClient(
        provider=provider,
        client_id=client_id,
        endpoints=endpoints,
        client_secret=secret or None,
        proxy=config.proxy(),
    )


def _provider(config: Config) -> OAuthProvider:
    """``oauth_provider``, else what the mail provider preset or the SMTP host implies."""
    settings = config.settings
    if settings.oauth_provider is not None:  # pydantic checked it is one
        return settings.oauth_provider
    preset = by_key(settings.provider) if settings.provider else None
    preset = preset or (by_host(settings.smtp_host) if settings.smtp_host else None)
    if preset is not None and preset.oauth is not None:
        return preset.oauth
    raise ConfigError(
        f"oauth_provider is not set; it must be one of {', '.join(OAuthProvider)}.",
        key="oauth_provider",
        hint='Set oauth_provider = "microsoft" (Outlook, Microsoft 365) or "google" '
        "in the config file, or PROTEST_OAUTH_PROVIDER.",
    )


def _custom(settings: Settings) -> Endpoints:
    """A custom provider's endpoints; the model checked each is https (or loopback http)."""
    token_url = settings.oauth_token_url
    if not token_url:
        raise ConfigError(
            "oauth_provider is custom but oauth_token_url is not set.",
            key="oauth_token_url",
            hint="Set oauth_token_url from your provider's OAuth documentation.",
        )
    device = settings.oauth_device_authorization_url or None
    authorization = settings.oauth_authorization_url or None
    if device is None and authorization is None:
        raise ConfigError(
            "oauth_provider is custom but neither oauth_device_authorization_url nor "
            "oauth_authorization_url is set, so there is no way to sign in.",
            key="oauth_authorization_url",
            hint="Set oauth_device_authorization_url (device flow) or oauth_authorization_url "
            "(browser flow) from your provider's documentation.",
        )
    scope = (settings.oauth_scope or "").strip()
    if not scope:
        raise ConfigError(
            "oauth_provider is custom but oauth_scope is not set.",
            key="oauth_scope",
            hint="Set oauth_scope to the space-separated scopes that allow sending mail "
            "by SMTP (and a refresh token, e.g. offline_access).",
        )
    return Endpoints(
        authorization_url=authorization,
        token_url=token_url,
        device_authorization_url=device,
        scope=scope,
    )
