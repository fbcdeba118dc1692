"""``protest doctor``: every step between the settings and a logged-in SMTP session, checked.

It stops short of MAIL FROM, so nothing is ever sent. Each step that fails says
what it means and how to fix it; later steps that depend on it are skipped, so
the first failure is the one to fix. The exit code is the first failure's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path

from protest_dispatch.commands.checks import Check, Report, failed, skipped
from protest_dispatch.commands.doctor_imap import imap_checks
from protest_dispatch.commands.doctor_proxy import connect_through, resolved_by_proxy, routes
from protest_dispatch.commands.log_access import log_path
from protest_dispatch.delivery.quota import DAY, HOUR, Quota
from protest_dispatch.errors import ConfigError, ProtestError, SendLogError
from protest_dispatch.mail.smtp import SmtpConnection, check_plaintext_allowed
from protest_dispatch.net.loopback import lookup_addresses
from protest_dispatch.net.proxy import route
from protest_dispatch.sendlog.store import SendLog
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.smtp import SmtpOverrides, SmtpSettings, smtp_settings
from protest_dispatch.vocabulary import AuthMode, CheckStatus, ExitCode, Route, Security

DOCTOR_TIMEOUT = 10.0
NETWORK_STEPS = ("Server name (DNS)", "Connection", "Greeting, TLS and certificate", "Login (AUTH)")


@dataclass(frozen=True)
class DoctorRequest:
    config_path: Path | None = None
    from_: str | None = None
    log: Path | None = None
    smtp: SmtpOverrides = field(default_factory=SmtpOverrides)
    proxy: str | None = None
    timeout: float = DOCTOR_TIMEOUT


def run(*, request: DoctorRequest) -> Report:
    report = Report()
    try:
        config = Config.load(path=request.config_path).with_options(proxy=request.proxy)
    except ConfigError as exc:
        report.checks += [
            failed("Config file", exc),
            *skipped(("Sender", "SMTP settings", "Send log", *NETWORK_STEPS)),
        ]
        return report
    report.checks.append(_config_file(config))
    sender_check, sender_domain, sender_email = _sender(config, request.from_)
    report.checks.append(sender_check)
    settings_check, settings = _settings(config, request, helo_name=sender_domain)
    report.checks.append(settings_check)
    report.checks.append(_send_log(config, request.log, sender=sender_email))
    proxy = config.proxy()
    if proxy is not None:
        report.checks.append(routes(config, proxy, smtp=settings, sender=sender_email or ""))
    if settings is None or sender_domain is None:
        report.checks += skipped(NETWORK_STEPS)
    else:
        can_login = True
        if settings.auth is AuthMode.XOAUTH2:
            token_check, settings = _token(config, settings)
            report.checks.append(token_check)
            can_login = token_check.status != CheckStatus.FAIL
        settings = dataclasses.replace(settings, timeout=request.timeout)
        report.checks += _network(settings, can_login=can_login)
    report.checks += imap_checks(config, sender_email=sender_email, timeout=request.timeout)
    return report


def _token(config: Config, settings: SmtpSettings) -> tuple[Check, SmtpSettings]:
    """The token source works: the command prints a token, or the sign-in renews."""
    from protest_dispatch.oauth.source import (
        CommandTokenSource,
        StoredTokenSource,
        with_token_source,
    )

    name = "OAuth token"
    try:
        settings = with_token_source(settings, config, renew=False)
        source = settings.token
        if isinstance(source, StoredTokenSource):
            source.current()
            where = f"the sign-in stored by `protest login` renewed ({source.store.entry})"
            failures = "; ".join(source.store.keyring_failures)
            if failures:
                return Check(
                    name,
                    CheckStatus.WARN,
                    f"XOAUTH2: {where} from {source.store.file}, as the system keyring "
                    f"failed ({failures}).",
                    "Repair or unlock the keyring, or keep the file: run `protest login "
                    "--store file` to say so.",
                ), settings
        else:
            assert isinstance(source, CommandTokenSource), "xoauth2 always gets a source"
            source.current()
            where = "the token command printed a token"
    except ProtestError as exc:
        return failed(name, exc), settings
    return Check(name, CheckStatus.OK, f"XOAUTH2: {where}."), settings


def _config_file(config: Config) -> Check:
    path = config.path
    if not path.exists():
        return Check(
            "Config file",
            CheckStatus.WARN,
            f"There is no config file at {path}; settings come only from options "
            "and PROTEST_* environment variables.",
            "Run 'protest init' to write one.",
        )
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Check(
            "Config file",
            CheckStatus.WARN,
            f"{path} is valid, but other users may read it.",
            f"Run: chmod 600 {path}",
        )
    return Check("Config file", CheckStatus.OK, f"{path} is valid and only you can read it.")


def _sender(config: Config, from_: str | None) -> tuple[Check, str | None, str | None]:
    try:
        sender = config.sender(from_option=from_)
    except ConfigError as exc:
        return failed("Sender", exc), None, None
    if sender is None:
        return (
            Check(
                "Sender",
                CheckStatus.FAIL,
                "No sender is set: letters need your name and address.",
                "Run 'protest init', or set PROTEST_FROM=\"Your Name <you@example.org>\".",
                ExitCode.INVALID,
            ),
            None,
            None,
        )
    where = (
        f", in {sender.country}"
        if sender.country
        else ("; no country set, so targets meant for senders in one country are skipped")
    )
    return (
        Check("Sender", CheckStatus.OK, f"{sender.name} <{sender.email}>{where}."),
        sender.domain,
        sender.email,
    )


def _password_source(config: Config) -> str:
    if config.env.get("PROTEST_SMTP_PASSWORD"):
        return "PROTEST_SMTP_PASSWORD"
    if config.settings.smtp_password_command:
        return "the password command"
    if config.settings.smtp_password_keyring:
        return "the system keyring"
    return "the config file"


def _settings(
    config: Config, request: DoctorRequest, *, helo_name: str | None
) -> tuple[Check, SmtpSettings | None]:
    try:
        settings = smtp_settings(config, given=request.smtp, helo_name=helo_name or "localhost")
        asyncio.run(check_plaintext_allowed(settings=settings))
    except ConfigError as exc:
        return failed("SMTP settings", exc), None
    secret = (
        "an OAuth2 token (XOAUTH2)"
        if settings.auth is AuthMode.XOAUTH2
        else f"password from {_password_source(config)}"
    )
    login = f"log in as {settings.username} ({secret})" if settings.username else "no login"
    ca = f"; trusting the certificates in {settings.ca_file}" if settings.ca_file else ""
    return Check(
        "SMTP settings",
        CheckStatus.OK,
        f"{settings.host}, port {settings.port}, {settings.security}; {login}{ca}.",
    ), settings


def _send_log(config: Config, log: Path | None, *, sender: str | None) -> Check:
    path = log_path(log=log, config=config)
    if not path.exists():
        return Check("Send log", CheckStatus.OK, f"None yet; the first send creates {path}.")
    try:
        with SendLog.open(path=path) as sendlog:
            letters = len(sendlog.entries())
            usage = _usage(config, sendlog, sender=sender)
    except SendLogError as exc:
        return failed("Send log", exc)
    return Check("Send log", CheckStatus.OK, f"{path}: {letters} letter(s) recorded.{usage}")


def _usage(config: Config, sendlog: SendLog, *, sender: str | None) -> str:
    """How much of the provider's allowance this sender has used, as the next send counts it."""
    quota = (
        None
        if sender is None
        else Quota.configured(log=sendlog, sender=sender, settings=config.settings)
    )
    if quota is None:
        return ""
    parts = [
        f"{quota.used_in(window)} of {limit} recipients {label}"
        for limit, window, label in (
            (quota.per_hour, HOUR, "in the last hour"),
            (quota.per_day, DAY, "in the last 24 hours"),
        )
        if limit
    ]
    return " Sending limits: " + ", ".join(parts) + "."


