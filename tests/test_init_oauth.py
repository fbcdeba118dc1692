"""``protest init`` for providers that sign in with OAuth2: Outlook always, Gmail on request."""

from __future__ import annotations

import tomllib
from pathlib import Path

from kit import answers, cli
from protest_dispatch.settings.model import FILE_KEYS as KEYS

EMAIL = "ana@example.org"


def written(tmp_path: Path, *lines: str) -> tuple[dict[str, object], str]:
    path = tmp_path / "protest" / "config.toml"
    result = cli(["init", "--config", str(path)], input=answers(*lines, ""))  # "": no Tor
    assert result.code == 0, result.output
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(values) <= set(KEYS)
    return values, result.stderr


def test_outlook_explains_that_passwords_are_refused_and_sets_up_protest_login(
    tmp_path: Path,
) -> None:
    values, said = written(
        tmp_path, "Ana Example", EMAIL, "", "", "outlook", "", "", "my-own-client-id", "", "n"
    )

    assert "stopped accepting passwords" in said
    assert "protest login" in said
    assert "app password" not in said.replace("app passwords included", "")
    assert values["smtp_auth"] == "xoauth2"
    assert values["oauth_provider"] == "microsoft"
    assert values["oauth_client_id"] == "my-own-client-id"
    assert "smtp_password_command" not in values
    assert "smtp_password_keyring" not in values


def test_outlook_with_a_token_command_needs_no_client(tmp_path: Path) -> None:
    command = f"oama access {EMAIL}"
    values, _ = written(tmp_path, "Ana Example", EMAIL, "", "", "outlook", "", command, "", "n")

    assert values["smtp_auth"] == "xoauth2"
    assert values["smtp_oauth_token_command"] == command
    assert "oauth_client_id" not in values


def test_gmail_offers_oauth2_as_the_second_choice_with_the_desktop_secret(
    tmp_path: Path,
) -> None:
    values, _ = written(
        tmp_path,
        *("Ana Example", EMAIL, "", "", "gmail", "", "2", "", "desktop-id", "desktop-secret", ""),
        "n",
    )

    assert values["smtp_auth"] == "xoauth2"
    assert values["oauth_provider"] == "google"
    assert values["oauth_client_id"] == "desktop-id"
    assert values["oauth_client_secret"] == "desktop-secret"


def test_outlook_reading_the_mailbox_asks_microsoft_for_imap_too(tmp_path: Path) -> None:
    values, _ = written(
        tmp_path, "Ana Example", EMAIL, "", "", "outlook", "", "", "my-own-client-id", "", "y"
    )

    assert values["imap_host"] == "outlook.office365.com"
    assert values["oauth_scope"] == (
        "openid email profile https://outlook.office.com/SMTP.Send offline_access "
        "https://outlook.office.com/IMAP.AccessAsUser.All"
    )
