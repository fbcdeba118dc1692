"""The questions ``protest init`` asks, one checked answer at a time.

This is the interactive edge: it prompts (on stderr, so stdout stays clean) and
re-asks on a bad answer; writing the file is ``init``'s job. The password is
read with echo off and goes straight to the keyring; it is never printed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypedDict, TypeVar

import typer

from protest_dispatch.cli import answers as check
from protest_dispatch.cli import output
from protest_dispatch.errors import ConfigError
from protest_dispatch.settings.providers import PROTON_CA_HELP, PROVIDERS, Provider, guess
from protest_dispatch.settings.secrets import keyring_works
from protest_dispatch.settings.sender import format_from
from protest_dispatch.settings.writer import (
    Answers,
    OAuthAnswers,
    Storage,
    store_in_keyring,
)
from protest_dispatch.vocabulary import OAuthProvider, Security

_T = TypeVar("_T")


class _Mailbox(TypedDict, total=False):
    """The mailbox answers, as Answers takes them (none: protest inbox is not set up)."""

    imap_host: str
    imap_port: int | None
    imap_security: Security | None
    imap_ca_file: str | None
    imap_username: str
    imap_password_command: str | None


def _ask(
    text: str,
    check: Callable[[str], _T],
    *,
    default: str | None = None,
    hide: bool = False,
    confirm: bool = False,
) -> _T:
    def proc(value: str) -> _T:
        try:
            return check(value.strip())
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    answer: _T = typer.prompt(  # value_proc made it a _T
        text,
        default=default,
        value_proc=proc,
        err=True,
        hide_input=hide,
        confirmation_prompt=confirm,
        show_default=bool(default),
    )
    return answer


def ask(*, config_path: Path) -> Answers:
    """Ask everything, in the order a newcomer can answer it."""
    output.say(
        f"protest init: a few questions, then the settings are written to "
        f"{config_path}. Nothing is written before the end (Ctrl-C stops)."
    )
    name, email = _identity()
    country = _ask(
        "Your country as a two-letter code such as GB or DE (Enter to skip)",
        check.country,
        default="",
    )
    postal_address = _postal_address()
    provider = _choose_provider(email)
    host, port, security, per_hour, per_day = _server(provider)
    ca_file = _trusted_ca(provider, security=security)
    username, store, command, oauth = _login(
        email=email, host=host, provider=provider, config_path=config_path
    )
    copy_me = typer.confirm(
        "Send yourself a copy of every letter (Bcc), as a receipt?", default=True, err=True
    )
    imap = _mailbox(
        provider,
        smtp_host=host,
        ca_file=ca_file,
        email=email,
        login=username,
        oauth=oauth is not None,
    )
    proxy = _tor(port=port)
    return Answers(
        name=name,
        email=email,
        country=country,
        postal_address=postal_address,
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


def _address_line(value: str) -> str:
    from protest_dispatch.campaign.fields import postal_address

    return postal_address(value) if value else ""


def _postal_address() -> str | None:
    """Line by line, as on an envelope; optional, checked as a whole once it is complete."""
    from protest_dispatch.campaign.fields import MAX_ADDRESS_LINES, postal_address

    while True:
        lines: list[str] = []
        prompt = "Your postal address, for letters on paper: first line (Enter to skip)"
        while len(lines) < MAX_ADDRESS_LINES:
            line = _ask(prompt, _address_line, default="")
            if not line:
                break
            lines.append(line)
            prompt = f"Line {len(lines) + 1} (Enter when done)"
        if not lines:
            return None
        try:
            return postal_address("\n".join(lines))
        except ValueError as exc:
            output.say(f"That address {exc}. Please type it again.")


def _identity() -> tuple[str, str]:
    """Name and address, asked again until they make a valid From."""
    from protest_dispatch.settings.sender import parse_from

    while True:
        name = _ask("Your name, as your letters are signed", check.name)
        email = _ask("Your email address", check.email)
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
        check.provider,
        default=str(PROVIDERS.index(guessed) + 1) if guessed else None,
    )
    return chosen


LIMIT_HELP = (
    "Providers limit how many recipients you may write to in an hour and in a day, and "
    "may block an account that goes over; protest paces itself to stay under the limit."
)
SAFE_PER_HOUR = "20"
"""The hourly limit offered for a server protest has no preset for: low enough for any."""


def _server(provider: Provider) -> tuple[str, int, Security, int | None, int | None]:
    """Host, port, security and limits: the preset's, or asked for "other"."""
    if provider.host is None:
        output.say(provider.login_help)
        host = _ask("SMTP server (host name)", check.host)
        security = _ask("Security: starttls, tls or none", check.security, default="starttls")
        port = _ask("SMTP port", check.port, default=str(security.smtp_port))
        output.say(
            f"{LIMIT_HELP} Give yours: your provider's help pages name it; if you do not "
            f"know it, {SAFE_PER_HOUR} an hour is safe."
        )
        per_hour = _ask("Most recipients an hour", check.limit, default=SAFE_PER_HOUR)
        per_day = _ask(
            "Most recipients a day (Enter if your provider sets no daily limit)",
            check.limit,
            default="",
        )
        return host, port, security, per_hour, per_day
    security = provider.security or Security.STARTTLS
    host, port = provider.host, provider.port or security.smtp_port
    output.say(
        f"{provider.name}: {host}, port {port}, {security}. {LIMIT_HELP} {provider.name} "
        f"allows {provider.limit_per_hour} an hour and {provider.limit_per_day} a day "
        "(if your account's limits differ, change limit_per_hour and limit_per_day in the "
        "config file)."
    )
    return host, port, security, provider.limit_per_hour, provider.limit_per_day


