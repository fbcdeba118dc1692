"""``protest init``'s mailbox step, then ``protest doctor`` right after it, against real
servers on 127.0.0.1 (an SMTP server that takes mail without a login, and Dovecot).

A server that takes mail without a login still needs one to read the mailbox: init asks
for it, and doctor then logs in with it. Given to be typed at read time instead, doctor
notes that the login was not tried; it does not fail for a password init was told not
to keep.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from dovecot import Dovecot
from kit import answers, cli
from smtp_server import Server

EMAIL = "ana@example.org"


def _init(path: Path, *, smtp: Server, mailbox: Dovecot, store: list[str]) -> str:
    run = cli(
        ["init", "--config", str(path)],
        input=answers(
            "Ana Example",
            EMAIL,
            "",
            "",  # no postal address
            "other",
            smtp.host,
            "none",
            str(smtp.port),
            "",  # 20 an hour, the safe default
            "",  # no daily limit
            "none",  # the server takes mail without a login
            "y",  # a Bcc copy
            "y",  # read the mailbox
            mailbox.host,
            "tls",
            str(mailbox.imaps_port),
            mailbox.user,
            *store,
            "",  # no Tor
        ),
    )
    assert run.code == 0, run.output
    return run.stderr


def _doctor(path: Path, mailbox: Dovecot, tmp_path: Path, **env: str) -> tuple[int, str]:
    run = cli(
        ["doctor", "--timeout", "5"],
        env={
            "PROTEST_CONFIG": str(path),
            "PROTEST_IMAP_CA_FILE": str(mailbox.ca_file),
            "PROTEST_LOG": str(tmp_path / "log.sqlite3"),
            **env,
        },
    )
    return run.code, run.stdout


def test_init_asks_the_mailbox_login_when_sending_needs_none_and_doctor_uses_it(
    tmp_path: Path, smtp_server: Server, mailbox: Dovecot
) -> None:
    path = tmp_path / "config.toml"
    said = _init(
        path, smtp=smtp_server, mailbox=mailbox, store=["command", f"echo {mailbox.password}"]
    )

    flat = " ".join(said.split())
    # the provider's hint comes before the server is asked for, the limit is explained
    assert flat.index("help pages name its SMTP server") < flat.index("SMTP server (host name)")
    assert "if you do not know it, 20 an hour is safe" in flat
    assert "reading the mailbox does" in flat
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert values["limit_per_hour"] == 20
    assert "limit_per_day" not in values
    assert values["imap_username"] == mailbox.user
    assert values["imap_password_command"] == f"echo {mailbox.password}"
    assert "smtp_username" not in values

    code, shown = _doctor(path, mailbox, tmp_path)
    assert code == 0, shown
    assert f"IMAP login: logged in as {mailbox.user}" in shown


def test_doctor_right_after_init_notes_a_mailbox_password_given_at_read_time(
    tmp_path: Path, smtp_server: Server, mailbox: Dovecot
) -> None:
    path = tmp_path / "config.toml"
    said = _init(path, smtp=smtp_server, mailbox=mailbox, store=["no"])
    assert "PROTEST_IMAP_PASSWORD" in said

    code, shown = _doctor(path, mailbox, tmp_path)
    assert code == 0, shown
    assert "IMAP login: not tried: no password is stored for the mailbox" in " ".join(shown.split())
    assert "✗" not in shown

    code, shown = _doctor(path, mailbox, tmp_path, PROTEST_IMAP_PASSWORD=mailbox.password)
    assert code == 0, shown
    assert f"IMAP login: logged in as {mailbox.user}" in shown


def test_a_mailbox_that_shares_the_smtp_login_is_said_to(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    run = cli(
        ["init", "--config", str(path)],
        input=answers(
            "Ana Example", EMAIL, "", "", "riseup", "", "command", "echo x", "y", "y", ""
        ),
    )
    assert run.code == 0, run.output
    flat = " ".join(run.stderr.split())
    assert f"Reading the mailbox uses your SMTP login ({EMAIL}) and the same password." in flat
    assert "Riseup allows 30 an hour and 100 a day" in flat
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert "imap_username" not in values
