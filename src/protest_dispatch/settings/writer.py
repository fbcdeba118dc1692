"""Write the config file ``protest init`` collects: private, atomic, and exactly the known keys.

The file can name a password command or say the password is in the keyring; it
never receives the password itself from here. It is still created 0600 in a
0700 folder, because it says whom the user writes to as whom.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from protest_dispatch.errors import ConfigError
from protest_dispatch.files import make_private_folder, write_private
from protest_dispatch.settings.providers import Provider
from protest_dispatch.settings.secrets import KEYRING_SERVICE
from protest_dispatch.settings.sender import format_from
from protest_dispatch.vocabulary import AuthMode, OAuthProvider, Security

Storage = Literal["no", "command", "keyring", "oauth"]
"""Where the password is; ``oauth`` means none: XOAUTH2 signs in (see ``OAuthAnswers``)."""
Value = str | int | bool

__all__ = ["Answers", "config_values", "dump_toml", "header", "write_config"]


@dataclass(frozen=True)
class Answers:
    """Everything ``protest init`` asked, already checked one answer at a time."""

    name: str
    email: str
    country: str | None
    provider: Provider
    host: str
    port: int
    security: Security
    username: str | None  # None: the server takes no login
    storage: Storage = "no"
    password_command: str | None = None
    ca_file: str | None = None
    limit_per_hour: int | None = None
    limit_per_day: int | None = None
    copy_me: bool = True
    imap_host: str | None = None
    """Set when the sender chose to let ``protest inbox`` read the mailbox."""
    imap_port: int | None = None
    imap_security: Security | None = None
    imap_ca_file: str | None = None
    imap_username: str | None = None
    """Only for a server that takes mail without a login: the mailbox's own."""
    imap_password_command: str | None = None
    oauth: OAuthAnswers | None = None
    postal_address: str | None = None
    """For letters on paper: lines joined by newlines."""
    proxy: str | None = None
    """``tor`` when the sender needs to hide their IP address from the provider."""


@dataclass(frozen=True)
class OAuthAnswers:
    """XOAUTH2 instead of a password: a token command, or ``protest login`` with a client."""

    provider: OAuthProvider
    token_command: str | None = None
    client_id: str | None = None
    client_secret: str | None = None  # Google's "Desktop app" secret, not a real secret


def config_values(answers: Answers) -> dict[str, Value]:
    values: dict[str, Value] = {
        "from": format_from(name=answers.name, email=answers.email),
    }
    if answers.country:
        values["country"] = answers.country
    if answers.postal_address:
        values["postal_address"] = answers.postal_address
    values.update(
        {
            "provider": answers.provider.key,
            "smtp_host": answers.host,
            "smtp_port": answers.port,
            "smtp_security": answers.security.value,
        }
    )
    if answers.username:
        values["smtp_username"] = answers.username
    values["copy_me"] = answers.copy_me
    if answers.ca_file:
        values["smtp_ca_file"] = answers.ca_file
    if answers.storage == "command" and answers.password_command:
        values["smtp_password_command"] = answers.password_command
    if answers.storage == "keyring":
        values["smtp_password_keyring"] = True
    if answers.imap_host:
        values["imap_host"] = answers.imap_host
        if answers.imap_port:
            values["imap_port"] = answers.imap_port
        if answers.imap_security:
            values["imap_security"] = answers.imap_security.value
        if answers.imap_ca_file:
            values["imap_ca_file"] = answers.imap_ca_file
        if answers.imap_username:
            values["imap_username"] = answers.imap_username
        if answers.imap_password_command:
            values["imap_password_command"] = answers.imap_password_command
    if answers.oauth is not None:
        values.update(_oauth_values(answers.oauth))
        if answers.imap_host and "oauth_provider" in values:
            values.update(_mailbox_scope(answers.oauth))
    if answers.proxy:
        values["proxy"] = answers.proxy
    if answers.limit_per_hour:
        values["limit_per_hour"] = answers.limit_per_hour
    if answers.limit_per_day:
        values["limit_per_day"] = answers.limit_per_day
    from protest_dispatch.settings.model import FILE_KEYS

    unknown = set(values) - set(FILE_KEYS)
    assert not unknown, f"init writes only known config keys, not {unknown}"
    return values