def _network(settings: SmtpSettings, *, can_login: bool = True) -> list[Check]:
    proxy, host, port = settings.proxy, settings.host, settings.port
    if proxy is not None and route(proxy, host) is Route.PROXY:  # no lookup here
        dns = resolved_by_proxy(NETWORK_STEPS[0], host, proxy)
        tcp = connect_through(NETWORK_STEPS[1], proxy, host, port, settings.timeout)
    else:
        dns = _dns(host, settings.timeout)
        if dns.status == CheckStatus.FAIL:
            return [dns, *skipped(NETWORK_STEPS[1:])]
        tcp = _tcp(host, port, settings.timeout)
    if tcp.status == CheckStatus.FAIL:
        return [dns, tcp, *skipped(NETWORK_STEPS[2:])]
    tls = _handshake(dataclasses.replace(settings, username=None, password=None))
    if tls.status == CheckStatus.FAIL:
        return [dns, tcp, tls, *skipped(NETWORK_STEPS[3:])]
    if not can_login:
        return [dns, tcp, tls, *skipped(NETWORK_STEPS[3:])]
    return [dns, tcp, tls, _login(settings)]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _resolve(host: str, timeout: float) -> set[str]:
    async def lookup() -> set[str]:
        return await asyncio.wait_for(lookup_addresses(host), timeout)

    try:
        return asyncio.run(lookup())
    except UnicodeError as exc:  # an impossible name: reported like one that is not found
        raise OSError(str(exc)) from None


