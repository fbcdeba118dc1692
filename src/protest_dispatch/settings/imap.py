"""How to reach and log in to the IMAP server the letters' replies arrive at.

The settings mirror SMTP's: ``imap_host``, ``imap_port``, ``imap_security``,
``imap_username``, ``imap_ca_file`` (each also ``PROTEST_IMAP_*``). When no IMAP
host is set, the provider preset named by ``provider`` fills it in. The username
defaults to the SMTP username, then to the sender's address. The password comes
from ``PROTEST_IMAP_PASSWORD`` or ``imap_password_command`` when given, else from
the same sources as SMTP's. It is looked up only when the session logs in, through
a credentials callable: the seam where XOAUTH2 plugs in (``inbox.signin``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from protest_dispatch.errors import ConfigError
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.providers import by_key
from protest_dispatch.settings.secrets import run_password_command
from protest_dispatch.vocabulary import AuthMode, Security


@dataclass(frozen=True)
class Credentials:
    """What a login sends: a password, or (from the sign-in issue) an OAuth2 access token."""

    username: str
    secret: SecretStr
    mechanism: AuthMode = AuthMode.PASSWORD


CredentialSource = Callable[[], Credentials]


@dataclass(frozen=True)
class ImapSettings:
    """How to reach the mailbox; the credentials are fetched only at login."""

    host: str
    port: int
    security: Security
    username: str
    credentials: CredentialSource = field(repr=False, compare=False)
    ca_file: Path | None = None
    timeout: float = 30.0
    proxy: Proxy | None = None
    """The SOCKS5 proxy (config ``proxy``); a server on this machine is reached directly."""


NO_PASSWORD_KEY = "imap_password_command"  # noqa: S105 - a setting's name, not a password
"""The key a missing mailbox password is reported under (doctor notes it, not fails)."""


def imap_configured(config: Config) -> bool:
    """Whether the sender set up reading the mailbox ('protest init' writes imap_host)."""
    return bool(config.settings.imap_host)


def imap_settings(config: Config, *, sender_email: str) -> ImapSettings:
    """The IMAP settings for a run, checked; raises ConfigError naming the key to fix."""
    settings = config.settings
    given_host = settings.imap_host
    preset = None if given_host or not settings.provider else by_key(settings.provider)
    chosen_host = given_host or (preset.imap_host if preset else None)
    if not chosen_host:
        raise ConfigError(
            "No IMAP server is configured, so the mailbox cannot be read.",
            key="imap_host",
            hint="Run 'protest init' again, or set imap_host in the config file "
            "(or PROTEST_IMAP_HOST), e.g. imap.example.org.",
        )
    # A preset's server comes with its own security and port (Proton Mail Bridge: starttls).
    security = preset.imap_security if preset and preset.imap_security else settings.imap_security
    port = settings.imap_port or (preset.imap_port if preset else None)
    username = (settings.imap_username or settings.smtp_username or sender_email).strip()
    return ImapSettings(
        host=chosen_host,
        port=port or security.imap_port,
        security=security,
        username=username,
        credentials=_password_source(config, username=username),
        ca_file=_ca_file(config, bridge=bool(preset and preset.needs_ca_file)),
        proxy=config.proxy(),
    )


def _ca_file(config: Config, *, bridge: bool) -> Path | None:
    """imap_ca_file; for Proton Mail Bridge's preset, the certificate SMTP trusts."""
    settings = config.settings
    ca = settings.imap_ca_file or (settings.smtp_ca_file if bridge else None)
    if ca is None:
        return None
    path = ca.expanduser()
    if not path.is_file():
        raise ConfigError(
            f"The CA file {ca} from {config.source('imap_ca_file')} does not exist.",
            key="imap_ca_file",
            hint="Give the path of the PEM file of the certificate authority to trust.",
        )
    return path


def _password_source(config: Config, *, username: str) -> CredentialSource:
    def credentials() -> Credentials:
        return Credentials(username=username, secret=_password(config))

    return credentials


def own_password(config: Config) -> bool:
    """Whether the mailbox has a password of its own (then it wins over an OAuth sign-in)."""
    return bool(config.settings.imap_password or config.settings.imap_password_command)


def _password(config: Config) -> SecretStr:
    """IMAP's own password if given, else SMTP's (same mailbox, same account)."""
    settings = config.settings
    own = settings.imap_password  # PROTEST_IMAP_PASSWORD only: never in a file
    if own:
        return own
    command = settings.imap_password_command
    if command:
        return SecretStr(run_password_command(command, key="imap_password_command"))
    smtp_user = settings.smtp_username
    smtp_host = settings.smtp_host
    shared = (
        config.password(username=smtp_user, host=smtp_host)
        if smtp_user and smtp_host
        else _without_keyring(config)
    )
    if shared is None:
        raise ConfigError(
            "No password is configured for reading the mailbox.",
            key=NO_PASSWORD_KEY,
            hint="Set PROTEST_IMAP_PASSWORD (in that shell only) or imap_password_command; "
            "a mailbox that shares the SMTP login also takes PROTEST_SMTP_PASSWORD or "
            "smtp_password_command.",
        )
    return shared


def _without_keyring(config: Config) -> SecretStr | None:
    """The SMTP password sources that need no SMTP account name (the keyring does)."""
    if config.settings.smtp_password_keyring:
        return None
    return config.password(username="", host="")
