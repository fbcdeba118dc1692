"""IMAP settings: presets, defaults, the username chain and which password is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from protest_dispatch.errors import ConfigError
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.imap import ImapSettings, imap_settings
from protest_dispatch.settings.providers import PROVIDERS
from protest_dispatch.vocabulary import Security

SENDER = "ana@example.org"


def settings_for(tmp_path: Path, **env: str) -> ImapSettings:
    config = Config.load(env={"HOME": str(tmp_path), **env})
    return imap_settings(config, sender_email=SENDER)


@pytest.mark.parametrize(
    ("provider", "host", "port", "security"),
    [
        ("gmail", "imap.gmail.com", 993, Security.TLS),
        ("outlook", "outlook.office365.com", 993, Security.TLS),
        ("proton", "127.0.0.1", 1143, Security.STARTTLS),
        ("fastmail", "imap.fastmail.com", 993, Security.TLS),
        ("riseup", "mail.riseup.net", 993, Security.TLS),
        ("posteo", "posteo.de", 993, Security.TLS),
    ],
)
def test_presets_know_their_imap_server(
    tmp_path: Path, provider: str, host: str, port: int, security: Security
) -> None:
    got = settings_for(tmp_path, PROTEST_PROVIDER=provider)
    assert (got.host, got.port, got.security) == (host, port, security)


def test_every_preset_but_other_has_an_imap_server() -> None:
    assert [p.key for p in PROVIDERS if p.imap_host is None] == ["other"]


def test_proton_bridge_trusts_the_certificate_smtp_trusts(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not read here")
    got = settings_for(tmp_path, PROTEST_PROVIDER="proton", PROTEST_SMTP_CA_FILE=str(cert))
    assert got.ca_file == cert


def test_own_host_defaults_to_tls_on_993_and_starttls_to_143(tmp_path: Path) -> None:
    assert settings_for(tmp_path, PROTEST_IMAP_HOST="imap.example.org").port == 993
    starttls = settings_for(
        tmp_path, PROTEST_IMAP_HOST="imap.example.org", PROTEST_IMAP_SECURITY="starttls"
    )
    assert (starttls.port, starttls.security) == (143, Security.STARTTLS)


def test_username_is_imap_then_smtp_then_the_sender(tmp_path: Path) -> None:
    base = {"PROTEST_IMAP_HOST": "imap.example.org"}
    assert settings_for(tmp_path, **base).username == SENDER
    smtp = settings_for(tmp_path, **base, PROTEST_SMTP_USERNAME="ana.smtp")
    assert smtp.username == "ana.smtp"
    own = settings_for(
        tmp_path, **base, PROTEST_SMTP_USERNAME="ana.smtp", PROTEST_IMAP_USERNAME="ana.imap"
    )
    assert own.username == "ana.imap"


def test_the_mailbox_password_wins_over_the_smtp_one_and_is_read_only_at_login(
    tmp_path: Path,
) -> None:
    base = {
        "PROTEST_IMAP_HOST": "imap.example.org",
        "PROTEST_SMTP_HOST": "smtp.example.org",
        "PROTEST_SMTP_USERNAME": SENDER,
        "PROTEST_SMTP_PASSWORD": "smtp-secret",
    }
    shared = settings_for(tmp_path, **base)
    assert shared.credentials().secret.get_secret_value() == "smtp-secret"
    assert "smtp-secret" not in repr(shared)
    own = settings_for(tmp_path, **base, PROTEST_IMAP_PASSWORD="imap-secret")
    assert own.credentials().secret.get_secret_value() == "imap-secret"
    command = settings_for(tmp_path, **base, PROTEST_IMAP_PASSWORD_COMMAND="echo from-command")
    assert command.credentials().secret.get_secret_value() == "from-command"
    failing = settings_for(tmp_path, PROTEST_IMAP_HOST="imap.example.org")
    with pytest.raises(ConfigError, match="No password is configured for reading the mailbox"):
        failing.credentials()


def test_a_missing_ca_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(
            tmp_path,
            PROTEST_IMAP_HOST="imap.example.org",
            PROTEST_IMAP_CA_FILE=str(tmp_path / "nope.pem"),
        )
    assert caught.value.key == "imap_ca_file"
