"""The proxy setting and the connections it governs: parsing, routes, failing closed."""

from __future__ import annotations

import asyncio
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator

import httpx2
import pytest

from protest_dispatch.errors import ConfigError, ProxyUnavailableError
from protest_dispatch.net.connect import open_connection, open_proxied
from protest_dispatch.net.proxy import RUN_ISOLATION, Proxy, parse_proxy, route
from protest_dispatch.net.transport import async_http_transport, http_transport
from protest_dispatch.settings.config import Config
from protest_dispatch.vocabulary import ExitCode, Route
from socks5_server import Socks5Server, proxy_only, running_socks5


@pytest.fixture
def greeter() -> Iterator[int]:
    """A server on 127.0.0.1 that says hello and hangs up; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with client:
                client.sendall(b"hello\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


# -- the setting ------------------------------------------------------------------------------


def test_a_socks5_url_names_host_port_and_login() -> None:
    proxy = parse_proxy("socks5://ana:s%40cret@proxy.example.org:1080")

    assert proxy == Proxy(host="proxy.example.org", port=1080, username="ana", password="s@cret")
    assert str(proxy) == "socks5://proxy.example.org:1080"
    assert "s@cret" not in repr(proxy)


def test_tor_is_the_local_tor_socks_port_with_this_runs_user_name() -> None:
    proxy = parse_proxy("tor")

    assert proxy is not None
    assert (proxy.host, proxy.port, proxy.tor) == ("127.0.0.1", 9050, True)
    assert proxy.username == RUN_ISOLATION
    assert RUN_ISOLATION.startswith("protest-")
    assert len(RUN_ISOLATION) == len("protest-") + 16
    assert str(proxy) == "socks5://127.0.0.1:9050 (Tor)"
    assert parse_proxy("tor://10.152.152.10:9150") == Proxy(
        host="10.152.152.10", port=9150, username=RUN_ISOLATION, password="protest", tor=True
    )


@pytest.mark.parametrize("value", ["none", "NONE", " none "])
def test_none_means_no_proxy(value: str) -> None:
    assert parse_proxy(value) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://127.0.0.1:8080", "may log"),
        ("https://proxy.example.org:443", "may log"),
        ("socks4://127.0.0.1:1080", "SOCKS5"),
        ("ftp://127.0.0.1:21", "must be"),
        ("127.0.0.1:9050", "must be"),
        ("socks5://127.0.0.1", "port"),
        ("socks5://127.0.0.1:0", "port"),
        ("socks5://127.0.0.1:99999", "port"),
        ("socks5://:9050", "host"),
        ("socks5://127.0.0.1:9050/path", "no path"),
        ("socks5://ana@127.0.0.1:9050", "both"),
        ("socks5://an%C3%A4:pw@127.0.0.1:9050", "ASCII"),
        ("tor://me:pw@127.0.0.1:9050", "user name"),
    ],
)
def test_a_bad_proxy_setting_is_refused_with_the_reason(value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_proxy(value)


def test_a_password_on_the_command_line_is_refused() -> None:
    config = Config.load(env={}).with_options(proxy="socks5://ana:hunter22@127.0.0.1:1080")

    with pytest.raises(ConfigError, match="--proxy holds the proxy's password") as caught:
        config.proxy()

    assert "hunter22" not in str(caught.value)
    assert Config.load(env={"PROTEST_PROXY": "socks5://ana:hunter22@127.0.0.1:1080"}).proxy()


def test_a_bad_proxy_setting_stops_with_exit_2_naming_the_key_and_hiding_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.load(env={"PROTEST_PROXY": "http://ana:hunter22@127.0.0.1:8080"})

    assert caught.value.exit_code == ExitCode.INVALID
    assert caught.value.key == "proxy"
    assert "PROTEST_PROXY" in str(caught.value)
    assert "hunter22" not in str(caught.value)


def test_the_option_wins_and_none_turns_the_files_proxy_off() -> None:
    config = Config.load(env={"PROTEST_PROXY": "socks5://127.0.0.1:1080"})

    assert config.proxy() == Proxy(host="127.0.0.1", port=1080)
    assert config.with_options(proxy="none").proxy() is None


# -- routes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST.", "::ffff:127.0.0.1"],
)
def test_this_machine_is_reached_directly_even_with_a_proxy(host: str) -> None:
    assert route(Proxy(host="127.0.0.1", port=9050), host) is Route.LOCAL


@pytest.mark.parametrize(
    "host",
    ["smtp.example.org", "example.onion", "10.0.0.1", "localhost.example.org", "127.0.0.1.nip.io"],
)
def test_every_other_host_goes_through_the_proxy(host: str) -> None:
    assert route(Proxy(host="127.0.0.1", port=9050), host) is Route.PROXY
    assert route(None, host) is Route.DIRECT


# -- connections ------------------------------------------------------------------------------


def test_a_name_goes_to_the_proxy_unresolved(socks5_proxy: Socks5Server, greeter: int) -> None:
    proxy = parse_proxy(socks5_proxy.url)

    with open_connection(proxy, proxy_only("smtp"), greeter, timeout=5) as sock:
        assert sock.recv(7) == b"hello\r\n"

    [connect] = socks5_proxy.connects
    assert (connect.host, connect.port, connect.by_name) == (proxy_only("smtp"), greeter, True)


def test_an_onion_name_goes_to_the_proxy_as_a_name(socks5_proxy: Socks5Server) -> None:
    proxy = parse_proxy(socks5_proxy.url)
    onion = "expyuzz4wqqyqhjn.onion"

    with pytest.raises(ProxyUnavailableError, match="could not reach"):
        open_connection(proxy, onion, 587, timeout=5)

    assert [(c.host, c.by_name) for c in socks5_proxy.connects] == [(onion, True)]


def test_tor_offers_this_runs_user_name(socks5_proxy: Socks5Server, greeter: int) -> None:
    proxy = parse_proxy(f"tor://127.0.0.1:{socks5_proxy.port}")

    for _ in range(2):
        open_connection(proxy, proxy_only("smtp"), greeter, timeout=5).close()

    assert socks5_proxy.users() == {RUN_ISOLATION}


def test_the_async_connection_goes_through_the_proxy_too(
    socks5_proxy: Socks5Server, greeter: int
) -> None:
    proxy = parse_proxy(socks5_proxy.url)
    assert proxy is not None

    async def hello() -> bytes:
        sock = await open_proxied(proxy, proxy_only("smtp"), greeter, timeout=5)
        reader, writer = await asyncio.open_connection(sock=sock)
        line = await reader.readline()
        writer.close()
        return line

    assert asyncio.run(hello()) == b"hello\r\n"
    assert [c.host for c in socks5_proxy.connects] == [proxy_only("smtp")]


def test_loopback_goes_direct_and_the_proxy_sees_nothing(
    socks5_proxy: Socks5Server, greeter: int
) -> None:
    with open_connection(parse_proxy(socks5_proxy.url), "127.0.0.1", greeter, timeout=5) as sock:
        assert sock.recv(7) == b"hello\r\n"

    assert socks5_proxy.accepted == 0


@pytest.mark.parametrize("fault", ["refuse", "garbage", "close", "close-after-method"])
def test_a_broken_proxy_means_try_later_and_no_direct_connection(fault: str, greeter: int) -> None:
    with running_socks5(fault=fault) as broken:  # type: ignore[arg-type]
        proxy = parse_proxy(broken.url)
        with pytest.raises(ProxyUnavailableError) as caught:
            open_connection(proxy, proxy_only("smtp"), greeter, timeout=5)

    assert caught.value.exit_code == ExitCode.TEMPFAIL
    assert f"The proxy {broken.url}" in caught.value.message
    assert "never goes around the proxy" in caught.value.message


def test_a_proxy_that_is_down_means_try_later() -> None:
    port = _free_port()
    with pytest.raises(ProxyUnavailableError, match="could not be reached") as caught:
        open_connection(parse_proxy(f"tor://127.0.0.1:{port}"), "smtp.example.org", 587, timeout=5)

    assert caught.value.exit_code == ExitCode.TEMPFAIL
    assert "systemctl start tor" in str(caught.value)


def test_a_proxy_that_wants_a_login_not_given_is_a_setting_to_fix(greeter: int) -> None:
    with running_socks5(auth=("ana", "pw")) as strict:
        with pytest.raises(ConfigError, match="gives none") as caught:
            open_connection(parse_proxy(strict.url), proxy_only("smtp"), greeter, timeout=5)
        wrong = f"socks5://ana:nope@127.0.0.1:{strict.port}"
        with pytest.raises(ConfigError, match="refused the user name"):
            open_connection(parse_proxy(wrong), proxy_only("smtp"), greeter, timeout=5)
        good = f"socks5://ana:pw@127.0.0.1:{strict.port}"
        with open_connection(parse_proxy(good), proxy_only("smtp"), greeter, timeout=5) as sock:
            assert sock.recv(7) == b"hello\r\n"

    assert caught.value.exit_code == ExitCode.INVALID
    assert caught.value.key == "proxy"


def test_tor_refusing_port_25_says_to_use_587_or_465() -> None:
    with running_socks5(fault="refuse") as tor, pytest.raises(ProxyUnavailableError) as caught:
        open_connection(
            parse_proxy(f"tor://127.0.0.1:{tor.port}"), "smtp.example.org", 25, timeout=5
        )

    assert "587" in str(caught.value.hint)
    assert "465" in str(caught.value.hint)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- HTTP -------------------------------------------------------------------------------------


@pytest.fixture
def web() -> Iterator[int]:
    """A plain HTTP server on 127.0.0.1 answering every GET with 'hello'."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_goes_through_the_proxy_blocking_and_async(
    socks5_proxy: Socks5Server, web: int
) -> None:
    proxy = parse_proxy(socks5_proxy.url)
    url = f"http://{proxy_only('web')}:{web}/"
    verify = ssl.create_default_context()

    with httpx2.Client(transport=http_transport(proxy, verify=verify), trust_env=False) as client:
        assert client.get(url).text == "hello"

    async def fetch() -> str:
        transport = async_http_transport(proxy, verify=verify)
        async with httpx2.AsyncClient(transport=transport, trust_env=False) as client:
            return (await client.get(url)).text

    assert asyncio.run(fetch()) == "hello"
    assert [(c.host, c.by_name) for c in socks5_proxy.connects] == [(proxy_only("web"), True)] * 2


def test_http_with_the_proxy_down_fails_closed(web: int) -> None:
    proxy = parse_proxy(f"socks5://127.0.0.1:{_free_port()}")
    url = f"http://{proxy_only('web')}:{web}/"
    verify = ssl.create_default_context()

    with (
        httpx2.Client(transport=http_transport(proxy, verify=verify), trust_env=False) as client,
        pytest.raises(ProxyUnavailableError),
    ):
        client.get(url)

    async def fetch() -> None:
        transport = async_http_transport(proxy, verify=verify)
        async with httpx2.AsyncClient(transport=transport, trust_env=False) as client:
            await client.get(url)

    with pytest.raises(ProxyUnavailableError):
        asyncio.run(fetch())
