"""The questions ``protest init`` asks, one checked answer at a time.

This is the interactive edge: it prompts (on stderr, so stdout stays clean) and
re-asks on a bad answer; writing the file is ``init``'s job. The password is
read with echo off and goes straight to the keyring; it is never printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from protest_dispatch.cli import output
from protest_dispatch.errors import ConfigError
from protest_dispatch.settings.providers import PROTON_CA_HELP, PROVIDERS, Provider, by_key, guess
from protest_dispatch.settings.secrets import keyring_works
from protest_dispatch.settings.sender import format_from
from protest_dispatch.settings.writer import (
    Answers,
    OAuthAnswers,
    Storage,
    store_in_keyring,
)
from protest_dispatch.vocabulary import OAuthProvider, Security

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


def _ask(
    text: str,
    check: Callable[[str], Any],
    *,
    default: str | None = None,
    hide: bool = False,
    confirm: bool = False,
) -> Any:
    def proc(value: str) -> Any:
        try:
            return check(value.strip())
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return typer.prompt(
        text,
        default=default,
        value_proc=proc,
        err=True,
        hide_input=hide,
        confirmation_prompt=confirm,
        show_default=bool(default),
    )


def _name(value: str) -> str:
    from protest_dispatch.campaign.model import MAX_NAME, header_safe

    if not value:
        raise ValueError("letters are signed with your name; please give it")
    if len(value) > MAX_NAME:
        raise ValueError(f"keep it under {MAX_NAME} characters")
    return header_safe(value)


def _email(value: str) -> str:
    from protest_dispatch.campaign.model import email_address

    return email_address(value)


def _country(value: str) -> str | None:
    from protest_dispatch.campaign.model import country_code

    return country_code(value) if value else None


def _provider(value: str) -> Provider:
    if value.isdigit() and 1 <= int(value) <= len(PROVIDERS):
        return PROVIDERS[int(value) - 1]
    found = by_key(value)
    if found is None:
        raise ValueError(f"answer with a number from 1 to {len(PROVIDERS)} or a name such as gmail")
    return found


def _host(value: str) -> str:
    if not _HOST.fullmatch(value):
        raise ValueError("give a host name like smtp.example.org, or an IP address")
    return value


def _security(value: str) -> str:
    if value.lower() not in tuple(Security):
        raise ValueError("answer starttls, tls or none")
    return value.lower()


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError("give a port number such as 587")
    return int(value)


def _limit(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError("give a whole number, or press Enter for no limit")
    return int(value)


def _ca_file(value: str) -> str | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"there is no file {path}")
    return str(path.resolve())


def _text(value: str) -> str:
    if not value:
        raise ValueError("please give it")
    return value


_NO_LOGIN = ("none", "-")


def _username(value: str) -> str | None:
    if value.lower() in _NO_LOGIN:
        return None
    return _one_line(value)


def _one_line(value: str) -> str:
    """A username goes into an AUTH command: one line, no control characters."""
    if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("give the username on one line, or 'none'")
    return value


def _store(value: str) -> Storage:
    choice = _STORES.get(value.lower())
    if choice is None:
        raise ValueError("answer no, command or keyring (or 1, 2, 3)")
    return choice


def ask(*, config_path: Path) -> Answers:
    """Ask everything, in the order a newcomer can answer it."""
    output.say(
        f"protest init: a few questions, then the settings are written to "
        f"{config_path}. Nothing is written before the end (Ctrl-C stops)."
    )
    name, email = _identity()
    country = _ask(
        "Your country as a two-letter code such as GB or DE (Enter to skip)", _country, default=""
    )
    provider = _choose_provider(email)
    host, port, security, per_hour, per_day = _server(provider)
    ca_file = _trusted_ca(provider, security=security)
    username, store, command, oauth = _login(
        email=email, host=host, provider=provider, config_path=config_path
    )
    copy_me = typer.confirm(
        "Send yourself a copy of every letter (Bcc), as a receipt?", default=True, err=True
    )
    imap = _mailbox(provider, smtp_host=host, ca_file=ca_file)
    proxy = _tor(port=port)
    return Answers(
        name=name,
        email=email,
        country=country,
        provider=provider,
        host=host,
        port=port,
        security=security,
        username=username,
        storage=store,
        password_command=command,
        ca_file=ca_file,
        limit_per_hour=per_hour,
        limit_per_day=per_day,
        copy_me=copy_me,
        oauth=oauth,
        proxy=proxy,
        **imap,
    )


def _identity() -> tuple[str, str]:
    """Name and address, asked again until they make a valid From."""
    from protest_dispatch.settings.sender import parse_from

    while True:
        name = _ask("Your name, as your letters are signed", _name)
        email = _ask("Your email address", _email)
        try:
            parse_from(format_from(name=name, email=email), source="your answers")
        except ConfigError as exc:
            output.warn(exc.message)
            continue
        return name, email


def _choose_provider(email: str) -> Provider:
    output.say("Mail providers:")
    for number, item in enumerate(PROVIDERS, start=1):
        output.say(f"  {number}. {item.name}")
    guessed = guess(email)
    chosen: Provider = _ask(
        "Your mail provider (number or name)",
        _provider,
        default=str(PROVIDERS.index(guessed) + 1) if guessed else None,
    )
    return chosen


def _server(provider: Provider) -> tuple[str, int, str, int | None, int | None]:
    """Host, port, security and limits: the preset's, or asked for "other"."""
    if provider.host is None:
        host = _ask("SMTP server (host name)", _host)
        security = _ask("Security: starttls, tls or none", _security, default="starttls")
        port = _ask("SMTP port", _port, default=str(Security(security).smtp_port))
        per_hour = _ask("Most recipients per hour (Enter for no limit)", _limit, default="")
        per_day = _ask("Most recipients per day (Enter for no limit)", _limit, default="")
        return host, port, security, per_hour, per_day
    host, port, security = provider.host, provider.port or 587, provider.security or "starttls"
    output.say(
        f"{provider.name}: {host}, port {port}, {security}; at most {provider.limit_per_hour} "
        f"recipients an hour and {provider.limit_per_day} a day (change limit_per_hour and "
        "limit_per_day in the config file if yours are different)."
    )
    return host, port, security, provider.limit_per_hour, provider.limit_per_day


