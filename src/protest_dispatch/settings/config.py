"""Settings from options, environment and the config file, in that order.

Every ``PROTEST_X`` environment variable has a config-file key ``x`` (lower
case), so a setting is spelt the same way everywhere. The SMTP password is never
an option (argv is world-readable): it comes from ``PROTEST_SMTP_PASSWORD``,
a password command, the system keyring, or a config file only its owner can read.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from protest_dispatch.campaign.model import Sender
from protest_dispatch.errors import ConfigError
from protest_dispatch.vocabulary import AuthMode, Security

if TYPE_CHECKING:
    from protest_dispatch.settings.smtp import SmtpSettings

KEYS: dict[str, type | tuple[type, ...]] = {
    "from": str,
    "country": str,
    "lang": str,
    "log": str,
    "copy_me": bool,
    "provider": str,
    "limit_per_hour": int,
    "limit_per_day": int,
    "smtp_host": str,
    "smtp_port": int,
    "smtp_security": str,
    "smtp_username": str,
    "smtp_password": str,
    "smtp_password_command": str,
    "smtp_password_keyring": bool,
    "smtp_ca_file": str,
    "smtp_auth": str,
    "smtp_oauth_token_command": str,
    "oauth_provider": str,
    "oauth_client_id": str,
    "oauth_client_secret": str,
    "oauth_authorization_url": str,
    "oauth_token_url": str,
    "oauth_device_authorization_url": str,
    "oauth_scope": str,
}
PASSWORD_COMMAND_SECONDS = 60
KEYRING_SERVICE = "protest"


def default_config_path() -> Path:
    import platformdirs

    return platformdirs.user_config_path("protest") / "config.toml"


def default_log_path() -> Path:
    import platformdirs

    return platformdirs.user_data_path("protest") / "sendlog.sqlite3"


@dataclass(frozen=True)
class Config:
    """The merged view of one invocation's settings."""

    path: Path
    file_values: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, *, path: Path | None = None, env: dict[str, str] | None = None) -> Config:
        environ = dict(os.environ if env is None else env)
        explicit = path or (
            Path(environ["PROTEST_CONFIG"]) if environ.get("PROTEST_CONFIG") else None
        )
        chosen = explicit or default_config_path()
        if not chosen.exists():
            if explicit is not None:
                raise ConfigError(
                    f"There is no config file at {chosen}.",
                    file=chosen,
                    hint="Check the path, or run 'protest init' to write one.",
                )
            return cls(path=chosen, env=environ)
        return cls(path=chosen, file_values=_read(chosen), env=environ)

    def get(self, key: str, option: Any = None) -> Any:
        """The option if given, else PROTEST_<KEY>, else the file's key, else None."""
        if option is not None:
            return option
        raw = self.env.get(f"PROTEST_{key.upper()}")
        if raw not in (None, ""):
            return _coerce(key, raw, source=f"PROTEST_{key.upper()}")
        return self.file_values.get(key)

    def source(self, key: str) -> str:
        if self.env.get(f"PROTEST_{key.upper()}"):
            return f"the environment variable PROTEST_{key.upper()}"
        return f"'{key}' in {self.path}"

    def sender(
        self,
        *,
        from_option: str | None = None,
        country_option: str | None = None,
        note: str | None = None,
    ) -> Sender | None:
        """The configured sender, or None when nobody has said who they are."""
        value = self.get("from", from_option)
        if value is None:
            return None
        name, address = parse_from(value, source="--from" if from_option else self.source("from"))
        country = self.get("country", country_option)
        try:
            return Sender(name=name, email=address, country=country, note=note)
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(map(str, e['loc']))} {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors(include_url=False)
            )
            raise ConfigError(
                f"The sender is not valid: {details}.",
                key="from",
                hint='Set it like --from "Your Name <you@example.org>" and --country GB.',
            ) from None

    def password(self, *, username: str, host: str) -> SecretStr | None:
        """Look the password up only when it is needed, from the safest place given."""
        env_password = self.env.get("PROTEST_SMTP_PASSWORD")
        if env_password:
            return SecretStr(env_password)
        command = self.get("smtp_password_command")
        if command:
            return SecretStr(run_password_command(command))
        if self.get("smtp_password_keyring"):
            return _from_keyring(username=username, host=host)
        in_file = self.file_values.get("smtp_password")
        if in_file:
            _check_private(self.path)
            return SecretStr(in_file)
        return None


_FROM = re.compile(r'\s*(?:"(?P<quoted>[^"]*)"|(?P<name>[^"<>]*?))\s*<(?P<address>[^<>]*)>\s*')


def parse_from(value: str, *, source: str) -> tuple[str, str]:
    """Split "Name <address>"; names in any script, quoted or not (Ана Бекова is fine)."""
    from protest_dispatch.campaign.model import email_address

    if "\r" in value or "\n" in value:
        raise ConfigError(f"The sender from {source} contains a line break.", key="from")
    match = _FROM.fullmatch(value)
    if match is None:
        raise ConfigError(
            f"The sender from {source} is not of the form 'Name <address>': {value!r}.",
            key="from",
            hint='Write it like "Your Name <you@example.org>".',
        )
    try:
        address = email_address(match["address"])
    except ValueError as exc:
        raise ConfigError(
            f"The sender's address from {source} {exc}.",
            key="from",
            hint='Write it like "Your Name <you@example.org>".',
        ) from None
    name = (match["quoted"] if match["quoted"] is not None else match["name"]).strip()
    if not name:
        raise ConfigError(
            f"The sender from {source} has no name; letters are signed with it.",
            key="from",
            hint=f'Write it like "Your Name <{address}>".',
        )
    return name, address