def _trusted_ca(provider: Provider, *, security: Security) -> str | None:
    ca_file = None
    if provider.host is None and security is not Security.NONE:
        output.say(
            "A self-hosted server may use a certificate from a private certificate "
            "authority: give its PEM file, or press Enter for none."
        )
        ca_file = _ask("Certificate authority file", check.ca_file, default="")
    if provider.needs_ca_file:
        output.say(PROTON_CA_HELP)
        ca_file = _ask(
            "Path of the exported cert.pem (Enter to add smtp_ca_file later)",
            check.ca_file,
            default="",
        )
        if ca_file is None:
            output.warn("Until smtp_ca_file is set, sending stops with a certificate error.")
    return ca_file


def _login(
    *, email: str, host: str, provider: Provider, config_path: Path
) -> tuple[str | None, Storage, str | None, OAuthAnswers | None]:
    """The username (None: the server takes mail without a login) and how it signs in:
    the password's place, or OAuth2 (XOAUTH2)."""
    output.say("The SMTP username: 'none' if the server takes mail without a login.")
    username: str | None = _ask("SMTP username", check.username, default=email)
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
    if provider.host is not None:  # "other" said it before asking for the server
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
        output.say(
            "Sign in with 1. an app password, or 2. OAuth2 (for accounts without app passwords)."
        )
        use = _ask("Sign in with", check.choice("1", "2"), default="1")
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


def _mailbox(
    provider: Provider,
    *,
    smtp_host: str,
    ca_file: str | None,
    email: str,
    login: str | None,
    oauth: bool,
) -> _Mailbox:
    """Whether 'protest inbox' may read the mailbox, where it is (presets know), and how
    it logs in: with the SMTP login, or (for a server that takes mail without one) its own."""
    output.say("'protest inbox' can read your mailbox (read-only) for bounces and replies.")
    if not typer.confirm(
        "Let it read your mailbox?",
        default=provider.imap_host is not None,
        err=True,
    ):
        return {}
    if provider.imap_host is not None:
        output.say(
            f"{provider.name}: the mailbox is at {provider.imap_host}, port "
            f"{provider.imap_port}, {provider.imap_security}."
        )
        where: _Mailbox = {
            "imap_host": provider.imap_host,
            "imap_port": provider.imap_port,
            "imap_security": provider.imap_security,
            "imap_ca_file": ca_file if provider.needs_ca_file else None,
        }
    else:
        output.say(
            "Your provider's help pages name its IMAP server too (often imap. and your "
            "mail domain, port 993 with TLS)."
        )
        guess_host = (
            smtp_host.replace("smtp.", "imap.", 1) if smtp_host.startswith("smtp.") else None
        )
        host = _ask("IMAP server (host name)", check.host, default=guess_host)
        security = _ask("IMAP security: tls or starttls", check.security, default="tls")
        port = _ask("IMAP port", check.port, default=str(security.imap_port))
        where = {"imap_host": host, "imap_port": port, "imap_security": security}
        where["imap_ca_file"] = ca_file
    if where["imap_ca_file"]:
        output.say(
            f"It trusts the same certificate authority file as sending ({where['imap_ca_file']})."
        )
    if login is not None:
        how = "the same OAuth2 sign-in" if oauth else "the same password"
        output.say(f"Reading the mailbox uses your SMTP login ({login}) and {how}.")
        return where
    return {**where, **_mailbox_login(email=email)}


def _mailbox_login(*, email: str) -> _Mailbox:
    """Sending needs no login here, but reading a mailbox always does: ask for it."""
    output.say("Sending needs no login on this server, but reading the mailbox does.")
    username = _ask("Mailbox username", check.login_name, default=email)
    output.say(
        "Where should protest find your mailbox password?\n"
        "  1. no: do not store it; give it when you read, in PROTEST_IMAP_PASSWORD\n"
        "  2. command: a command that prints it, e.g. 'pass show email/mailbox'"
    )
    store = _ask(
        "Store the mailbox password", check.choice("1", "2", "no", "command"), default="no"
    )
    command = None
    if store in ("2", "command"):
        command = _ask("Password command (its first output line is the password)", check.text)
    else:
        output.say("Before 'protest inbox', set PROTEST_IMAP_PASSWORD in that shell only.")
    return {"imap_username": username, "imap_password_command": command}


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
        store: Storage = _ask("Store the password", check.store, default="no")
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
            return store, _ask(
                "Password command (its first output line is the password)", check.text
            )
        password = _ask("Password (not shown)", check.text, hide=True, confirm=True)
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