def _trusted_ca(provider: Provider, *, security: str) -> str | None:
    ca_file = None
    if provider.host is None and security != "none":
        ca_file = _ask(
            "PEM file of a private certificate authority, for a self-hosted server "
            "(Enter for none)",
            _ca_file,
            default="",
        )
    if provider.needs_ca_file:
        output.say(PROTON_CA_HELP)
        ca_file = _ask(
            "Path of the exported cert.pem (Enter to add smtp_ca_file later)", _ca_file, default=""
        )
        if ca_file is None:
            output.warn("Until smtp_ca_file is set, sending stops with a certificate error.")
    return ca_file


def _login(
    *, email: str, host: str, provider: Provider, config_path: Path
) -> tuple[str | None, Storage, str | None, OAuthAnswers | None]:
    """The username (None: the server takes mail without a login) and how it signs in:
    the password's place, or OAuth2 (XOAUTH2)."""
    username: str | None = _ask(
        f"SMTP username (Enter for {email}; 'none' if the server takes mail without a login)",
        _username,
        default=email,
    )
    if username is None:
        output.say(
            f"No login. To log in later, add smtp_username (and smtp_password_command) "
            f"to {config_path}."
        )
        return None, "no", None, None
    output.say(
        f"(If the server turns out to take mail without a login, remove smtp_username "
        f"from {config_path}, or set PROTEST_SMTP_USERNAME= empty for one run.)"
    )
    output.say(provider.login_help)
    oauth = _oauth(provider)
    if oauth is not None:
        return username, "oauth", None, oauth
    store, command = _password(username=username, host=host)
    return username, store, command, None


def _oauth(provider: Provider) -> OAuthAnswers | None:
    """XOAUTH2 for Outlook (no other way) or, when chosen, for Gmail; None for a password."""
    if provider.oauth is None:
        return None
    if not provider.oauth_only:
        use = _ask(
            "Sign in with 1. an app password, or 2. OAuth2 (for accounts without app passwords)",
            _choice("1", "2"),
            default="1",
        )
        if use == "1":
            return None
    output.say(
        "A token command prints a fresh access token, e.g. 'oama access you@example.org'. "
        "Without one, 'protest login' signs you in once with your own OAuth client."
    )
    command = _ask("Token command (Enter to use 'protest login' instead)", str, default="")
    if command:
        return OAuthAnswers(provider=provider.oauth, token_command=command)
    client_id = _ask("Your OAuth client ID (Enter to add oauth_client_id later)", str, default="")
    secret = None
    if client_id and provider.oauth is OAuthProvider.GOOGLE:
        secret = _ask("Its client secret (Google's desktop-app secret)", str, default="") or None
    output.say("After init, run 'protest login' once to sign in.")
    return OAuthAnswers(provider=provider.oauth, client_id=client_id or None, client_secret=secret)


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"answer {' or '.join(allowed)}")
        return value

    return check


