"""``protest init`` driven through its prompts, then used for real against a loopback server."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as FailKeyring

from kit import CALLS_SUBJECT, MemoryKeyring, answers, cli, make_campaign, using_keyring
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.model import FILE_KEYS
from protest_dispatch.settings.writer import dump_toml
from smtp_server import Server

PASSWORD = "correct-horse-battery"
EMAIL = "ana@example.org"


def config_at(tmp_path: Path) -> Path:
    return tmp_path / "settings" / "protest" / "config.toml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_a_private_config_from_the_answers(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    result = cli(
        ["init", "--config", str(path)],
        input=answers(
            "Ana Example",
            EMAIL,
            "gb",
            "",
            "gmail",
            "",
            "",  # an app password (the default), not OAuth2
            "",
            "",
            "",
            "",  # no Tor
        ),
    )
    assert result.code == 0, result.output
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(values) <= set(FILE_KEYS)
    assert values == {
        "from": "Ana Example <ana@example.org>",
        "country": "GB",
        "provider": "gmail",
        "smtp_host": "smtp.gmail.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "smtp_username": EMAIL,
        "copy_me": True,
        "limit_per_hour": 80,
        "limit_per_day": 400,
        "imap_host": "imap.gmail.com",
        "imap_port": 993,
        "imap_security": "tls",
    }
    assert "myaccount.google.com/apppasswords" in result.stderr
    assert "PROTEST_SMTP_PASSWORD" in result.output
    sender = Config.load(path=path).sender()
    assert sender is not None
    assert (sender.name, sender.email, sender.country) == ("Ana Example", EMAIL, "GB")


def test_init_asks_again_after_a_wrong_answer(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    result = cli(
        ["init", "--config", str(path)],
        input=answers(
            "Doe, Jane",
            "not an address",
            EMAIL,
            "UK",
            "DE",
            "",
            "9",
            "posteo",
            "",
            "no",
            "n",
            "n",
            "",  # no Tor
        ),
    )
    assert result.code == 0, result.output
    assert "not a single valid email address" in result.stderr
    assert "the United Kingdom is GB" in result.stderr
    assert "a number from 1 to 7" in result.stderr
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert values["from"] == '"Doe, Jane" <ana@example.org>'
    assert values["smtp_host"] == "posteo.de"
    assert values["copy_me"] is False
    sender = Config.load(path=path).sender()
    assert sender is not None
    assert sender.name == "Doe, Jane"


def test_init_never_overwrites_without_asking(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    first = cli(
        ["init", "--config", str(path)],
        input=answers("Ana Example", EMAIL, "", "", "riseup", "", "", "", "n", ""),
    )
    assert first.code == 0, first.output
    before = path.read_text(encoding="utf-8")

    kept = cli(["init", "--config", str(path)], input=answers("n"))
    assert kept.code == 0
    assert "already exists" in kept.stderr
    assert "nothing was changed" in kept.stderr
    assert path.read_text(encoding="utf-8") == before

    forced = cli(
        ["init", "--config", str(path), "--force"],
        input=answers("Ben Example", "ben@example.org", "", "", "fastmail", "", "", "", "n", ""),
    )
    assert forced.code == 0, forced.output
    assert "already exists" not in forced.stderr
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert values["from"] == "Ben Example <ben@example.org>"
    assert (values["smtp_host"], values["smtp_port"], values["smtp_security"]) == (
        "smtp.fastmail.com",
        465,
        "tls",
    )
    assert mode(path) == 0o600


def test_proton_bridge_set_up_then_doctor_then_test_send(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    """Bridge: 127.0.0.1, STARTTLS with its own certificate trusted by file, a login."""
    server: Server = smtp_server_factory(tls="starttls", auth=(EMAIL, PASSWORD))
    assert server.ca_file is not None
    path = config_at(tmp_path)
    result = cli(
        ["init", "--config", str(path)],
        input=answers(
            "Ana Example",
            EMAIL,
            "GB",
            "",
            "proton",
            str(server.ca_file),
            "",
            "command",
            f"echo {PASSWORD}",
            "y",
            "n",
            "",  # no Tor
        ),
    )
    assert result.code == 0, result.output
    assert "Export TLS certificates" in result.stderr
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert (values["smtp_host"], values["smtp_port"], values["smtp_security"]) == (
        "127.0.0.1",
        1025,
        "starttls",
    )
    assert values["smtp_ca_file"] == str(server.ca_file.resolve())
    assert values["smtp_password_command"] == f"echo {PASSWORD}"

    # Bridge chose another port on this machine: the environment overrides the file.
    env = {
        "PROTEST_CONFIG": str(path),
        "PROTEST_SMTP_PORT": str(server.port),
        "PROTEST_LOG": str(tmp_path / "log.sqlite3"),
    }
    doctor = cli(["doctor", "--timeout", "5"], env=env)
    assert doctor.code == 0, doctor.output
    assert "✗" not in doctor.stdout
    assert server.auth_attempts == [(EMAIL, True)]
    assert "MAIL" not in server.verbs()

    campaign = make_campaign(
        tmp_path / "campaign", targets=1, calls=True, campaign_cc=(), subject=CALLS_SUBJECT
    )
    sent = cli(["send", "-t", str(campaign), "--test", "--yes", "--rate", "0"], env=env)
    assert sent.code == 0, sent.output
    assert [m.rcpt_tos for m in server.messages] == [[EMAIL], [EMAIL]]
    assert all(m.tls for m in server.messages)


def test_keyring_keeps_the_password_and_doctor_logs_in_with_it(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    server: Server = smtp_server_factory(tls="starttls", auth=(EMAIL, PASSWORD))
    path = config_at(tmp_path)
    backend = MemoryKeyring()
    with using_keyring(backend):
        result = cli(
            ["init", "--config", str(path)],
            input=answers(
                "Ana Example",
                EMAIL,
                "",
                "",
                "other",
                "127.0.0.1",
                "starttls",
                str(server.port),
                "",
                "",
                str(server.ca_file),
                "",
                "keyring",
                PASSWORD,
                PASSWORD,
                "",
                "n",
                "",  # no Tor
            ),
        )
        assert result.code == 0, result.output
        assert backend.items == {("protest", f"{EMAIL}@127.0.0.1"): PASSWORD}
        text = path.read_text(encoding="utf-8")
        assert PASSWORD not in text + result.stdout + result.stderr
        values = tomllib.loads(text)
        assert values["smtp_password_keyring"] is True
        assert "smtp_password" not in values
        assert values["limit_per_hour"] == 20  # a custom server gets the safe default

        doctor = cli(["doctor", "--config", str(path), "--timeout", "5"])
    assert doctor.code == 0, doctor.output
    assert "password from the system keyring" in doctor.stdout
    assert server.auth_attempts[-1] == (EMAIL, True)


def test_without_a_keyring_init_says_so_before_asking_for_the_password(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    with using_keyring(FailKeyring()):  # type: ignore[no-untyped-call]  # keyring is untyped
        result = cli(
            ["init", "--config", str(path)],
            input=answers(
                "Ana Example",
                EMAIL,
                "",
                "",
                "posteo",
                "",
                "keyring",
                "command",
                "pass show email/posteo",
                "",
                "n",
                "",  # no Tor
            ),
        )
    assert result.code == 0, result.output
    assert "3. keyring: not available" in result.stderr
    assert "no working system keyring here" in result.stderr
    assert "Password (not shown)" not in result.stderr
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert values["smtp_password_command"] == "pass show email/posteo"
    assert "smtp_password_keyring" not in values


def test_init_sets_up_a_server_without_login_and_sends_through_it(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    server: Server = smtp_server_factory()
    path = config_at(tmp_path)
    result = cli(
        ["init", "--config", str(path)],
        input=answers(
            "Ana Example",
            EMAIL,
            "",
            "",
            "other",
            "127.0.0.1",
            "none",
            str(server.port),
            "",
            "",
            "none",
            "",
            "n",
            "",  # no Tor
        ),
    )
    assert result.code == 0, result.output
    assert "'none' if the server takes mail without a login" in result.stderr
    assert "Store the password" not in result.stderr
    assert "To log in later, add smtp_username" in result.stderr
    text = path.read_text(encoding="utf-8")
    assert "smtp_username" not in tomllib.loads(text)
    assert "# No login" in text

    env = {"PROTEST_CONFIG": str(path), "PROTEST_LOG": str(tmp_path / "log.sqlite3")}
    campaign = make_campaign(
        tmp_path / "campaign", targets=1, calls=True, campaign_cc=(), subject=CALLS_SUBJECT
    )
    sent = cli(["send", "-t", str(campaign), "--test", "--yes", "--rate", "0"], env=env)
    assert sent.code == 0, sent.output
    assert len(server.messages) == 2
    assert server.auth_attempts == []


def test_init_says_how_to_drop_the_username_later(tmp_path: Path) -> None:
    path = config_at(tmp_path)
    result = cli(
        ["init", "--config", str(path)],
        input=answers("Ana Example", EMAIL, "", "", "posteo", "", "", "", "n", ""),
    )
    assert result.code == 0, result.output
    assert "remove smtp_username" in " ".join(result.stderr.split())
    assert 'remove smtp_username (or set it to "")' in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "value",
    [
        'quote " backslash \\ tab \t newline \n del \x7f',
        "Айнур Иванова <ainur@example.org>",
        "emoji \U0001f4e8 and \u2028 separator",
        "",
    ],
)
def test_the_toml_writer_round_trips(value: str) -> None:
    values: dict[str, str | int | bool] = {"from": value, "smtp_port": 587, "copy_me": False}
    assert tomllib.loads(dump_toml(values, comment="a\nb")) == values


def test_init_writes_where_protest_config_points(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "protest.toml"
    result = cli(
        ["init"],
        env={"PROTEST_CONFIG": str(path)},
        input=answers("Ana Example", EMAIL, "", "", "riseup", "", "", "", "n", ""),
    )
    assert result.code == 0, result.output
    assert tomllib.loads(path.read_text(encoding="utf-8"))["smtp_host"] == "mail.riseup.net"
