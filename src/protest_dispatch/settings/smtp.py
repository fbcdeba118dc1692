"""How to reach and log in to the SMTP server, as one frozen value."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from protest_dispatch.errors import ConfigError
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.vocabulary import AuthMode, Security

TokenProvider = Callable[[], Awaitable[str]]
"""Gives a fresh OAuth2 access token; called right before each connection logs in."""

if TYPE_CHECKING:
    from protest_dispatch.settings.config import Config


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach and log in to the SMTP server; the password never shows in repr."""

    host: str
    port: int
    security: Security
    helo_name: str  # the sender's email domain, never this machine's FQDN
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None  # PEM bundle trusted instead of the system store
    timeout: float = 30.0  # connect and ordinary replies
    data_timeout: float = 600.0  # reply to the end of data (RFC 5321 4.5.3.2.6)
    auth: AuthMode = AuthMode.PASSWORD
    token: TokenProvider | None = field(default=None, repr=False, compare=False)
    """With ``auth`` xoauth2: where each connection's access token comes from."""

    def __post_init__(self) -> None:
        # Code may build this value without the settings model (tests, library use):
        # an unknown security must fail here, not fall through to clear text later.
        object.__setattr__(self, "security", Security(self.security))
        object.__setattr__(self, "auth", AuthMode(self.auth))

    proxy: Proxy | None = None
    """The SOCKS5 proxy (config ``proxy``); a server on this machine is reached directly."""


@dataclass(frozen=True)
class SmtpOverrides:
    """The SMTP options given on a command line (``--smtp-host`` ...); None is not given.

    They are raw: the settings model checks them like every other source, and its
    error names the option.
    """

    host: str | None = None
    port: int | None = None
    security: str | None = None
    ca_file: Path | None = None
    auth: str | None = None


def check_smtp_options(config: Config, *, given: SmtpOverrides) -> Config:
    """The settings with these SMTP options on top, checked without a password or a network.

    ``send --dry-run`` calls this so a typo in an SMTP option fails the preview too.
    """
    checked = config.with_options(
        smtp_host=given.host,
        smtp_port=given.port,
        smtp_security=given.security,
        smtp_ca_file=given.ca_file,
        smtp_auth=given.auth,
    )
    ca = checked.settings.smtp_ca_file
    if ca is not None and not ca.expanduser().is_file():
        raise ConfigError(
            f"The CA file {ca} does not exist (from {checked.source('smtp_ca_file')}).",
            key="smtp_ca_file",
            hint="Give the path of a PEM file, or remove the setting to trust the system's CAs.",
        )
    return checked


def smtp_settings(
    config: Config, *, given: SmtpOverrides | None = None, helo_name: str
) -> SmtpSettings:
    """The SMTP settings for a run; the password is looked up only if a username is set.

    With ``smtp_auth = "xoauth2"`` no password is looked up; the caller attaches the
    token provider (``oauth.source``), which knows commands, keyrings and refreshes.
    """
    settings = check_smtp_options(config, given=given or SmtpOverrides()).settings
    if not settings.smtp_host:
        raise ConfigError(
            "No SMTP server is configured.",
            key="smtp_host",
            hint="Run 'protest init', or set --smtp-host (PROTEST_SMTP_HOST) and "
            "PROTEST_SMTP_USERNAME.",
        )
    chosen_security = settings.smtp_security or Security.STARTTLS
    username = settings.smtp_username or None  # empty: this server takes no login
    mode = settings.smtp_auth
    if mode is AuthMode.XOAUTH2 and not username:
        raise ConfigError(
            "smtp_auth is xoauth2 but no smtp_username is set; XOAUTH2 signs in as a mailbox.",
            key="smtp_username",
            hint="Set smtp_username (PROTEST_SMTP_USERNAME) to your full email address.",
        )
    password = None
    if username and mode is AuthMode.PASSWORD:
        password = config.password(username=username, host=settings.smtp_host)
        if password is None:
            raise ConfigError(
                f"A username ({username}) is set but no password.",
                key="smtp_password",
                hint="Set PROTEST_SMTP_PASSWORD or PROTEST_SMTP_PASSWORD_COMMAND, run "
                "'protest init' to store it, or set smtp_username = \"\" (or "
                "PROTEST_SMTP_USERNAME=) if the server takes no login.",
            )
    ca = settings.smtp_ca_file
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port or chosen_security.smtp_port,
        security=chosen_security,
        helo_name=helo_name,
        username=username,
        password=password,
        ca_file=ca.expanduser() if ca else None,
        auth=mode,
        timeout=settings.smtp_timeout or SmtpSettings.timeout,
        data_timeout=settings.smtp_data_timeout or SmtpSettings.data_timeout,
        proxy=config.proxy(),
    )