def run_password_command(command: str) -> str:
    """Like msmtp's passwordeval: the command's first output line is the password."""
    return run_secret_command(command, key="smtp_password_command", what="password")


def run_secret_command(
    command: str, *, key: str, what: str, timeout: float = PASSWORD_COMMAND_SECONDS
) -> str:
    """The first output line of the user's own command; its output is never shown."""
    try:
        done = subprocess.run(  # noqa: S602 - the user's own command, like msmtp passwordeval
            command,
            shell=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"The {what} command ({key}) did not finish within {timeout:g} s.",
            key=key,
            hint="Run it yourself to see where it waits; it must not ask for input.",
        ) from None
    if done.returncode != 0:
        raise ConfigError(
            f"The {what} command ({key}) exited with status {done.returncode}.",
            key=key,
            hint=f"Run it yourself to see why; its output is not shown here because it may "
            f"hold the {what}.",
        )
    secret = done.stdout.splitlines()[0] if done.stdout else ""
    if not secret:
        raise ConfigError(
            f"The {what} command ({key}) printed nothing.",
            key=key,
            hint=f"Its first output line must be the {what}.",
        )
    return secret


def _from_keyring(*, username: str, host: str) -> SecretStr:
    import keyring
    from keyring.errors import KeyringError

    try:
        value = keyring.get_password(KEYRING_SERVICE, f"{username}@{host}")
    except KeyringError as exc:
        raise ConfigError(
            f"The system keyring could not be read: {exc}", key="smtp_password_keyring"
        ) from None
    if value is None:
        raise ConfigError(
            f"The keyring has no password for {username}@{host}.",
            key="smtp_password_keyring",
            hint="Run 'protest init' again and choose to store the password in the keyring.",
        )
    return SecretStr(value)


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} holds a password but other users may read it.",
            file=path,
            key="smtp_password",
            hint=f"Run: chmod 600 {path}",
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc}", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}", file=path) from None
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigError(
                f"Unknown key '{key}' in the config file {path}.",
                file=path,
                key=key,
                hint=f"Known keys: {', '.join(KEYS)}.",
            )
        expected = KEYS[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"'{key}' in {path} has the wrong type.", file=path, key=key)
    return data


def _coerce(key: str, raw: str, *, source: str) -> Any:
    expected = KEYS.get(key, str)
    if expected is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{source} must be true or false, not {raw!r}.", key=key)
    if expected is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{source} must be a whole number, not {raw!r}.", key=key) from None
    return raw


def smtp_settings(
    config: Config,
    *,
    host: str | None,
    port: int | None,
    security: str | None,
    ca_file: Path | None,
    helo_name: str,
    auth: str | None = None,
) -> SmtpSettings:
    """The SMTP settings for a run; the password is looked up only if a username is set.

    With ``smtp_auth = "xoauth2"`` no password is looked up; the caller attaches the
    token provider (``oauth.source``), which knows commands, keyrings and refreshes.
    """
    from protest_dispatch.settings.smtp import SmtpSettings

    chosen_host = config.get("smtp_host", host)
    if not chosen_host:
        raise ConfigError(
            "No SMTP server is configured.",
            key="smtp_host",
            hint="Run 'protest init', or set --smtp-host (PROTEST_SMTP_HOST) and "
            "PROTEST_SMTP_USERNAME.",
        )
    chosen = str(config.get("smtp_security", security) or "starttls").lower()
    if chosen not in tuple(Security):
        raise ConfigError(
            f"The SMTP security {chosen!r} is not one of {', '.join(Security)}.",
            key="smtp_security",
        )
    chosen_security = Security(chosen)
    chosen_port = config.get("smtp_port", port) or chosen_security.smtp_port
    if not 0 < int(chosen_port) < 65536:
        raise ConfigError(f"The SMTP port {chosen_port} is not a port number.", key="smtp_port")
    ca = config.get("smtp_ca_file", ca_file)
    if ca is not None and not Path(ca).expanduser().is_file():
        raise ConfigError(f"The CA file {ca} does not exist.", key="smtp_ca_file")
    username = config.get("smtp_username")
    mode = auth_mode(config, auth)
    password = None
    if mode is AuthMode.XOAUTH2 and not username:
        raise ConfigError(
            "smtp_auth is xoauth2 but no smtp_username is set; XOAUTH2 signs in as a mailbox.",
            key="smtp_username",
            hint="Set smtp_username (PROTEST_SMTP_USERNAME) to your full email address.",
        )
    if username and mode is AuthMode.PASSWORD:
        password = config.password(username=username, host=chosen_host)
        if password is None:
            raise ConfigError(
                f"A username ({username}) is set but no password.",
                key="smtp_password",
                hint="Set PROTEST_SMTP_PASSWORD or PROTEST_SMTP_PASSWORD_COMMAND, or run "
                "'protest init' to store it.",
            )
    return SmtpSettings(
        host=chosen_host,
        port=int(chosen_port),
        security=chosen_security,
        helo_name=helo_name,
        username=username or None,
        password=password,
        ca_file=Path(ca).expanduser() if ca else None,
        auth=mode,
    )


def auth_mode(config: Config, option: str | None = None) -> AuthMode:
    """``smtp_auth`` from --smtp-auth, PROTEST_SMTP_AUTH or the file; password by default."""
    chosen = str(config.get("smtp_auth", option) or AuthMode.PASSWORD).strip().lower()
    if chosen not in tuple(AuthMode):
        raise ConfigError(
            f"The SMTP auth mode {chosen!r} (smtp_auth, --smtp-auth) is not one "
            f"of {', '.join(AuthMode)}.",
            key="smtp_auth",
            hint='Use "password" (the default) or "xoauth2" for OAuth2 sign-in.',
        )
    return AuthMode(chosen)
