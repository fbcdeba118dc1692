"""``protest send`` through a SOCKS5 proxy: every letter, no name resolved here, failing closed.

The SMTP server is reached as ``smtp.proxy-only.test``, a name only the test proxy
resolves, so a letter that arrives proves its connection went through the proxy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kit import env_for, log_rows, make_campaign, official, send, subprocess_env
from smtp_server import Server, ServerFactory, free_port
from socks5_server import Socks5Server, proxy_only, running_socks5

pytestmark = pytest.mark.usefixtures("fast_retries")

SMTP_NAME = proxy_only("smtp")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "log.sqlite3"


def proxied_env(server: Server, proxy: str, *, log: Path, **extra: str) -> dict[str, str]:
    return env_for(server, log=log, PROTEST_SMTP_HOST=SMTP_NAME, PROTEST_PROXY=proxy, **extra)


def test_every_letter_goes_through_the_proxy_by_name(
    tmp_path: Path, log: Path, smtp_server: Server, socks5_proxy: Socks5Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3)

    run = send(campaign, env=proxied_env(smtp_server, socks5_proxy.url, log=log))

    assert run.code == 0, run.output
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [official(n) for n in (1, 2, 3)]
    assert socks5_proxy.connects, "no connection went through the proxy"
    assert {(c.host, c.port, c.by_name) for c in socks5_proxy.connects} == {
        (SMTP_NAME, smtp_server.port, True)
    }
    assert smtp_server.connections == len(socks5_proxy.connects)


def test_nothing_about_the_proxy_reaches_the_letter_or_the_send_log(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1)
    with running_socks5() as proxy:
        url = f"tor://127.0.0.1:{proxy.port}"
        run = send(campaign, env=proxied_env(smtp_server, url, log=log))
        [user] = proxy.users()

    assert run.code == 0, run.output
    [message] = smtp_server.messages
    raw = message.data.decode("utf-8", "replace")
    rows = str(log_rows(env_for(smtp_server, log=log)))
    for trace in (str(proxy.port), "socks", "tor", str(user)):
        assert trace not in raw.lower()
        assert trace not in rows.lower()
    assert set(smtp_server.helo_names) == {"example.org"}
    assert log.read_bytes().find(str(user).encode()) == -1


def test_a_proxy_that_is_down_defers_the_run_and_nothing_connects(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3)
    down = f"socks5://127.0.0.1:{free_port()}"
    # 127.0.0.1 would be direct: the server is named so only a proxy could reach it
    run = send(campaign, env=proxied_env(smtp_server, down, log=log))

    assert run.code == 75, run.output
    assert f"The proxy {down} could not be reached" in " ".join(run.stderr.split())
    assert smtp_server.connections == 0
    assert [
        r for r in log_rows(env_for(smtp_server, log=log)) if r["status"] in ("sent", "failed")
    ] == []

    later = send(campaign, env=env_for(smtp_server, log=log))
    assert later.code == 0, later.output
    assert len(smtp_server.messages) == 3


@pytest.mark.parametrize("fault", ["refuse", "garbage", "close", "close-after-method"])
def test_a_broken_proxy_defers_the_run_and_nothing_goes_around_it(
    tmp_path: Path, log: Path, smtp_server: Server, fault: str
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    with running_socks5(fault=fault) as broken:  # type: ignore[arg-type]
        run = send(campaign, env=proxied_env(smtp_server, broken.url, log=log))

    assert run.code == 75, run.output
    assert "never goes around the proxy" in " ".join(run.stderr.split())
    assert smtp_server.connections == 0
    assert smtp_server.messages == []


def test_a_server_on_this_machine_is_reached_directly(
    tmp_path: Path, log: Path, smtp_server: Server, socks5_proxy: Socks5Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(smtp_server, log=log, PROTEST_PROXY=socks5_proxy.url)  # 127.0.0.1

    run = send(campaign, env=env)

    assert run.code == 0, run.output
    assert len(smtp_server.messages) == 1
    assert socks5_proxy.accepted == 0


def test_the_certificate_is_verified_against_the_real_name_through_the_proxy(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory, socks5_proxy: Socks5Server
) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True)
    assert server.ca_file is not None
    campaign = make_campaign(tmp_path / "c", targets=1)
    tls = {"PROTEST_SMTP_SECURITY": "starttls", "PROTEST_SMTP_CA_FILE": str(server.ca_file)}

    good = send(campaign, env=proxied_env(server, socks5_proxy.url, log=log, **tls))
    assert good.code == 0, good.output
    assert len(server.messages) == 1
    assert server.messages[0].tls

    wrong = proxy_only("other")  # the proxy reaches the same server; its certificate lacks the name
    other_log = tmp_path / "other.sqlite3"
    env = env_for(
        server, log=other_log, PROTEST_SMTP_HOST=wrong, PROTEST_PROXY=socks5_proxy.url, **tls
    )
    refused = send(campaign, env=env)
    assert refused.code == 1, refused.output
    assert "certificate" in refused.stderr
    assert len(server.messages) == 1
    assert wrong in {c.host for c in socks5_proxy.connects}


@pytest.mark.slow
def test_tor_gives_each_run_a_fresh_socks_user_shared_by_its_connections(
    tmp_path: Path, log: Path, smtp_server: Server, socks5_proxy: Socks5Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=4)
    url = f"tor://127.0.0.1:{socks5_proxy.port}"
    users = []
    for run_number in (1, 2):
        before = len(socks5_proxy.connects)
        env = proxied_env(smtp_server, url, log=log, PROTEST_SMTP_PORT=str(smtp_server.port))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "protest_dispatch",
                "send",
                "-t",
                str(campaign),
                "--yes",
                "--rate",
                "0",
                "--concurrency",
                "2",
                "--limit",
                "2",
            ],
            env=subprocess_env(env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (run_number, done.stdout, done.stderr)
        assert len(socks5_proxy.connects[before:]) == 2  # one per connection (--concurrency 2)
        run_users = {c.user for c in socks5_proxy.connects[before:]}
        assert len(run_users) == 1, run_users
        users.append(run_users.pop())

    assert len(smtp_server.messages) == 4
    assert users[0] != users[1]
    assert all(u is not None and u.startswith("protest-") for u in users)
