"""Settings from options, environment and the config file, in that order.

Every ``PROTEST_X`` environment variable has a config-file key ``x`` (lower
case), so a setting is spelt the same way everywhere. ``Config`` is the small,
stable face of the typed ``Settings`` (``settings.model``) that the other layers
use. The SMTP password is never an option (argv is world-readable): it comes
from ``PROTEST_SMTP_PASSWORD``, a password command, the system keyring, or a
config file only its owner can read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr, ValidationError

from protest_dispatch.errors import ConfigError
from protest_dispatch.files import data_folder
from protest_dispatch.settings.secrets import from_keyring, run_password_command
from protest_dispatch.settings.sender import parse_from

if TYPE_CHECKING:
    from protest_dispatch.campaign.model import Sender
    from protest_dispatch.net.proxy import Proxy
    from protest_dispatch.settings.model import Settings
    from protest_dispatch.settings.sources import TomlFile

__all__ = [
    "Config",
    "config_path",
    "default_config_path",
    "default_log_path",
]


def default_config_path() -> Path:
    import platformdirs

    return platformdirs.user_config_path("protest") / "config.toml"


def default_log_path() -> Path:
    return data_folder() / "sendlog.sqlite3"


def config_path(option: Path | None, *, env: Mapping[str, str] | None = None) -> Path:
    """--config, else PROTEST_CONFIG (if not empty), else the default place."""
    environ = os.environ if env is None else env
    if option is not None:
        return option
    return (
        Path(environ["PROTEST_CONFIG"]) if environ.get("PROTEST_CONFIG") else default_config_path()
    )


@dataclass(frozen=True)
class Config:
    """The merged view of one invocation's settings, checked when it is built."""

    path: Path
    settings: Settings
    file: TomlFile | None = field(default=None, repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    options: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        *,
        path: Path | None = None,
        env: Mapping[str, str] | None = None,
        options: Mapping[str, object] | None = None,
    ) -> Config:
        """Read and check everything once; a missing default file is no error."""
        from protest_dispatch.settings.sources import TomlFile, build

        environ = dict(os.environ if env is None else env)
        chosen = config_path(path, env=environ)
        file = None
        if path is not None or environ.get("PROTEST_CONFIG") or chosen.exists():
            if not chosen.exists():
                raise ConfigError(
                    f"There is no config file at {chosen}.",
                    file=chosen,
                    hint="Check the path, or run 'protest init' to write one.",
                )
            file = TomlFile(path=chosen)
        given = dict(options or {})
        settings = build(options=given, environ=environ, file=file)
        return cls(path=chosen, settings=settings, file=file, env=environ, options=given)

    @property
    def file_values(self) -> Mapping[str, object]:
        return self.file.toml_data if self.file is not None else {}

    def with_options(self, **options: object) -> Config:
        """The same settings with these options on top, checked like the rest.

        Options are named like the settings' fields (``from_``); None is "not given".
        """
        from protest_dispatch.settings.model import key_of
        from protest_dispatch.settings.sources import build

        new = {key_of(k): v for k, v in options.items() if v is not None}
        if not new:
            return self
        given = {**self.options, **new}
        settings = build(options=given, environ=self.env, file=self.file)
        return Config(
            path=self.path, settings=settings, file=self.file, env=self.env, options=given
        )

    def source(self, key: str) -> str:
        from protest_dispatch.settings.model import env_name, option_name

        if self.options.get(key) is not None:
            return option_name(key)
        if self.env.get(env_name(key)) or key in self.env_empty():
            return f"the environment variable {env_name(key)}"
        return f"'{key}' in {self.path}"

    def env_empty(self) -> frozenset[str]:
        """Keys set to an empty value in the environment, where that means "none"."""
        from protest_dispatch.settings.model import EMPTY_IS_A_VALUE, env_name

        return frozenset(k for k in EMPTY_IS_A_VALUE if self.env.get(env_name(k)) == "")

    def sender(
        self,
        *,
        from_option: str | None = None,
        country_option: str | None = None,
        note: str | None = None,
        postal_address_option: str | None = None,
    ) -> Sender | None:
        """The configured sender, or None when nobody has said who they are."""
        from protest_dispatch.campaign.model import Sender

        chosen = self.with_options(
            from_=from_option, country=country_option, postal_address=postal_address_option
        ).settings
        if chosen.from_ is None:
            return None
        source = "--from" if from_option else self.source("from")
        name, address = parse_from(chosen.from_, source=source)
        country = chosen.country
        postal = chosen.postal_address
        if postal is not None:
            # A shell or a crontab line cannot easily hold a line break: a typed \n is one.
            postal = postal.replace("\\n", "\n")
        try:
            return Sender(
                name=name, email=address, country=country, note=note, postal_address=postal
            )
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            details = "; ".join(
                f"{'.'.join(map(str, e['loc'])).replace('_', ' ')} "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in errors
            )
            if any(e["loc"][:1] == ("postal_address",) for e in errors):
                where = (
                    "--postal-address"
                    if postal_address_option is not None
                    else self.source("postal_address")
                )
                raise ConfigError(
                    f"Your postal address from {where} is not valid: {details}.",
                    key="postal_address",
                    hint="Write it as an envelope shows it, one line per line (a typed \\n "
                    "also breaks a line): at most 8 lines of 60 characters.",
                ) from None
            raise ConfigError(
                f"The sender is not valid: {details}.",
                key="from",
                hint='Set it like --from "Your Name <you@example.org>" and --country GB.',
            ) from None

    def proxy(self) -> Proxy | None:
        """The proxy every connection to another machine goes through; None for none.

        With ``tor`` the SOCKS user name is this run's, so a run's connections share
        one Tor circuit. A password in ``--proxy`` is refused: other users can read
        a process's arguments.
        """
        from protest_dispatch.net.proxy import parse_proxy

        value = self.settings.proxy
        proxy = None if value is None else parse_proxy(value)
        if proxy is not None and proxy.password and not proxy.tor and self.options.get("proxy"):
            raise ConfigError(
                "--proxy holds the proxy's password, which other users of this machine can "
                "read in the list of processes; nothing was sent.",
                key="proxy",
                hint='Put it in the config file (proxy = "socks5://USER:PASSWORD@HOST:PORT") '
                "or in PROTEST_PROXY.",
            )
        return proxy

    def password(self, *, username: str, host: str) -> SecretStr | None:
        """Look the password up only when it is needed, from the safest place given."""
        env_password = self.env.get("PROTEST_SMTP_PASSWORD")
        if env_password:
            return SecretStr(env_password)
        command = self.settings.smtp_password_command
        if command:
            return SecretStr(run_password_command(command))
        if self.settings.smtp_password_keyring:
            return from_keyring(username=username, host=host)
        in_file = self.file_values.get("smtp_password")
        if isinstance(in_file, str) and in_file:  # the file's own value, never PROTEST_*'s
            _check_private(self.path)
            return SecretStr(in_file)
        return None


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} holds a password but other users may read it.",
            file=path,
            key="smtp_password",
            hint=f"Run: chmod 600 {path}",
        )
