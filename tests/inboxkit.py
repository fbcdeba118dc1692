"""Shared by the ``protest inbox`` tests: letters really sent, and the IMAP settings.

A pytest plugin (see conftest.py): the ``sent`` fixture sends three letters into the
test's ``log`` (which each test module defines) through the SMTP test server.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dovecot import Dovecot
from kit import SENDER, by_target, cli, env_for, log_rows, make_campaign, send
from smtp_server import Server

Sent = tuple[Path, dict[str, str], dict[str, Mapping[str, Any]]]
"""(campaign file, environment of a run, send log rows by target)."""


def imap_env(dovecot: Dovecot, **extra: str) -> dict[str, str]:
    env = {
        "PROTEST_IMAP_HOST": dovecot.host,
        "PROTEST_IMAP_PORT": str(dovecot.imaps_port),
        "PROTEST_IMAP_SECURITY": "tls",
        "PROTEST_IMAP_CA_FILE": str(dovecot.ca_file),
        "PROTEST_IMAP_USERNAME": dovecot.user,
        "PROTEST_IMAP_PASSWORD": dovecot.password,
    }
    env.update(extra)
    return env


def send_letters(
    root: Path, *, log: Path, smtp_server: Server, mailbox: Dovecot, targets: int = 3
) -> Sent:
    """``targets`` letters sent for real through the test SMTP server."""
    campaign = make_campaign(root, targets=targets)
    env = {**env_for(smtp_server, log=log), **imap_env(mailbox)}
    run = send(campaign, env=env)
    assert run.code == 0, run.output
    return campaign, env, by_target(log_rows(env))


@pytest.fixture
def sent(tmp_path: Path, log: Path, smtp_server: Server, mailbox: Dovecot) -> Sent:
    return send_letters(tmp_path / "c", log=log, smtp_server=smtp_server, mailbox=mailbox)


def values_for(row: Mapping[str, Any]) -> dict[str, str]:
    """Corpus placeholders that make a rendered case answer this letter."""
    return {
        "message_id": row["message_id"],
        "to": row["to"],
        "copy": row["cc"][0],
        "sender": SENDER,
    }


def read_inbox(env: Mapping[str, str]) -> str:
    """``protest inbox``, which must succeed; what it printed."""
    run = cli(["inbox"], env=env)
    assert run.code == 0, run.output
    return run.output


def age_letters(log: Path, *, days: int) -> None:
    """Pretend the letters went out ``days`` days ago (the send log's own time column)."""
    with sqlite3.connect(log) as conn:
        conn.execute(
            "UPDATE letters SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)",
            (f"-{days} days",),
        )
