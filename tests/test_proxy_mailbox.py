"""``protest inbox`` through a SOCKS5 proxy, against the real Dovecot.

Dovecot is reached as ``imap.proxy-only.test``, a name only the test proxy resolves,
and its certificate names it: a run that reads the mailbox proves it went through the
proxy, with the certificate verified against that name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dovecot import Dovecot
from inboxkit import Sent, values_for
from kit import cli
from mailcorpus import render
from smtp_server import free_port
from socks5_server import Socks5Server, proxy_only, running_socks5

IMAP_NAME = proxy_only("imap")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_the_mailbox_is_read_through_the_proxy_by_name(
    sent: Sent, mailbox: Dovecot, socks5_proxy: Socks5Server, security: str
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t01"])))
    port = mailbox.imaps_port if security == "tls" else mailbox.imap_port
    env = {
        **env,
        "PROTEST_IMAP_HOST": IMAP_NAME,
        "PROTEST_IMAP_PORT": str(port),
        "PROTEST_IMAP_SECURITY": security,
        "PROTEST_PROXY": socks5_proxy.url,
    }

    run = cli(["inbox", "--json"], env=env)

    assert run.code == 0, run.output
    assert [f["kind"] for f in json.loads(run.stdout)["new"]] == ["reply"]
    assert {(c.host, c.port, c.by_name) for c in socks5_proxy.connects} == {(IMAP_NAME, port, True)}


def test_a_wrong_name_through_the_proxy_is_still_refused(
    sent: Sent, mailbox: Dovecot, socks5_proxy: Socks5Server
) -> None:
    _, env, _ = sent
    wrong = proxy_only("other")  # the proxy reaches Dovecot; its certificate lacks the name
    env = {**env, "PROTEST_IMAP_HOST": wrong, "PROTEST_PROXY": socks5_proxy.url}

    run = cli(["inbox"], env=env)

    assert run.code == 1, run.output
    assert "could not be verified" in run.stderr
    assert [c.host for c in socks5_proxy.connects] == [wrong]


def test_a_proxy_that_is_down_means_try_later_and_no_direct_connection(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, _ = sent
    down = f"socks5://127.0.0.1:{free_port()}"
    env = {**env, "PROTEST_IMAP_HOST": IMAP_NAME, "PROTEST_PROXY": down}

    run = cli(["inbox"], env=env)

    assert run.code == 75, run.output
    assert f"The proxy {down} could not be reached" in " ".join(run.stderr.split())


def test_a_broken_proxy_means_try_later(sent: Sent, mailbox: Dovecot) -> None:
    _, env, _ = sent
    with running_socks5(fault="garbage") as broken:
        env = {**env, "PROTEST_IMAP_HOST": IMAP_NAME, "PROTEST_PROXY": broken.url}
        run = cli(["inbox"], env=env)

    assert run.code == 75, run.output
    assert "never goes around the proxy" in " ".join(run.stderr.split())