def _oauth_values(oauth: OAuthAnswers) -> dict[str, Value]:
    values: dict[str, Value] = {"smtp_auth": AuthMode.XOAUTH2.value}
    if oauth.token_command:
        values["smtp_oauth_token_command"] = oauth.token_command
        return values
    values["oauth_provider"] = oauth.provider.value
    if oauth.client_id:
        values["oauth_client_id"] = oauth.client_id
    if oauth.client_secret:
        values["oauth_client_secret"] = oauth.client_secret
    return values


def _mailbox_scope(oauth: OAuthAnswers) -> dict[str, Value]:
    """Microsoft grants IMAP only when asked: 'protest inbox' signs in with the same token."""
    from protest_dispatch.settings.oauth import MICROSOFT_IMAP_SCOPE, MICROSOFT_SMTP_SCOPE

    if oauth.provider is not OAuthProvider.MICROSOFT:
        return {}  # Google's https://mail.google.com/ covers IMAP as well
    return {"oauth_scope": f"{MICROSOFT_SMTP_SCOPE} {MICROSOFT_IMAP_SCOPE}"}


def dump_toml(values: Mapping[str, Value], *, comment: str = "") -> str:
    """A comment, then flat keys written by tomli-w, checked by reading the text back."""
    import tomli_w

    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    text = "\n".join(lines) + "\n" + tomli_w.dumps(dict(values))
    if tomllib.loads(text) != dict(values):
        raise ConfigError(
            "The config could not be written as TOML exactly as given.",
            hint="This is a bug in protest; please report it.",
        )
    return text


def header(answers: Answers) -> str:
    if not answers.username:
        login = (
            "No login: this server takes mail without a username and password. To log in\n"
            'later, add smtp_username = "you@example.org" and smtp_password_command.'
        )
    else:
        login = {
            "no": "The password is not stored: set PROTEST_SMTP_PASSWORD or "
            "PROTEST_SMTP_PASSWORD_COMMAND when you send.",
            "command": "The password comes from smtp_password_command each time it is needed.",
            "keyring": f"The password is in the system keyring (service '{KEYRING_SERVICE}', "
            f"entry '{answers.username}@{answers.host}').",
            "oauth": "No password: protest signs in with OAuth2 (XOAUTH2), from "
            "smtp_oauth_token_command or the sign-in 'protest login' stores.",
        }[answers.storage] + (
            '\nIf the server takes mail without a login, remove smtp_username (or set it to "").'
        )
    return (
        f"protest settings, written by 'protest init' on {datetime.now(UTC):%Y-%m-%d}.\n"
        "Every key can be overridden by the environment variable PROTEST_<KEY>.\n"
        f"{login}"
    )


def write_config(*, path: Path, text: str, replace: bool) -> Path:
    """Create the file 0600 (its folder 0700) in one step: a crash leaves the old one intact."""
    if path.exists() and not replace:
        raise ConfigError(
            f"A config file already exists at {path}.",
            file=path,
            hint="Run 'protest init --force' to replace it.",
        )
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a config file.", file=path)
    _private_folder(path.parent)
    try:
        write_private(path, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"Cannot write the config file {path}: {exc.strerror or exc}.",
            file=path,
            hint="Choose another place with --config.",
        ) from None
    return path


def _private_folder(folder: Path) -> None:
    try:
        make_private_folder(folder)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the folder {folder}: {exc.strerror or exc}.",
            hint="Choose another place with --config.",
        ) from None


def store_in_keyring(*, username: str, host: str, password: str) -> None:
    """Keep the password where ``config.password`` will look for it."""
    import keyring

    try:
        keyring.set_password(KEYRING_SERVICE, f"{username}@{host}", password)
    except Exception as exc:  # any backend failure (OSError, D-Bus): no working keyring
        raise ConfigError(
            f"The system keyring could not store the password ({type(exc).__name__}: {exc})",
            key="smtp_password_keyring",
            hint="Choose a password command instead, or set PROTEST_SMTP_PASSWORD when you send.",
        ) from None
