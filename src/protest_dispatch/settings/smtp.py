"""How to reach and log in to the SMTP server, as one frozen value."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from protest_dispatch.vocabulary import AuthMode, Security

TokenProvider = Callable[[], Awaitable[str]]
"""Gives a fresh OAuth2 access token; called right before each connection logs in."""


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach and log in to the SMTP server; the password never shows in repr."""

    host: str
    port: int
    security: Security
    helo_name: str  # the sender's email domain, never this machine's FQDN
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None  # PEM bundle trusted instead of the system store
    timeout: float = 30.0  # connect and ordinary replies
    data_timeout: float = 600.0  # reply to the end of data (RFC 5321 4.5.3.2.6)
    auth: AuthMode = AuthMode.PASSWORD
    token: TokenProvider | None = field(default=None, repr=False, compare=False)
    """With ``auth`` xoauth2: where each connection's access token comes from."""
