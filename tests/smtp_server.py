"""A real aiosmtpd server on 127.0.0.1 for tests, with faults a test can script.

Import it as a top-level module (``tests/`` must be on ``sys.path``, e.g. with
``pythonpath = ["src", "tests"]`` under ``[tool.pytest.ini_options]``; pytest's
default ``prepend`` import mode also puts ``tests/`` there)::

    from smtp_server import Server, running_server

    def test_refused() -> None:
        with running_server(refuse={"nobody@example.org": (550, "5.1.1 no such user")}) as server:
            ...  # connect to server.host:server.port (security "none")
            assert server.messages == []

Fixtures: ``smtp_server`` (a plain server, no faults) and ``smtp_server_factory``
(call it with the same keywords as ``running_server``; every server it starts is
stopped at teardown). Make them available suite-wide by registering this module
as a plugin in ``tests/conftest.py``: ``pytest_plugins = ["smtp_server"]``.
Importing the fixtures into a test module instead works but trips ruff
(F401/F811), and ``pytest_plugins`` in a test module that also imports this
module makes pytest warn that it cannot rewrite its asserts.

``running_server(**options)`` yields a :class:`Server` with:

- ``host`` ("127.0.0.1"), ``port``: where it listens.
- ``ca_file``: PEM of the trustme CA that signed the server certificate (``None``
  without TLS); ``ca``: that ``trustme.CA``.
- ``messages``: every message answered 250, as :class:`Received` (envelope,
  raw ``data`` after dot-unstuffing, parsed ``message`` via
  ``email.message_from_bytes(policy=email.policy.default)``, the connection
  number, whether it came over TLS, the AUTH login).
- ``unanswered``: messages whose data arrived but got no reply (dropped or stalled).
- ``connections``: how many connections were accepted (the Controller's own
  start-up probe is not counted); ``commands``: every command as
  :class:`Command` (AUTH arguments are never recorded); ``helo_names``: every
  EHLO/HELO argument; ``auth_attempts``: ``(login, succeeded)`` pairs;
  ``rcpt_attempts``: RCPT count per lower-cased address.
- ``handler``: the :class:`Handler`; ``update_faults(**changes)`` changes faults
  while running (e.g. stop stalling before a retry).

Server options (keywords of ``running_server``):

- ``tls``: ``"none"`` (default), ``"starttls"`` (STARTTLS offered) or
  ``"implicit"`` (TLS from the first byte, like port 465).
- ``require_starttls``: with ``tls="starttls"``, refuse mail commands before STARTTLS.
- ``auth``: ``(username, password)``; when set AUTH PLAIN/LOGIN is offered and a
  login is required before MAIL (unless ``auth_require_tls`` is False, when it is
  offered over clear text but not required: aiosmtpd warns on that combination).
- ``auth_require_tls``: default True: AUTH is offered only after TLS.
- ``smtputf8``: advertise SMTPUTF8 (default True).

Faults (also keywords of ``running_server``; see :class:`Faults`):

- ``refuse={"addr": (550, "5.1.1 no such user")}``: reply to RCPT TO that address
  (case-insensitive); a 421 here also hangs up.
- ``greylist=N``: 451 to the first N RCPT attempts per address (counted across
  connections), then accept; ``greylist_only={"addr"}`` limits it to some addresses.
- ``mail_reply=(451, "4.3.0 try later")``: reply to MAIL FROM; with
  ``mail_fail_probability=p`` only a seeded-random share (``seed=``) of MAILs
  get it. A 421 reply also hangs up.
- ``hangup_after=N``: on each connection, answer the MAIL after N accepted
  messages with 421 and close.
- ``delay=seconds``: wait before answering EHLO, MAIL, RCPT, DATA and RSET.
- ``drop_after_data=True``: close the connection once the data is in, without a reply.
- ``stall_data=seconds``: wait that long before answering the end of data (make
  it longer than the client's timeout), then accept if the client is still there.
- ``data_reply=(552, "5.3.4 message too big")``: reply to the end of data; a 421
  also hangs up.
- ``hide_extensions={"STARTTLS", "SMTPUTF8"}``: EHLO keywords to leave out.
- ``stop_listening_after=N``: once N messages are accepted (on any connection), the
  next MAIL closes the listening socket and gets 421 and a hang-up: the server is
  gone, and every later connection is refused.
- ``auth_echo``: answer a failed AUTH with ``535 5.7.8 authentication failed for
  [MECHANISM argument...]``, echoing what the client sent (base64), as some
  servers do: ``"plain"`` as sent, ``"unpadded"`` without ``=``, ``"split"`` over
  two reply lines.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import email
import email.message
import email.policy
import random
import socket
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
SERVER_NAME = "smtp.example.org"  # set, so aiosmtpd does not call socket.getfqdn() per connection
Tls = Literal["none", "starttls", "implicit"]


@dataclass
class Faults:
    """Misbehaviour to script; the defaults describe a well-behaved server."""

    refuse: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    greylist: int = 0
    greylist_only: Collection[str] | None = None
    mail_reply: tuple[int, str] | None = None
    mail_fail_probability: float = 1.0
    seed: int = 0
    hangup_after: int | None = None
    delay: float = 0.0
    drop_after_data: bool = False
    stall_data: float | None = None
    data_reply: tuple[int, str] | None = None
    hide_extensions: Collection[str] = ()
    stop_listening_after: int | None = None
    auth_echo: Literal["plain", "unpadded", "split"] | None = None


@dataclass(frozen=True)
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    data: bytes
    message: email.message.EmailMessage
    connection: int
    tls: bool
    login: str | None


@dataclass(frozen=True)
class Command:
    connection: int
    verb: str
    arg: str | None  # None for AUTH, whose arguments carry credentials


class Handler:
    """aiosmtpd handler that records everything and applies :class:`Faults`."""

    def __init__(self, *, faults: Faults, auth: tuple[str, str] | None) -> None:
        self.faults = faults
        self._auth = auth
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._queue_ids = 0
        self.connections = 0
        self.messages: list[Received] = []
        self.unanswered: list[Received] = []
        self.commands: list[Command] = []
        self.helo_names: list[str] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self.stop_listening: Callable[[], None] = lambda: None  # set by running_server

    def next_connection(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def forget_connections(self) -> None:
        with self._lock:
            self.connections = 0
            self.commands.clear()

    def record_command(self, connection: int, verb: str, arg: str | None) -> None:
        self.commands.append(Command(connection, verb, None if verb == "AUTH" else arg))

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        await self._delay()
        session.host_name = hostname  # this hook must set it (aiosmtpd docs)
        self.helo_names.append(hostname)
        hidden = {name.upper() for name in self.faults.hide_extensions}
        return [r for r in responses if r[4:].split(" ", 1)[0].upper() not in hidden]

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        await self._delay()
        session.host_name = hostname
        self.helo_names.append(hostname)
        return f"250 {SERVER_NAME}"

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self._delay()
        return "250 OK"

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        await self._delay()
        faults = self.faults
        if faults.stop_listening_after is not None and (
            len(self.messages) >= faults.stop_listening_after
        ):
            self.stop_listening()
            return await _hang_up(server, "421 4.3.0 Shutting down")
        if faults.hangup_after is not None and _messages_here(server) >= faults.hangup_after:
            return await _hang_up(server, "421 4.7.0 Too many messages on one connection")
        if faults.mail_reply is not None and self._random.random() < faults.mail_fail_probability:
            return await _reply_or_hang_up(server, faults.mail_reply)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        await self._delay()
        faults = self.faults
        key = address.casefold()
        self.rcpt_attempts[key] += 1
        refusals = {a.casefold(): reply for a, reply in faults.refuse.items()}
        if key in refusals:
            return await _reply_or_hang_up(server, refusals[key])
        greylisted = faults.greylist_only is None or key in {
            a.casefold() for a in faults.greylist_only
        }
        if greylisted and self.rcpt_attempts[key] <= faults.greylist:
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self._delay()
        faults = self.faults
        received = self._received(server, session, envelope)
        if faults.drop_after_data:
            self.unanswered.append(received)
            return await _hang_up(server, None)
        if faults.stall_data is not None:
            self.unanswered.append(received)
            await asyncio.sleep(faults.stall_data)  # the client gives up first and hangs up
            self.unanswered.remove(received)
        if faults.data_reply is not None:
            return await _reply_or_hang_up(server, faults.data_reply)
        self.messages.append(received)
        _count_message(server)
        with self._lock:
            self._queue_ids += 1
            queue_id = f"Q{self._queue_ids:05d}"
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._auth is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        ok = (login, auth_data.password.decode("utf-8", "replace")) == self._auth
        self.auth_attempts.append((login, ok))
        # handled=False makes aiosmtpd send 535 itself; True would leave the client waiting
        echo = None if ok else _echo(mechanism, auth_data, self.faults.auth_echo)
        return AuthResult(success=ok, handled=False, auth_data=auth_data, message=echo)

    def _received(self, server: SMTP, session: Session, envelope: Envelope) -> Received:
        data = envelope.original_content or b""
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        transport = server.transport
        auth_data: Any = session.auth_data
        login = (
            auth_data.login.decode()
            if session.authenticated and isinstance(auth_data, LoginPassword)
            else None
        )
        return Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            mail_options=list(envelope.mail_options),
            data=data,
            message=parsed,
            connection=getattr(server, "number", 0),
            tls=transport is not None and transport.get_extra_info("sslcontext") is not None,
            login=login,
        )

    async def _delay(self) -> None:
        if self.faults.delay > 0:
            await asyncio.sleep(self.faults.delay)


def _echo(mechanism: str, data: LoginPassword, how: str | None) -> str | None:
    """A 535 reply that repeats the AUTH argument(s) the way a careless server would."""
    if how is None:
        return None
    if mechanism.upper() == "PLAIN":
        sent = [base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()]
    else:
        sent = [base64.b64encode(data.login).decode(), base64.b64encode(data.password).decode()]
    if how == "unpadded":
        sent = [s.rstrip("=") for s in sent]
    text = f"{mechanism.upper()} {' '.join(sent)}"
    if how == "split":
        middle = len(text) // 2
        return f"535-5.7.8 authentication failed for [{text[:middle]}\r\n535 5.7.8 {text[middle:]}]"
    return f"535 5.7.8 authentication failed for [{text}]"


class _RecordingSMTP(SMTP):
    """One server-side connection: numbered, counting its messages, logging commands."""

    def __init__(self, handler: Handler, *, number: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.number = number
        self.messages_here = 0
        self._recorder = handler
        # aiosmtpd dispatches through this table; wrapping it records every command
        self._smtp_methods = {
            verb: self._recorded(verb, method) for verb, method in self._smtp_methods.items()
        }

    def _recorded(self, verb: str, method: Callable[[Any], Any]) -> Callable[[Any], Any]:
        async def run(arg: Any) -> None:
            self._recorder.record_command(self.number, verb, arg)
            await method(arg)

        return run


class _Controller(Controller):
    def factory(self) -> SMTP:  # called once per accepted connection
        handler: Handler = self.handler
        return _RecordingSMTP(handler, number=handler.next_connection(), **self.SMTP_kwargs)


def _messages_here(server: SMTP) -> int:
    return int(getattr(server, "messages_here", 0))


def _count_message(server: SMTP) -> None:
    if isinstance(server, _RecordingSMTP):
        server.messages_here += 1


async def _reply_or_hang_up(server: SMTP, reply: tuple[int, str]) -> str:
    code, text = reply
    if code == 421:
        return await _hang_up(server, f"421 {text}")
    return f"{code} {text}"


async def _hang_up(server: SMTP, reply: str | None) -> str:
    """Say ``reply`` (if any) and close; the handler is cancelled when the connection goes."""
    if reply is not None:
        await server.push(reply)
    if server.transport is not None:
        server.transport.close()
    await asyncio.sleep(3600)
    return "421 4.3.0 unreachable"  # pragma: no cover - connection_lost cancels the sleep


def free_port() -> int:
    """A port nobody listens on right now (Controller cannot bind port 0 in every version)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A running test server; see the module docstring."""

    host: str
    port: int
    handler: Handler
    ca: trustme.CA | None
    ca_file: Path | None
    tls: Tls

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def unanswered(self) -> list[Received]:
        return self.handler.unanswered

    @property
    def connections(self) -> int:
        return self.handler.connections

    @property
    def commands(self) -> list[Command]:
        return self.handler.commands

    @property
    def helo_names(self) -> list[str]:
        return self.handler.helo_names

    @property
    def auth_attempts(self) -> list[tuple[str, bool]]:
        return self.handler.auth_attempts

    @property
    def rcpt_attempts(self) -> Counter[str]:
        return self.handler.rcpt_attempts

    def verbs(self) -> list[str]:
        """Command verbs in the order received, e.g. ["EHLO", "MAIL", "RCPT", "RSET"]."""
        return [c.verb for c in self.commands]

    def verbs_until_quit(self, *, timeout: float = 5.0) -> list[str]:
        """The verbs once a QUIT has arrived: the client hangs up without awaiting 221."""
        deadline = time.monotonic() + timeout
        while "QUIT" not in self.verbs() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.verbs()

    def update_faults(self, **changes: Any) -> None:
        self.handler.faults = dataclasses.replace(self.handler.faults, **changes)


ServerFactory = Callable[..., Server]
"""The type of the ``smtp_server_factory`` fixture."""


@contextlib.contextmanager
def running_server(
    *,
    tls: Tls = "none",
    require_starttls: bool = False,
    auth: tuple[str, str] | None = None,
    auth_require_tls: bool = True,
    smtputf8: bool = True,
    data_size_limit: int | None = None,
    **faults: Any,
) -> Iterator[Server]:
    """Start a server on 127.0.0.1 and a free port; stop it on exit.

    ``data_size_limit`` is the SIZE the server advertises in EHLO (RFC 1870).
    """
    handler = Handler(faults=Faults(**faults), auth=auth)
    with tempfile.TemporaryDirectory(prefix="smtp-test-") as scratch:
        ca: trustme.CA | None = None
        ca_file: Path | None = None
        tls_options: dict[str, Any] = {}
        if tls != "none":
            ca = trustme.CA()
            ca_file = Path(scratch) / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_file))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            # and the name the SOCKS5 test proxy resolves for it (socks5_server.py)
            ca.issue_cert(HOST, "localhost", "smtp.proxy-only.test").configure_cert(context)
            if tls == "implicit":
                tls_options["ssl_context"] = context
            else:
                tls_options["tls_context"] = context
                tls_options["require_starttls"] = require_starttls
        if auth is not None:
            tls_options["authenticator"] = handler.authenticate
            # aiosmtpd takes every handler attribute named auth_* for a mechanism
            tls_options["auth_exclude_mechanism"] = ["attempts"]
            tls_options["auth_require_tls"] = auth_require_tls
            tls_options["auth_required"] = auth_require_tls
        if data_size_limit is not None:
            tls_options["data_size_limit"] = data_size_limit
        controller = _start(handler, smtputf8=smtputf8, options=tls_options)
        handler.stop_listening = lambda: controller.server.close()  # called on its own loop
        handler.forget_connections()  # the Controller's start-up probe is not a client
        try:
            yield Server(
                host=HOST, port=controller.port, handler=handler, ca=ca, ca_file=ca_file, tls=tls
            )
        finally:
            controller.stop()


def _start(handler: Handler, *, smtputf8: bool, options: dict[str, Any]) -> _Controller:
    last_error: OSError | None = None
    for _ in range(5):  # another process may grab the free port between probe and bind
        controller = _Controller(
            handler,
            hostname=HOST,
            port=free_port(),
            server_hostname=SERVER_NAME,
            enable_SMTPUTF8=smtputf8,
            ready_timeout=10.0,
            **options,
        )
        try:
            controller.start()
        except OSError as exc:
            last_error = exc
            controller.stop(no_assert=True)
            continue
        return controller
    assert last_error is not None
    raise last_error


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    """A well-behaved plain-text server (security "none")."""
    with running_server() as server:
        yield server


@pytest.fixture
def smtp_server_factory() -> Iterator[Callable[..., Server]]:
    """Start servers with ``running_server`` keywords; all are stopped at teardown."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> Server:
            return stack.enter_context(running_server(**options))

        yield start
