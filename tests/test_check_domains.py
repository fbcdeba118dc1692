"""``validate --check-domains`` against a DNS server on 127.0.0.1 (tests/dns_server.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dns_server import DnsServer
from kit import cli, line_of, write_campaign
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.commands.domains import check_campaign_domains
from protest_dispatch.net.dns import parse_server
from protest_dispatch.vocabulary import MailDomain
from smtp_server import free_port
from socks5_server import PROXY_ONLY_ADDRESS, Socks5Server

LETTER = {"a.md.j2": "Dear {{ target.name }},\n\nDrop the charges.\n"}


def _campaign(tmp_path: Path, *targets: tuple[str, str], extra: str = "") -> Path:
    lines = ["campaign:", "  id: c", '  subject: "Drop the charges"', extra, "targets:"]
    for number, (name, address) in enumerate(targets, 1):
        lines += [
            f"  - id: t{number}",
            f'    name: "{name}"',
            f"    email: {address}",
            "    template: a.md.j2",
        ]
    return write_campaign(tmp_path, "\n".join(line for line in lines if line) + "\n", LETTER)


def _check(path: Path, server: DnsServer, *args: str, expect: int) -> tuple[str, str]:
    env = {"PROTEST_DNS_TIMEOUT": "1"}
    run = cli(
        ["validate", "-t", str(path), "--check-domains", "--dns-server", server.address, *args],
        env=env,
        expect=expect,
    )
    return " ".join(run.out.split()), " ".join(run.err.split())


def _warnings(err: str) -> list[str]:
    """Each warning on one line, however the console wrapped it."""
    return [part.split(" error:")[0] for part in err.split("warning: ")[1:]]


def test_domains_that_take_mail_pass_and_each_is_asked_once(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    dns_server.zone.update(
        {"mx.example.org": "mx", "a.example.org": "a-only", "six.example.org": "aaaa-only"}
    )
    path = _campaign(
        tmp_path,
        ("Court", "court@mx.example.org"),
        ("Clerk", "clerk@MX.example.org"),
        ("Ministry", "m@a.example.org"),
        ("Office", "o@six.example.org"),
        extra="  cc: [press@mx.example.org]\n  reply_to: r@a.example.org",
    )
    out, err = _check(path, dns_server, expect=0)
    assert "Checked 3 domain(s) in DNS: 3 accept mail" in out
    assert "The campaign is valid" in out
    assert "could not check" not in err
    mx_questions = [q for q in dns_server.queries if q[1] == "MX"]
    assert sorted(mx_questions) == sorted(
        [("mx.example.org", "MX"), ("a.example.org", "MX"), ("six.example.org", "MX")]
    )


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        ("nxdomain", "does not exist (NXDOMAIN)"),
        ("null-mx", "takes no mail: it publishes a null MX (RFC 7505)"),
        ("nothing", "has no MX, A or AAAA record"),
    ],
)
def test_a_domain_that_cannot_receive_mail_is_an_error_naming_targets_and_lines(
    tmp_path: Path, dns_server: DnsServer, behaviour: str, words: str
) -> None:
    dns_server.zone.update({"ok.example.org": "mx", "bad.example.org": behaviour})
    path = _campaign(
        tmp_path,
        ("Court", "court@ok.example.org"),
        ("Ministry", "m@bad.example.org"),
        ("Office", "o@bad.example.org"),
    )
    out, err = _check(path, dns_server, expect=2)
    assert "The campaign is valid" not in out
    assert f"the domain bad.example.org {words}" in err
    assert f"line {line_of(path, 'm@bad.example.org')}, target 't2'" in err
    assert f"target 't3' email on line {line_of(path, 'o@bad.example.org')}" in err


@pytest.mark.parametrize(
    "behaviour", ["timeout", "servfail", "refused", "garbage", "truncated", "huge", "wrong-id"]
)
def test_no_usable_answer_is_a_could_not_check_warning_never_an_error(
    tmp_path: Path, dns_server: DnsServer, behaviour: str
) -> None:
    dns_server.zone.update({"ok.example.org": "mx", "odd.example.org": behaviour})
    path = _campaign(tmp_path, ("Court", "c@ok.example.org"), ("Office", "o@odd.example.org"))
    out, err = _check(path, dns_server, expect=0)
    [warning] = [w for w in _warnings(err) if "odd.example.org could" in w]
    assert "the domain odd.example.org could not check (" in warning
    assert "1 could not be checked" in out
    assert "The campaign is valid" in out


def test_a_truncated_answer_is_asked_again_over_tcp_and_counts(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    dns_server.zone["big.example.org"] = "tc-then-tcp"
    path = _campaign(tmp_path, ("Court", "c@big.example.org"))
    out, err = _check(path, dns_server, expect=0)
    assert "big.example.org" in dns_server.tcp_queries
    assert "big.example.org could" not in err
    assert "1 accept mail, 0 cannot receive mail, 0 could not be checked" in out


def test_when_no_server_answers_at_all_the_exit_code_is_75(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    dns_server.zone.update({"a.example.org": "timeout", "b.example.org": "garbage"})
    path = _campaign(tmp_path, ("Court", "c@a.example.org"), ("Office", "o@b.example.org"))
    _out, err = _check(path, dns_server, expect=75)
    assert f"No DNS server answered (127.0.0.1 port {dns_server.port})" in err


def test_free_mail_for_an_institution_is_a_warning(tmp_path: Path, dns_server: DnsServer) -> None:
    dns_server.zone.update({"gmail.com": "mx", "mail.ru": "mx"})
    path = _campaign(
        tmp_path,
        ("Supreme Court of Kazakhstan", "court.kz@gmail.com"),
        ("Ana Activist", "ana@gmail.com"),
        ("Посольство Казахстана", "embassy@mail.ru"),
    )
    _out, err = _check(path, dns_server, expect=0)
    free = [w for w in _warnings(err) if "is free mail" in w]
    assert len(free) == 2
    assert "target 't1'" in free[0]
    assert "check the address against its source" in free[0]
    assert "target 't3'" in free[1]


def test_the_dns_server_comes_from_the_environment_too(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    dns_server.zone["mx.example.org"] = "mx"
    path = _campaign(tmp_path, ("Court", "c@mx.example.org"))
    env = {"PROTEST_DNS_SERVER": dns_server.address, "PROTEST_DNS_TIMEOUT": "1"}
    run = cli(["validate", "-t", str(path), "--check-domains"], env=env, expect=0)
    assert "1 accept mail" in run.out


@pytest.mark.parametrize("value", ["dns.example.org", "127.0.0.1:0", "127.0.0.1:x", "[::1"])
def test_a_bad_dns_server_is_a_settings_error(tmp_path: Path, value: str) -> None:
    path = _campaign(tmp_path, ("Court", "c@mx.example.org"))
    run = cli(["validate", "-t", str(path), "--check-domains", "--dns-server", value], expect=2)
    assert "HOST[:PORT]" in run.err


def test_sixteen_domains_at_once_each_within_its_time_out(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    """32 domains answered after 0.3 s each take two rounds, not 32."""
    dns_server.delay = 0.3
    targets = [(f"Official {n}", f"o@d{n}.example.org") for n in range(32)]
    for n in range(32):
        dns_server.zone[f"d{n}.example.org"] = "mx"
    loaded = load_campaign(path=_campaign(tmp_path, *targets))
    started = time.monotonic()
    report = check_campaign_domains(
        loaded=loaded, server=parse_server(dns_server.address), timeout=2.0
    )
    elapsed = time.monotonic() - started
    assert {a.verdict for a in report.answers.values()} == {MailDomain.ACCEPTS_MAIL}
    assert 0.6 <= elapsed < 2.0


def test_with_a_proxy_dns_goes_over_tcp_through_it(
    tmp_path: Path, dns_server: DnsServer, socks5_proxy: Socks5Server
) -> None:
    dns_server.zone.update({"mx.example.org": "mx", "gone.example.org": "nxdomain"})
    path = _campaign(tmp_path, ("Court", "c@mx.example.org"), ("Gone", "g@gone.example.org"))
    server = f"{PROXY_ONLY_ADDRESS}:{dns_server.tcp_port}"  # only the proxy reaches it
    args = ["validate", "-t", str(path), "--check-domains", "--dns-server", server]

    run = cli([*args, "--proxy", socks5_proxy.url], expect=2)

    assert "gone.example.org does not exist" in " ".join(run.err.split())
    assert ("mx.example.org", "MX") in dns_server.queries
    assert {(c.host, c.port, c.by_name) for c in socks5_proxy.connects} == {
        (PROXY_ONLY_ADDRESS, dns_server.tcp_port, False)
    }


def test_with_a_proxy_and_no_dns_server_nothing_is_looked_up(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    path = _campaign(tmp_path, ("Court", "c@mx.example.org"))
    run = cli(
        ["validate", "-t", str(path), "--check-domains"], env={"PROTEST_PROXY": "tor"}, expect=2
    )
    assert "none is named" in " ".join(run.err.split())
    assert dns_server.queries == []


def test_with_the_proxy_down_no_domain_is_looked_up_and_the_check_says_try_later(
    tmp_path: Path, dns_server: DnsServer
) -> None:
    dns_server.zone["mx.example.org"] = "mx"
    path = _campaign(tmp_path, ("Court", "c@mx.example.org"))
    server = f"{PROXY_ONLY_ADDRESS}:{dns_server.tcp_port}"
    down = f"socks5://127.0.0.1:{free_port()}"
    args = ["validate", "-t", str(path), "--check-domains", "--dns-server", server]

    run = cli([*args, "--proxy", down], env={"PROTEST_DNS_TIMEOUT": "2"}, expect=75)

    assert f"through the proxy {down}" in " ".join(run.err.split())
    assert dns_server.queries == []
