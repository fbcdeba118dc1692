"""Where settings come from (options, ``PROTEST_*``, the TOML file) and what went wrong where.

This module merges the three sources in that order, with a bounded TOML reader
and an environment given as a mapping (tests, child runs), and turns pydantic's
validation errors into messages that name the flag, variable or file key a person
has to fix.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from protest_dispatch.errors import ConfigError
from protest_dispatch.settings.model import (
    EMPTY_IS_A_VALUE,
    ENV_PREFIX,
    FILE_KEYS,
    KEYS,
    Settings,
    describe_error,
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


class TomlFile:
    """The config file: bounded, any kind of file (a pipe too), and only known keys."""

    def __init__(self, *, path: Path) -> None:
        self.path = path
        self.toml_data: dict[str, object] = _read_file(path)


def _read_file(path: Path) -> dict[str, object]:
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


def _check_file_value(path: Path, key: str, value: object) -> None:
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


class Environment:
    """``PROTEST_*`` from a given mapping; an empty variable is unset unless it means "none"."""

    def __init__(self, *, environ: Mapping[str, str]) -> None:
        self.given = {
            name.lower(): value
            for name, value in environ.items()
            if name.startswith(ENV_PREFIX)
            and (value != "" or name[len(ENV_PREFIX) :].lower() in EMPTY_IS_A_VALUE)
        }

    def values(self) -> dict[str, str]:
        """The variables of known keys, by field name; others (PROTEST_CONFIG) are not ours."""
        return {
            field_of(key): self.given[env_name(key).lower()]
            for key in KEYS
            if env_name(key).lower() in self.given
        }


def build(
    *,
    options: Mapping[str, object],
    environ: Mapping[str, str],
    file: TomlFile | None,
) -> Settings:
    """Merge options over the environment over the file, or say which one is wrong."""
    given = {field_of(key): value for key, value in options.items() if value is not None}
    env = Environment(environ=environ)
    in_file = {} if file is None else {field_of(k): v for k, v in file.toml_data.items()}
    try:
        return Settings.model_validate({**in_file, **env.values(), **given})
    except ValidationError as exc:
        raise _explain(exc, options=given, environ=env, file=file) from None


def _explain(
    exc: ValidationError,
    *,
    options: Mapping[str, object],
    environ: Environment,
    file: TomlFile | None,
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
    problem = describe_error(error)
    # a proxy URL may hold the proxy's password
    hidden = "secret" in key or "password" in key or key == "proxy"
    shown = "" if hidden else f", not {str(value)!r}"
    return ConfigError(f"{where} {problem}{shown}.", key=key, file=path, hint=hint)
