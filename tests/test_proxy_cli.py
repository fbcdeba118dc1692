"""``doctor``, ``init``, ``login`` and the ``--proxy`` option with a proxy set."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from dovecot import Dovecot
from inboxkit import imap_env
from kit import FROM, answers, cli, env_for, make_campaign, send
from oauth_server import OAuthServer
from oauthkit import browser_env, device_env, virtual_pacing
from protest_dispatch.commands.login import LoginRequest, Prompts, login
from protest_dispatch.vocabulary import TokenStore
from smtp_server import Server, free_port
from socks5_server import Socks5Server, proxy_only

SMTP_NAME, IMAP_NAME = proxy_only("smtp"), proxy_only("imap")


def lines(output: str) -> dict[str, str]:
    """Check name -> its line, e.g. 'Proxy' -> '✓ Proxy: ...'."""
    return {
        line[2:].split(":", 1)[0]: line
        for line in output.splitlines()
        if line[:2] in ("✓ ", "✗ ", "! ", "- ")
    }


def doctor_env(server: Server, tmp_path: Path, **extra: str) -> dict[str, str]:
    assert server.ca_file is not None
    return {
        "PROTEST_FROM": FROM,
        "PROTEST_SMTP_HOST": SMTP_NAME,
        "PROTEST_SMTP_PORT": str(server.port),
        "PROTEST_SMTP_SECURITY": "starttls",
        "PROTEST_SMTP_CA_FILE": str(server.ca_file),
        "PROTEST_LOG": str(tmp_path / "log.sqlite3"),
        **extra,
    }


def test_doctor_says_which_way_each_hop_goes_and_checks_each_through_the_proxy(
    tmp_path: Path,
    smtp_server_factory: Callable[..., Server],
    mailbox: Dovecot,
    socks5_proxy: Socks5Server,
) -> None:
    server = smtp_server_factory(tls="starttls")
    env = doctor_env(
        server,
        tmp_path,
        **imap_env(mailbox, PROTEST_IMAP_HOST=IMAP_NAME),
    )

    run = cli(["doctor", "--timeout", "5", "--proxy", socks5_proxy.url], env=env)

    assert run.code == 0, run.output
    found = lines(run.out)
    assert (
        f"connections go through {socks5_proxy.url}: SMTP {SMTP_NAME}:{server.port} through it;"
        in (" ".join(found["Proxy"].split()))
    )
    assert f"IMAP {IMAP_NAME}:{mailbox.imaps_port} through it" in " ".join(found["Proxy"].split())
    assert "resolved by the proxy" in found["Server name (DNS)"]
    assert "through the proxy" in found["Connection"]
    assert found["Greeting, TLS and certificate"].startswith("✓")
    assert "connected, through the proxy; TLS" in found["IMAP connection, TLS and certificate"]
    assert found["IMAP login"].startswith("✓")
    assert {c.host for c in socks5_proxy.connects} == {SMTP_NAME, IMAP_NAME}
    assert server.messages == []


def test_doctor_names_tor_and_a_local_server_goes_direct(
    tmp_path: Path, smtp_server: Server, socks5_proxy: Socks5Server
) -> None:
    tor = f"tor://127.0.0.1:{socks5_proxy.port}"
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3", PROTEST_PROXY=tor)

    run = cli(["doctor", "--timeout", "5"], env=env)

    assert run.code == 0, run.output
    proxy_line = " ".join(lines(run.out)["Proxy"].split())
    assert f"connections go through socks5://127.0.0.1:{socks5_proxy.port} (Tor)" in proxy_line
    assert f"SMTP 127.0.0.1:{smtp_server.port} directly (this machine)" in proxy_line
    assert socks5_proxy.accepted == 0


def test_doctor_with_the_proxy_down_fails_at_the_connection_with_75(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    server = smtp_server_factory(tls="starttls")
    down = f"socks5://127.0.0.1:{free_port()}"

    run = cli(["doctor", "--timeout", "5"], env=doctor_env(server, tmp_path, PROTEST_PROXY=down))

    assert run.code == 75, run.output
    found = lines(run.out)
    assert found["Connection"].startswith("✗")
    assert f"The proxy {down} could not be reached" in " ".join(run.out.split())
    assert found["Greeting, TLS and certificate"].startswith("-")
    assert server.connections == 0


def test_proxy_none_on_the_command_line_turns_off_the_files_proxy(
    tmp_path: Path, smtp_server: Server
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'proxy = "socks5://127.0.0.1:{free_port()}"\n', encoding="utf-8")
    config.chmod(0o600)
    env = env_for(
        smtp_server,
        log=tmp_path / "log.sqlite3",
        PROTEST_SMTP_HOST="localhost",
        PROTEST_CONFIG=str(config),
    )
    campaign = make_campaign(tmp_path / "c", targets=1)

    run = send(campaign, "--proxy", "none", env=env)

    assert run.code == 0, run.output
    assert len(smtp_server.messages) == 1
    assert "Proxy" not in lines(cli(["doctor", "--proxy", "none"], env=env).out)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://127.0.0.1:3128", "may log"),
        ("socks5://127.0.0.1", "port"),
        ("socks5:/broken", "HOST:PORT"),
    ],
)
def test_a_bad_proxy_is_exit_2_before_anything_connects(
    tmp_path: Path, smtp_server: Server, value: str, says: str
) -> None:
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    campaign = make_campaign(tmp_path / "c", targets=1)

    for run in (
        send(campaign, "--proxy", value, env=env),
        send(campaign, "--dry-run", env={**env, "PROTEST_PROXY": value}),
        cli(["inbox", "--proxy", value], env=env),
    ):
        assert run.code == 2, run.output
        assert says in " ".join(run.stderr.split())
    assert smtp_server.connections == 0


def test_init_asks_about_tor_and_writes_proxy_tor(tmp_path: Path) -> None:
    path = tmp_path / "protest" / "config.toml"

    run = cli(
        ["init", "--config", str(path)],
        input=answers("Ana Example", "ana@example.org", "", "", "riseup", "", "", "", "n", "y"),
    )

    assert run.code == 0, run.output
    assert "Do you need to hide your IP address from your mail provider? (Tor)" in run.stderr
    assert tomllib.loads(path.read_text(encoding="utf-8"))["proxy"] == "tor"


def test_login_with_a_proxy_and_no_device_flow_warns_and_opens_no_browser(
    tmp_path: Path,
    oauth_server: OAuthServer,
    socks5_proxy: Socks5Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "PROTEST_FROM": FROM,
        "PROTEST_SMTP_HOST": "127.0.0.1",
        "PROTEST_SMTP_USERNAME": "user@example.org",
        "PROTEST_SMTP_AUTH": "xoauth2",
        **browser_env(oauth_server),
    }.items():
        monkeypatch.setenv(name, value)
    warned: list[tuple[str, bool]] = []
    opened: list[str] = []

    def user_opens_it_in_a_browser_of_their_choice(url: str) -> None:
        threading.Thread(target=oauth_server.follow_authorize, args=(url,), daemon=True).start()

    result = login(
        request=LoginRequest(store=TokenStore.FILE, proxy=socks5_proxy.url),
        prompts=Prompts(
            device_code=lambda _: None,
            browser_url=user_opens_it_in_a_browser_of_their_choice,
            outside_proxy=lambda proxy, device: warned.append((proxy, device)),
            open_browser=opened.append,
        ),
    )

    assert result.flow == "browser"
    assert warned == [(socks5_proxy.url, False)]
    assert opened == []  # the system browser would have shown the provider our address


def test_login_with_a_proxy_and_a_device_flow_says_where_to_open_the_page(
    tmp_path: Path, oauth_server_factory: Callable[..., OAuthServer], socks5_proxy: Socks5Server
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=1)
    env = {
        "PROTEST_FROM": FROM,
        "PROTEST_SMTP_HOST": "127.0.0.1",
        "PROTEST_SMTP_USERNAME": "user@example.org",
        "PROTEST_SMTP_AUTH": "xoauth2",
        "PROTEST_PROXY": socks5_proxy.url,
        **device_env(oauth),
    }

    run = cli(["login"], env=env, pacing=virtual_pacing(oauth))

    assert run.code == 0, run.output
    assert "open it in Tor Browser" in " ".join(run.stderr.split())
    assert socks5_proxy.accepted == 0  # the endpoints are on 127.0.0.1: reached directly
