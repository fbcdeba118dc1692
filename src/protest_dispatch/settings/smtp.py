"""How to reach and log in to the SMTP server, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from protest_dispatch.errors import ConfigError
from protest_dispatch.vocabulary import Security

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


def check_smtp_options(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    security: str | None = None,
    ca_file: Path | None = None,
) -> Config:
    """The settings with these SMTP options on top, checked without a password or a network.

    ``send --dry-run`` calls this so a typo in an SMTP option fails the preview too.
    """
    checked = config.with_options(
        smtp_host=host, smtp_port=port, smtp_security=security, smtp_ca_file=ca_file
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
    config: Config,
    *,
    host: str | None,
    port: int | None,
    security: str | None,
    ca_file: Path | None,
    helo_name: str,
) -> SmtpSettings:
    """The SMTP settings for a run; the password is looked up only if a username is set."""
    settings = check_smtp_options(
        config, host=host, port=port, security=security, ca_file=ca_file
    ).settings
    if not settings.smtp_host:
        raise ConfigError(
            "No SMTP server is configured.",
            key="smtp_host",
            hint="Run 'protest init', or set --smtp-host (PROTEST_SMTP_HOST) and "
            "PROTEST_SMTP_USERNAME.",
        )
    chosen_security = settings.smtp_security or Security.STARTTLS
    username = settings.smtp_username or None  # empty: this server takes no login
    password = None
    if username:
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
    )
