"""Where settings come from (options, ``PROTEST_*``, the TOML file) and what went wrong where.

pydantic-settings merges the three sources in that order; this module gives it
a bounded TOML reader, an environment given as a mapping (tests, child runs),
and turns its validation errors into messages that name the flag, variable or
file key a person has to fix.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import EnvSettingsSource, InitSettingsSource, TomlConfigSettingsSource

from protest_dispatch.errors import ConfigError
from protest_dispatch.settings.model import (
    EMPTY_IS_A_VALUE,
    ENV_PREFIX,
    FILE_KEYS,
    Settings,
    env_name,
    field_of,
    key_of,
    option_name,
    toml_type,
)

MAX_CONFIG_BYTES = 1024 * 1024
"""A config file is a few hundred bytes; a megabyte is a mistake (or /dev/zero)."""


def read_bounded(path: Path, *, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of a file, pipe or device; more is refused, not read."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the {what} {path}: {exc.strerror or exc}.",
            file=path,
            hint="Check the path and its permissions.",
        ) from None
    if len(data) > limit:
        raise ConfigError(
            f"The {what} {path} is larger than {limit // 1024} KiB; it cannot be a {what}.",
            file=path,
            hint="Check the path given with --config or PROTEST_CONFIG.",
        )
    return data


class TomlFile(TomlConfigSettingsSource):
    """The config file: bounded, any kind of file (a pipe too), and only known keys."""

    def __init__(self, settings_cls: type[Settings], *, path: Path) -> None:
        self.path = path
        super().__init__(settings_cls, toml_file=path)

    def _read_files(self, files: Any, deep_merge: bool = False) -> dict[str, Any]:
        # The base class skips what is not a regular file; an explicit path is read as given.
        return self._read_file(self.path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        path = self.path
        raw = read_bounded(path, limit=MAX_CONFIG_BYTES, what="config file")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"Cannot read the config file {path}: it is not UTF-8 text ({exc.reason}).",
                file=path,
                hint="Save it as UTF-8, or check the path given with --config or PROTEST_CONFIG.",
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"The config file {path} is not valid TOML: {exc}",
                file=path,
                hint="Fix the line named above; 'protest init --force' writes a fresh file.",
            ) from None
        for key, value in data.items():
            _check_file_value(path, key, value)
        return data


def _check_file_value(path: Path, key: str, value: Any) -> None:
    if key not in FILE_KEYS:
        raise ConfigError(
            f"Unknown key '{key}' in the config file {path}.",
            file=path,
            key=key,
            hint=f"Known keys: {', '.join(FILE_KEYS)}.",
        )
    expected = toml_type(key)
    accepted = (int, float) if expected is float else expected  # 30 is as good as 30.0
    if not isinstance(value, accepted) or (expected is not bool and isinstance(value, bool)):
        kind = {
            str: "text in quotes",
            int: "a whole number",
            float: "a number",
            bool: "true or false",
        }[expected]
        raise ConfigError(
            f"'{key}' in {path} has the wrong type: it must be {kind}.",
            file=path,
            key=key,
            hint=f"Correct '{key}' in {path}.",
        )


class Environment(EnvSettingsSource):
    """``PROTEST_*`` from a given mapping; an empty variable is unset unless it means "none"."""

    def __init__(self, settings_cls: type[Settings], *, environ: Mapping[str, str]) -> None:
        self.given = {
            name.lower(): value
            for name, value in environ.items()
            if name.startswith(ENV_PREFIX)
            and (value != "" or name[len(ENV_PREFIX) :].lower() in EMPTY_IS_A_VALUE)
        }
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self.given


def build(
    *,
    options: Mapping[str, Any],
    environ: Mapping[str, str],
    file: TomlFile | None,
) -> Settings:
    """Merge options over the environment over the file, or say which one is wrong."""
    given = {field_of(key): value for key, value in options.items() if value is not None}
    sources: list[Any] = [
        InitSettingsSource(Settings, init_kwargs=given),
        Environment(Settings, environ=environ),
    ]
    if file is not None:
        sources.append(file)
    try:
        # The sources are pydantic-settings' own init argument; the typed __init__ hides it.
        return Settings(_build_sources=(tuple(sources), {}))  # type: ignore[call-arg]
    except ValidationError as exc:
        raise _explain(exc, options=given, environ=sources[1], file=file) from None


def _explain(
    exc: ValidationError, *, options: Mapping[str, Any], environ: Environment, file: TomlFile | None
) -> ConfigError:
    """The first problem, located where the winning value came from."""
    error = exc.errors(include_url=False)[0]
    key = key_of(str(error["loc"][0])).removeprefix("protest_")
    if field_of(key) in options:
        where, value, path = option_name(key), options[field_of(key)], None
        hint = "Correct the option."
    elif env_name(key).lower() in environ.given:
        where, value, path = env_name(key), environ.given[env_name(key).lower()], None
        hint = f"Correct or unset {env_name(key)}."
    else:
        path = file.path if file is not None else None
        where, value = f"'{key}' in {path}", (file.toml_data.get(key) if file else None)
        hint = f"Correct '{key}' in {path}."
    problem = _problem(error)
    # a proxy URL may hold the proxy's password
    hidden = "secret" in key or "password" in key or key == "proxy"
    shown = "" if hidden else f", not {str(value)!r}"
    return ConfigError(f"{where} {problem}{shown}.", key=key, file=path, hint=hint)


def _problem(error: Any) -> str:
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
