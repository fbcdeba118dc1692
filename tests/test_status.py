"""``protest status`` after real sends to 127.0.0.1 that went every possible way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kit import CALLS_SUBJECT, cli, env_for, make_campaign, official, send
from smtp_server import Server


def table_row(stdout: str, label: str) -> str:
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0] == label:
            return cells[1]
    raise AssertionError(f"no row {label!r} in:\n{stdout}")


@pytest.fixture
def history(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> tuple[Path, dict[str, str]]:
    """t01 sent, t02 failed, t03 deferred, t04 uncertain, desk not sent; court on voicemail,
    admin reached."""
    campaign = make_campaign(
        tmp_path / "c", targets=4, calls=True, campaign_cc=(), subject=CALLS_SUBJECT
    )
    log = tmp_path / "log.sqlite3"
    good = smtp_server_factory(
        refuse={official(2): (550, "5.1.1 no such user")}, greylist=9, greylist_only={official(3)}
    )
    env = env_for(good, log=log)
    first = send(
        campaign, "--only", "t01", "--only", "t02", "--only", "t03", "--attempts", "1", env=env
    )
    assert first.code == 1, first.output
    dropping = smtp_server_factory(drop_after_data=True)
    second = send(campaign, "--only", "t04", env=env_for(dropping, log=log))
    assert second.code == 1, second.output
    for target, outcome in (("court", "voicemail"), ("admin", "reached")):
        assert cli(["called", target, "--outcome", outcome, "-t", str(campaign)], env=env).code == 0
    return campaign, env


def test_status_accounts_for_every_letter_and_call(history: tuple[Path, dict[str, str]]) -> None:
    campaign, env = history
    result = cli(["status", "-t", str(campaign)], env=env)
    assert result.code == 0, result.output
    out = result.stdout
    assert "Campaign free-them, sent as ana@example.org" in out
    assert table_row(out, "sent") == "1"
    assert table_row(out, "deferred") == "1"
    assert table_row(out, "failed") == "1"
    assert table_row(out, "uncertain") == "1"
    assert table_row(out, "not sent yet") == "1"
    assert table_row(out, "calls made") == "2 (voicemail 1, reached 1)"
    assert table_row(out, "calls to make") == "1"
    assert "next run" in out  # when the deferred letter goes
    assert "5.1.1 no such user" in out  # why the failed one failed
    assert "--retry-failed" in result.stderr
    assert "--retry-uncertain" in result.stderr
    assert "Sent folder" in result.stderr
    assert "desk" in result.stderr  # the letter not sent yet
    assert "Calls to make: court." in result.stderr


def test_status_says_when_the_sending_limit_frees_up(history: tuple[Path, dict[str, str]]) -> None:
    campaign, env = history
    roomy = cli(["status", "-t", str(campaign)], env={**env, "PROTEST_LIMIT_PER_HOUR": "100"})
    assert "sending limit" not in roomy.stderr
    full = cli(["status", "-t", str(campaign)], env={**env, "PROTEST_LIMIT_PER_HOUR": "2"})
    assert "Your provider's sending limit is reached until" in full.stderr


def test_status_from_the_log_alone(
    history: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, env = history
    monkeypatch.chdir(tmp_path)  # no targets.yaml here
    result = cli(["status"], env=env)
    assert result.code == 0, result.output
    assert table_row(result.stdout, "failed") == "1"
    assert "not sent yet" not in result.stdout
    assert "calls to make" not in result.stdout

    other = cli(["status", "--campaign", "another-one"], env=env)
    assert other.code == 0
    assert "Nothing recorded yet for ana@example.org" in other.stdout


def test_status_before_anything_was_sent(tmp_path: Path) -> None:
    campaign = make_campaign(
        tmp_path / "c", targets=2, calls=True, campaign_cc=(), subject=CALLS_SUBJECT
    )
    log = tmp_path / "log.sqlite3"
    result = cli(["status", "-t", str(campaign)], env=env_for(None, log=log))
    assert result.code == 0, result.output
    assert table_row(result.stdout, "not sent yet") == "3"
    assert table_row(result.stdout, "calls to make") == "2"
    assert not log.exists()