def _dns(host: str, timeout: float) -> Check:
    name = NETWORK_STEPS[0]
    if _is_address(host):
        return Check(name, CheckStatus.OK, f"{host} is an address; no lookup needed.")
    try:
        addresses = _resolve(host, timeout)
    except TimeoutError:
        return Check(
            name,
            CheckStatus.FAIL,
            f"Looking up {host} took longer than {timeout:g} s.",
            "Check that you are online; the network's name service may be slow or "
            "blocked. Try again later.",
            ExitCode.TEMPFAIL,
        )
    except OSError as exc:
        return Check(
            name,
            CheckStatus.FAIL,
            f"The name {host} could not be found ({exc.strerror or exc}).",
            "Check the spelling of smtp_host (config file or PROTEST_SMTP_HOST) "
            "and that you are online.",
            ExitCode.TEMPFAIL,
        )
    shown = ", ".join(sorted(addresses)[:3]) + (" ..." if len(addresses) > 3 else "")
    return Check(name, CheckStatus.OK, f"{host} is {shown}.")


def _tcp(host: str, port: int, timeout: float) -> Check:
    name = NETWORK_STEPS[1]
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        return Check(
            name,
            CheckStatus.FAIL,
            f"{host} refused a connection on port {port}: nothing is listening there.",
            "Check smtp_port (usually 587 with starttls, 465 with tls). For Proton "
            "Mail, start Proton Mail Bridge and use the SMTP port it shows.",
            ExitCode.TEMPFAIL,
        )
    except TimeoutError:
        return Check(
            name,
            CheckStatus.FAIL,
            f"{host} did not answer on port {port} within {timeout:g} s.",
            "A firewall or your network may block this mail port (many home and "
            "public networks do). Try another network, or the provider's other port "
            "(465 with tls, 587 with starttls).",
            ExitCode.TEMPFAIL,
        )
    except OSError as exc:
        return Check(
            name,
            CheckStatus.FAIL,
            f"Cannot connect to {host} on port {port}: {exc.strerror or exc}.",
            "Check that you are online, then try again.",
            ExitCode.TEMPFAIL,
        )
    return Check(name, CheckStatus.OK, f"{host} accepts connections on port {port}.")


def _open(settings: SmtpSettings) -> None:
    """Connect, secure and (with a username) log in, then QUIT: never MAIL FROM."""

    async def go() -> None:
        connection = SmtpConnection(settings=settings)
        await connection.open()
        await connection.close()

    asyncio.run(go())


def _handshake(settings: SmtpSettings) -> Check:
    name = NETWORK_STEPS[2]
    try:
        _open(settings)
    except ProtestError as exc:
        hint = exc.hint
        better = Security.usual_on_smtp_port(settings.port)
        if settings.security is not Security.NONE and better not in (None, settings.security):
            hint = (
                f'Port {settings.port} usually goes with smtp_security = "{better}", '
                f'not "{settings.security}".'
            )
        return Check(name, CheckStatus.FAIL, exc.message, hint, exc.exit_code)
    if settings.security is Security.NONE:
        return Check(
            name,
            CheckStatus.WARN,
            "The server answered, without encryption (security "
            "none): letters and the password would cross the network readable.",
            "Use starttls or tls unless the server runs on this machine.",
        )
    how = "STARTTLS works" if settings.security is Security.STARTTLS else "TLS works"
    trust = (
        f"through {settings.ca_file}"
        if settings.ca_file
        else "by your system's certificate authorities"
    )
    return Check(
        name,
        CheckStatus.OK,
        f"{how}; the server's certificate for {settings.host} is trusted {trust}.",
    )


def _login(settings: SmtpSettings) -> Check:
    name = NETWORK_STEPS[3]
    if settings.username is None:
        return Check(
            name,
            CheckStatus.SKIP,
            "No username is set, so protest will not log in; most "
            "providers refuse mail without a login.",
        )
    try:
        _open(settings)
    except ProtestError as exc:
        return failed(name, exc)
    what = "its OAuth2 token" if settings.auth is AuthMode.XOAUTH2 else "its password"
    return Check(
        name,
        CheckStatus.OK,
        f"The server accepted the username {settings.username} and {what}. Nothing was sent.",
    )