def _mailbox(provider: Provider, *, smtp_host: str, ca_file: str | None) -> dict[str, Any]:
    """Whether 'protest inbox' may read the mailbox, and where it is (presets know)."""
    if not typer.confirm(
        "Let 'protest inbox' read your mailbox (read-only) for bounces and replies?",
        default=provider.imap_host is not None,
        err=True,
    ):
        return {}
    if provider.imap_host is not None:
        output.say(
            f"{provider.name}: the mailbox is at {provider.imap_host}, port "
            f"{provider.imap_port}, {provider.imap_security}; protest logs in to it as it "
            "does for sending."
        )
        return {
            "imap_host": provider.imap_host,
            "imap_port": provider.imap_port,
            "imap_security": str(provider.imap_security),
            "imap_ca_file": ca_file if provider.needs_ca_file else None,
        }
    guess_host = smtp_host.replace("smtp.", "imap.", 1) if smtp_host.startswith("smtp.") else None
    host = _ask("IMAP server (host name)", _host, default=guess_host)
    security = _ask("IMAP security: tls or starttls", _security, default="tls")
    port = _ask("IMAP port", _port, default=str(Security(security).imap_port))
    return {
        "imap_host": host,
        "imap_port": port,
        "imap_security": security,
        "imap_ca_file": ca_file,
    }


def _tor(*, port: int) -> str | None:
    """``tor`` for those whose provider must not learn where they are; None for the rest."""
    output.say(
        "Your mail provider sees your IP address each time protest logs in, and can be made "
        "to hand it over. Through Tor it sees a Tor exit's address instead; Tor must be "
        "installed and running (README: 'Hiding where you send from')."
    )
    if not typer.confirm(
        "Do you need to hide your IP address from your mail provider? (Tor)",
        default=False,
        err=True,
    ):
        return None
    if port == 25:
        output.warn(
            "Tor's exits refuse port 25: set smtp_port to your provider's 587 (starttls) or "
            "465 (tls) in the config file."
        )
    output.say('Every connection will go through Tor (proxy = "tor"); check with protest doctor.')
    return "tor"


def _password(*, username: str, host: str) -> tuple[Storage, str | None]:
    has_keyring = keyring_works()
    keyring_line = (
        "  3. keyring: in your system's keyring (not available to cron jobs on many\n"
        "     systems: use a command there)"
        if has_keyring
        else "  3. keyring: not available: this system has no working keyring"
    )
    output.say(
        "Where should protest find your SMTP password?\n"
        "  1. no: do not store it; give it when you send, in PROTEST_SMTP_PASSWORD\n"
        "     or with PROTEST_SMTP_PASSWORD_COMMAND\n"
        "  2. command: a command that prints it, e.g. 'pass show email/protest'\n"
        f"{keyring_line}"
    )
    while True:
        store: Storage = _ask("Store the password", _store, default="no")
        if store == "keyring" and not has_keyring:
            output.warn(
                "There is no working system keyring here, so the password cannot be "
                "stored in one. Choose no or command."
            )
            continue
        if store == "no":
            output.say(
                "Before sending, run: export PROTEST_SMTP_PASSWORD_COMMAND='pass show "
                "email/protest' (or set PROTEST_SMTP_PASSWORD in that shell only)."
            )
            return store, None
        if store == "command":
            return store, _ask("Password command (its first output line is the password)", _text)
        password = _ask("Password (not shown)", _text, hide=True, confirm=True)
        try:
            store_in_keyring(username=username, host=host, password=password)
        except ConfigError as exc:
            output.warn(exc.message)
            output.say("Choose another way.")
            continue
        output.say(f"The password is in the keyring as {username}@{host}.")
        return store, None


def confirm_replace(path: Path) -> bool:
    return typer.confirm(
        f"A config file already exists at {path}. Replace it?", default=False, err=True
    )
