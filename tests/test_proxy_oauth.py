"""The OAuth endpoints through the SOCKS5 proxy: the device sign-in and each token refresh.

The authorization server speaks HTTPS as ``oauth.proxy-only.test`` (a name only the
test proxy resolves, on a certificate from a throwaway CA that ``SSL_CERT_FILE``
trusts). The XOAUTH2 SMTP server stays on 127.0.0.1, which is reached directly.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from kit import cli, make_campaign, send
from oauth_server import OAuthServer, running_oauth_server
from oauthkit import virtual_pacing, xoauth2_env
from smtp_server import free_port
from socks5_server import Socks5Server, proxy_only
from xoauth2_smtp import XOAuth2Server

OAUTH_NAME = proxy_only("oauth")


@pytest.fixture
def oauth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OAuthServer]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(OAUTH_NAME).configure_cert(context)
    ca_file = tmp_path / "oauth-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with running_oauth_server(tls=context, interval=0, auto_approve_after=1) as server:
        server.host = OAUTH_NAME  # its endpoints' URLs name it so
        yield server


def test_sign_in_and_every_refresh_go_through_the_proxy(
    tmp_path: Path,
    oauth: OAuthServer,
    xoauth2_smtp_factory: Callable[..., XOAuth2Server],
    socks5_proxy: Socks5Server,
) -> None:
    smtp = xoauth2_smtp_factory(oauth)
    env = xoauth2_env(oauth, smtp, log=tmp_path / "log.sqlite3", PROTEST_PROXY=socks5_proxy.url)

    signed = cli(["login"], env=env, pacing=virtual_pacing(oauth))
    assert signed.code == 0, signed.output
    at_login = len(socks5_proxy.connects)
    sent = send(make_campaign(tmp_path / "c", targets=2), env=env)

    assert sent.code == 0, sent.output
    assert len(smtp.messages) == 2
    assert oauth.refresh_count >= 1
    assert at_login >= 2  # the device authorization and the token polls
    assert len(socks5_proxy.connects) > at_login  # the refresh
    assert {(c.host, c.port, c.by_name) for c in socks5_proxy.connects} == {
        (OAUTH_NAME, oauth.port, True)
    }


def test_an_unreachable_proxy_defers_the_run_at_the_token_refresh(
    tmp_path: Path,
    oauth: OAuthServer,
    xoauth2_smtp_factory: Callable[..., XOAuth2Server],
    socks5_proxy: Socks5Server,
) -> None:
    smtp = xoauth2_smtp_factory(oauth)
    log = tmp_path / "log.sqlite3"
    signed = cli(
        ["login"],
        env=xoauth2_env(oauth, smtp, log=log, PROTEST_PROXY=socks5_proxy.url),
        pacing=virtual_pacing(oauth),
    )
    assert signed.code == 0, signed.output
    refreshes = oauth.refresh_count
    down = f"socks5://127.0.0.1:{free_port()}"

    sent = send(
        make_campaign(tmp_path / "c", targets=2),
        env=xoauth2_env(oauth, smtp, log=log, PROTEST_PROXY=down),
    )

    assert sent.code == 75, sent.output
    assert f"The proxy {down} could not be reached" in " ".join(sent.stderr.split())
    assert oauth.refresh_count == refreshes
    assert smtp.messages == []
