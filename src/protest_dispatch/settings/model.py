"""Every setting once, typed: the config-file key ``x`` is the variable ``PROTEST_X``.

This module imports pydantic, so only ``settings.config`` imports it, and only when
a command runs (``protest --help`` stays fast). The three sources are merged by
``settings.sources`` (a few lines): pydantic-settings, which did it before, cost
every command its import (about 200 modules: asyncio, ssl, zipfile, dotenv), for
flat string, number and true/false keys that need none of its machinery.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, field_validator
from pydantic_core import ErrorDetails

from protest_dispatch.vocabulary import AuthMode, OAuthProvider, Security

T = TypeVar("T")

ENV_PREFIX = "PROTEST_"
ENV_ONLY = frozenset({"imap_password"})
"""Keys only the environment may set: a secret with no place in a file."""
EMPTY_IS_A_VALUE = frozenset({"smtp_username", "imap_username"})
"""Keys where ``PROTEST_X=`` (empty) is a value: no username means no login.
For every other key an empty variable counts as unset, so the file's value holds."""


def _port(value: int) -> int:
    if not 0 < value < 65536:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def _count(value: int) -> int:
    if value < 0:
        raise ValueError("must be 0 (no limit) or more")
    return value


def _seconds(value: float) -> float:
    if not 0 < value <= 3600:
        raise ValueError("must be a number of seconds above 0 and at most 3600")
    return value


def _endpoint(value: str) -> str:
    """An OAuth endpoint: HTTPS, or plain HTTP only to this machine (tests, local proxies)."""
    value = value.strip()
    parts = urlsplit(value)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ValueError("must be an https:// address")
    return value


def _proxy(value: str) -> str:
    """A SOCKS5 URL, "tor", "tor://HOST:PORT" or "none"; checked here, used via Config.proxy()."""
    from protest_dispatch.net.proxy import parse_proxy

    parse_proxy(value, isolation="check")
    return value.strip()


Port = Annotated[int, AfterValidator(_port)]
Count = Annotated[int, AfterValidator(_count)]
Seconds = Annotated[float, AfterValidator(_seconds)]
Endpoint = Annotated[str, AfterValidator(_endpoint)]
ProxyUrl = Annotated[str, AfterValidator(_proxy)]


class Settings(BaseModel):
    """One invocation's settings: options over ``PROTEST_*`` over the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    from_: str | None = None  # "from" is a Python keyword: the key is the field's name less _
    country: str | None = None
    postal_address: str | None = None
    """The sender's address for letters on paper; lines split at newlines (or a typed \\n)."""
    lang: str | None = None
    log: Path | None = None
    copy_me: bool | None = None
    provider: str | None = None
    limit_per_hour: Count | None = None
    limit_per_day: Count | None = None

    smtp_host: str | None = None
    smtp_port: Port | None = None
    smtp_security: Security | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_command: str | None = None
    smtp_password_keyring: bool | None = None
    smtp_ca_file: Path | None = None
    smtp_timeout: Seconds | None = None
    """Seconds to wait for the connection and each ordinary reply (default 30)."""
    smtp_data_timeout: Seconds | None = None
    """Seconds to wait for the verdict on a letter's data (default 600, RFC 5321 4.5.3.2.6)."""
    retry_delay: Seconds | None = None
    """Seconds before the first retry of a letter within a run (default 1; doubles after)."""

    smtp_auth: AuthMode = AuthMode.PASSWORD
    smtp_oauth_token_command: str | None = None
    oauth_provider: OAuthProvider | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_authorization_url: Endpoint | None = None
    oauth_token_url: Endpoint | None = None
    oauth_device_authorization_url: Endpoint | None = None
    oauth_scope: str | None = None

    dns_server: str | None = None
    """The resolver for ``validate --check-domains``, HOST[:PORT] (default: the system's)."""
    dns_timeout: Seconds | None = None
    """Seconds to wait for each domain's answers in ``--check-domains`` (default 5)."""

    key_password_command: str | None = None
    """A command that prints the passphrase of the organiser's signing key (keygen, sign)."""

    imap_host: str | None = None
    imap_port: Port | None = None
    imap_security: Security = Security.TLS
    imap_username: str | None = None
    imap_ca_file: Path | None = None
    imap_password_command: str | None = None
    imap_password: SecretStr | None = None

    proxy: ProxyUrl | None = None
    """SOCKS5 proxy or Tor for every connection to another machine (``net.proxy``)."""

    @field_validator("smtp_security", "imap_security", "smtp_auth", "oauth_provider", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def key_of(field: str) -> str:
    return field.rstrip("_")


def field_of(key: str) -> str:
    return f"{key}_" if key == "from" else key


KEYS: tuple[str, ...] = tuple(key_of(name) for name in Settings.model_fields)
"""Every key, in the order the README lists them."""
FILE_KEYS: tuple[str, ...] = tuple(key for key in KEYS if key not in ENV_ONLY)


def env_name(key: str) -> str:
    return f"{ENV_PREFIX}{key.upper()}"


def option_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def toml_type(key: str) -> type:
    """The TOML value a key takes: a string, a whole number or true/false."""
    return _plain(Settings.model_fields[field_of(key)].annotation)


def _plain(annotation: Any) -> type:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return _plain(next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is Annotated:
        return _plain(typing.get_args(annotation)[0])
    if annotation in (bool, int, float):
        return typing.cast(type, annotation)
    return str


def describe_error(error: ErrorDetails) -> str:
    """What is wrong with a value, in words (pydantic's error, without its jargon)."""
    kind = str(error["type"])
    if kind.startswith("bool"):
        return "must be true or false"
    if kind.startswith("int"):
        return "must be a whole number"
    if kind == "enum":
        expected = str(error["ctx"]["expected"]).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return f"is not valid ({error['msg']})"


def checked_value(key: str, value: str, kind: type[T]) -> T:
    """``value`` as the setting ``key`` takes it, checked by the model and nowhere else.

    ``protest init`` checks each answer here, so an answer the model would refuse in the
    config file is refused when it is typed. ValueError says what is wrong.
    """
    from pydantic import ValidationError

    try:
        checked = getattr(Settings.model_validate({field_of(key): value}), field_of(key))
    except ValidationError as exc:
        raise ValueError(describe_error(exc.errors(include_url=False)[0])) from None
    if not isinstance(checked, kind):
        raise ValueError(f"must be given for {key}")
    return checked
