"""Each answer ``protest init`` takes, checked: by the settings and campaign models
where they have the rule, so init refuses exactly what the config file would."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from protest_dispatch.settings.providers import PROVIDERS, Provider, by_key
from protest_dispatch.settings.writer import Storage
from protest_dispatch.text import ANY_CONTROL
from protest_dispatch.vocabulary import Security

_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?")
_STORES: dict[str, Storage] = {
    "1": "no",
    "n": "no",
    "no": "no",
    "2": "command",
    "c": "command",
    "command": "command",
    "3": "keyring",
    "k": "keyring",
    "keyring": "keyring",
}


def name(value: str) -> str:
    from protest_dispatch.campaign.fields import MAX_NAME, header_safe

    if not value:
        raise ValueError("letters are signed with your name; please give it")
    if len(value) > MAX_NAME:
        raise ValueError(f"keep it under {MAX_NAME} characters")
    return header_safe(value)


def email(value: str) -> str:
    from protest_dispatch.campaign.fields import email_address

    return email_address(value)


def country(value: str) -> str | None:
    from protest_dispatch.campaign.fields import country_code

    return country_code(value) if value else None


def provider(value: str) -> Provider:
    if value.isdigit() and 1 <= int(value) <= len(PROVIDERS):
        return PROVIDERS[int(value) - 1]
    found = by_key(value)
    if found is None:
        raise ValueError(f"answer with a number from 1 to {len(PROVIDERS)} or a name such as gmail")
    return found


def host(value: str) -> str:
    if not _HOST.fullmatch(value):
        raise ValueError("give a host name like smtp.example.org, or an IP address")
    return value


def security(value: str) -> Security:
    from protest_dispatch.settings.model import checked_value

    return checked_value("smtp_security", value, Security)


def port(value: str) -> int:
    from protest_dispatch.settings.model import checked_value

    return checked_value("smtp_port", value, int)


def limit(value: str) -> int | None:
    from protest_dispatch.settings.model import checked_value

    return checked_value("limit_per_hour", value, int) if value else None


def ca_file(value: str) -> str | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"there is no file {path}")
    return str(path.resolve())


def text(value: str) -> str:
    if not value:
        raise ValueError("please give it")
    return value


_NO_LOGIN = ("none", "-")


def username(value: str) -> str | None:
    if value.lower() in _NO_LOGIN:
        return None
    return login_name(value)


def login_name(value: str) -> str:
    """A username goes into an AUTH command: one line, no control characters."""
    if not value or ANY_CONTROL.search(value):
        raise ValueError("give the username on one line, or 'none'")
    return value


def store(value: str) -> Storage:
    choice = _STORES.get(value.lower())
    if choice is None:
        raise ValueError("answer no, command or keyring (or 1, 2, 3)")
    return choice


def choice(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"answer {' or '.join(allowed)}")
        return value

    return check
