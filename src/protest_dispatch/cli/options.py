"""The options several commands share: one declaration, one help text, one name.

Settings read their own ``PROTEST_*`` variables (settings/sources.py), so Typer
reads none; each option's help names its variable instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def env_help(text: str, variable: str) -> str:
    """Help that names the variable: settings read it themselves, not Typer (read once)."""
    return f"{text}  [env var: {variable}]"


TargetsOpt = Annotated[
    Path,
    typer.Option(
        "--targets",
        "-t",
        help="The campaign file (or its folder); letters/ lies beside it.",
        show_default=True,
    ),
]
CampaignFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--targets",
        "-t",
        help="The campaign file, for the officials' names "
        "[default: targets.yaml here, if there is one].",
        show_default=False,
    ),
]
OnlyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--only", metavar="ID", help="Only this target id (repeat for more).", show_default=False
    ),
]
CountryOpt = Annotated[
    str | None,
    typer.Option(
        "--country",
        metavar="CC",
        help=env_help(
            "Your country (ISO code such as GB): selects targets meant for senders there.",
            "PROTEST_COUNTRY",
        ),
    ),
]
LangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang",
        metavar="LL",
        help=env_help("Letter language: uses name.LL.md.j2 where it exists.", "PROTEST_LANG"),
    ),
]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="'NAME <ADDRESS>'",
        help=env_help('You, as "Your Name <you@example.org>".', "PROTEST_FROM"),
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=env_help(
            "Config file [default: protest/config.toml in your config folder].", "PROTEST_CONFIG"
        ),
    ),
]
LogOpt = Annotated[
    Path | None,
    typer.Option(
        "--log",
        help=env_help(
            "Send log [default: protest/sendlog.sqlite3 in your data folder].", "PROTEST_LOG"
        ),
    ),
]
NoteOpt = Annotated[
    str | None,
    typer.Option("--note", help="Your own paragraph, placed where the letter puts sender.note."),
]
NoteFileOpt = Annotated[
    Path | None, typer.Option("--note-file", help="Read your own paragraph from this file.")
]

PostalAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--postal-address",
        metavar="'LINE\\nLINE'",
        help=env_help(
            "Your postal address for letters on paper; a typed \\n breaks a line.",
            "PROTEST_POSTAL_ADDRESS",
        ),
    ),
]

SmtpHostOpt = Annotated[
    str | None,
    typer.Option("--smtp-host", help=env_help("SMTP server host name.", "PROTEST_SMTP_HOST")),
]
SmtpPortOpt = Annotated[
    int | None,
    typer.Option(
        "--smtp-port",
        help=env_help("SMTP port [default: 587 starttls, 465 tls, 25 none].", "PROTEST_SMTP_PORT"),
    ),
]
SmtpSecurityOpt = Annotated[
    str | None,
    typer.Option(
        "--smtp-security",
        help=env_help(
            "starttls (required STARTTLS, the default), tls, or none.", "PROTEST_SMTP_SECURITY"
        ),
    ),
]
SmtpCaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--smtp-ca-file",
        help=env_help(
            "PEM file of a private certificate authority to trust.", "PROTEST_SMTP_CA_FILE"
        ),
    ),
]
SmtpAuthOpt = Annotated[
    str | None,
    typer.Option(
        "--smtp-auth",
        help=env_help(
            "Login method: 'xoauth2' signs in with an OAuth2 token (Outlook, Microsoft 365, "
            "Gmail); unset, the usual login.",
            "PROTEST_SMTP_AUTH",
        ),
    ),
]
ProxyOpt = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        metavar="URL",
        help=env_help(
            'SOCKS5 proxy for every connection: "socks5://HOST:PORT", "tor" (Tor on this '
            'machine, a fresh circuit per run) or "none" (off). Its login belongs in the '
            "config file or the environment, not here.",
            "PROTEST_PROXY",
        ),
    ),
]


CampaignOpt = Annotated[
    str | None, typer.Option("--campaign", metavar="ID", help="Only this campaign id.")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only what needs attention (for cron).")
]
