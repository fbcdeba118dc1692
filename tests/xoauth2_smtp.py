"""A real aiosmtpd server on 127.0.0.1 that signs users in with ``AUTH XOAUTH2``.

It trusts only access tokens that a running :class:`oauth_server.OAuthServer` issued and
that are still valid, for the same user, and answers a bad token exactly as Gmail does:
``334 <base64 {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}>``,
then, after the client's empty line, ``535 5.7.8 Username and Password not accepted``::

    from xoauth2_smtp import running_xoauth2_server

    with running_oauth_server() as oauth, running_xoauth2_server(oauth) as smtp:
        ...  # STARTTLS with smtp.ca_file, AUTH XOAUTH2, send
        assert smtp.message_tokens() == [1]  # sent with the first access token issued

It reuses :mod:`smtp_server` (same :class:`smtp_server.Server` records and faults), so
every ``running_server`` keyword works except ``auth``, which here means an extra
password login for PLAIN/LOGIN. Defaults are Gmail's: STARTTLS required, AUTH only after
TLS, AUTH required before MAIL. Fixtures: ``xoauth2_smtp`` (trusts the ``oauth_server``
fixture) and ``xoauth2_smtp_factory`` (``start(oauth, **options)``); register with
``pytest_plugins = ["xoauth2_smtp"]``. Tokens are never recorded: each
attempt keeps the token's index at the OAuth server and its :func:`oauth_server.fingerprint`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import ssl
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from oauth_server import GMAIL_SCOPE, OAuthServer, fingerprint
from smtp_server import HOST, Faults, Handler, Received, Server, Tls, _start

Echo = Literal["sasl", "sasl-unpadded", "sasl-split", "token-split", "token-base64"]
ACCEPTED = "235 2.7.0 Accepted"
REJECTED = "535 5.7.8 Username and Password not accepted"


def gmail_error_challenge(status: str = "401", scope: str = GMAIL_SCOPE) -> bytes:
    """The JSON Gmail sends (base64-encoded after ``334 ``) when it refuses a token."""
    return json.dumps(
        {"status": status, "schemes": "Bearer", "scope": scope}, separators=(",", ":")
    ).encode()


@dataclass(frozen=True)
class XOAuth2Login:
    """A session's successful sign-in, kept as ``session.auth_data`` (``login`` for aiosmtpd)."""

    login: bytes
    token_index: int
    token_fingerprint: str


@dataclass(frozen=True)
class XOAuth2Attempt:
    """One ``AUTH XOAUTH2``; ``reason`` says why it failed (None when it succeeded)."""

    connection: int
    user: str | None
    token_index: int | None  # index of the access token at the OAuth server, if it knows it
    token_fingerprint: str | None
    ok: bool
    reason: str | None


class XOAuth2Handler(Handler):
    """Adds the XOAUTH2 mechanism (aiosmtpd picks up ``auth_<NAME>`` handler methods)."""

    def __init__(
        self,
        *,
        oauth: OAuthServer,
        required_scope: str | None,
        challenge_scope: str,
        faults: Faults,
        auth: tuple[str, str] | None,
        echo: Echo | None = None,
    ) -> None:
        super().__init__(faults=faults, auth=auth)
        self.oauth = oauth
        self.echo = echo
        self.required_scope = required_scope
        self.challenge_scope = challenge_scope
        self.xoauth2_attempts: list[XOAuth2Attempt] = []
        self.token_by_connection: dict[int, int] = {}

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        connection = int(getattr(server, "number", 0))
        if len(args) == 2:
            raw: Any = args[1].encode()
            try:
                blob = base64.b64decode(raw, validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:  # no initial response: ask for it with an empty challenge
            response = await server.challenge_auth(b"")
            if response is MISSING:
                return AuthResult(success=False, handled=True)
            assert isinstance(response, bytes)
            blob = response
        user, token, reason = _parse(blob)
        index = fp = None
        if token is not None:
            fp = fingerprint(token)
            record = self.oauth.token_info(token)
            index = record.index if record is not None and record.kind == "access" else None
            reason = reason or self._refusal(user, token)
        attempt = XOAuth2Attempt(connection, user, index, fp, ok=not reason, reason=reason)
        self.xoauth2_attempts.append(attempt)
        self.auth_attempts.append((user or "", not reason))
        if not reason:
            assert user is not None
            assert index is not None
            assert fp is not None
            self.token_by_connection[connection] = index
            return AuthResult(
                success=True, message=ACCEPTED, auth_data=XOAuth2Login(user.encode(), index, fp)
            )
        if self.echo is not None:  # a careless server: repeats the secret, no challenge
            sent = args[1] if len(args) == 2 else base64.b64encode(blob).decode()
            return AuthResult(
                success=False, handled=False, message=_echoed(self.echo, sent, token or "")
            )
        status = "400" if reason == "malformed" else "401"
        reply = await server.challenge_auth(gmail_error_challenge(status, self.challenge_scope))
        if reply is MISSING:  # the client answered "*" or garbage; aiosmtpd said 501
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=REJECTED)

    def _refusal(self, user: str | None, token: str) -> str | None:
        ok, scope = self.oauth.check_access_token(token)
        if not ok:
            return "invalid token"
        record = self.oauth.token_info(token)
        if record is None or user is None or record.user.casefold() != user.casefold():
            return "user mismatch"
        if self.required_scope is not None and self.required_scope not in scope.split():
            return "insufficient scope"
        return None

    def _received(self, server: SMTP, session: Session, envelope: Envelope) -> Received:
        received = super()._received(server, session, envelope)
        auth_data: Any = session.auth_data
        if session.authenticated and isinstance(auth_data, XOAuth2Login):
            return dataclasses.replace(received, login=auth_data.login.decode())
        return received


def _echoed(how: Echo, sent: str, token: str) -> str:
    """A 535 reply that repeats the SASL argument or the token the way ``how`` says."""
    if how == "token-split":
        middle = len(token) // 2
        return f"535-5.7.8 token {token[:middle]}\r\n535 5.7.8 {token[middle:]} is not valid"
    if how == "token-base64":
        return f"535 5.7.8 not valid: {base64.b64encode(token.encode()).decode()}"
    if how == "sasl-split":
        middle = len(sent) // 2
        return f"535-5.7.8 refused [XOAUTH2 {sent[:middle]}\r\n535 5.7.8 {sent[middle:]}]"
    shown = sent.rstrip("=") if how == "sasl-unpadded" else sent
    return f"535 5.7.8 refused [XOAUTH2 {shown}]"


def _parse(blob: bytes) -> tuple[str | None, str | None, str | None]:
    """``user=U^Aauth=Bearer T^A^A`` -> (user, token, None), or a reason it is malformed."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return None, None, "malformed"
    if not text.endswith("\x01\x01"):
        return None, None, "malformed"
    fields = text[:-2].split("\x01")
    if len(fields) != 2 or not fields[0].startswith("user=") or not fields[1].startswith("auth="):
        return None, None, "malformed"
    user = fields[0][len("user=") :]
    scheme, _, token = fields[1][len("auth=") :].partition(" ")
    if scheme != "Bearer" or not token or not user:
        return user or None, None, "malformed"
    return user, token, None


@dataclass
class XOAuth2Server(Server):
    """A running server; adds XOAUTH2 records to :class:`smtp_server.Server`."""

    @property
    def xoauth2_attempts(self) -> list[XOAuth2Attempt]:
        assert isinstance(self.handler, XOAuth2Handler)
        return self.handler.xoauth2_attempts

    def message_tokens(self) -> list[int | None]:
        """For each accepted message, the index of the access token its connection used."""
        assert isinstance(self.handler, XOAuth2Handler)
        by_connection = self.handler.token_by_connection
        return [by_connection.get(m.connection) for m in self.messages]


@contextlib.contextmanager
def running_xoauth2_server(
    oauth: OAuthServer,
    *,
    tls: Tls = "starttls",
    require_starttls: bool = True,
    offer_xoauth2: bool = True,
    required_scope: str | None = None,
    challenge_scope: str = GMAIL_SCOPE,
    auth: tuple[str, str] | None = None,
    auth_require_tls: bool = True,
    smtputf8: bool = True,
    echo: Echo | None = None,
    **faults: Any,
) -> Iterator[XOAuth2Server]:
    """Start on 127.0.0.1 and a free port; stop on exit.

    ``offer_xoauth2=False`` leaves only PLAIN/LOGIN in the EHLO AUTH line (a server without
    XOAUTH2); those accept nothing unless ``auth=(user, password)`` is given.
    ``required_scope`` (e.g. ``GMAIL_SCOPE``) must be one of the token's scopes.
    ``echo`` makes a refusal repeat the secret: the SASL argument (whole, unpadded, or
    split over two ``535-`` lines), the token split over two lines, or its base64.
    """
    handler = XOAuth2Handler(
        oauth=oauth,
        required_scope=required_scope,
        challenge_scope=challenge_scope,
        faults=Faults(**faults),
        auth=auth,
        echo=echo,
    )
    # Handler.auth_attempts is a list, but aiosmtpd takes every auth_* member for a mechanism
    excluded = ["attempts"] if offer_xoauth2 else ["attempts", "XOAUTH2"]
    if auth is None and offer_xoauth2:
        excluded += ["PLAIN", "LOGIN"]
    with tempfile.TemporaryDirectory(prefix="xoauth2-test-") as scratch:
        ca: trustme.CA | None = None
        ca_file: Path | None = None
        options: dict[str, Any] = {
            "authenticator": handler.authenticate,
            "auth_require_tls": auth_require_tls,
            "auth_required": auth_require_tls,
            "auth_exclude_mechanism": excluded,
        }
        if tls != "none":
            ca = trustme.CA()
            ca_file = Path(scratch) / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_file))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(HOST, "localhost").configure_cert(context)
            if tls == "implicit":
                options["ssl_context"] = context
            else:
                options["tls_context"] = context
                options["require_starttls"] = require_starttls
        controller = _start(handler, smtputf8=smtputf8, options=options)
        handler.forget_connections()  # the Controller's start-up probe is not a client
        try:
            yield XOAuth2Server(
                host=HOST, port=controller.port, handler=handler, ca=ca, ca_file=ca_file, tls=tls
            )
        finally:
            controller.stop()


@pytest.fixture
def xoauth2_smtp(oauth_server: OAuthServer) -> Iterator[XOAuth2Server]:
    """Gmail-like server trusting the ``oauth_server`` fixture's tokens."""
    with running_xoauth2_server(oauth_server) as server:
        yield server


@pytest.fixture
def xoauth2_smtp_factory() -> Iterator[Callable[..., XOAuth2Server]]:
    """``start(oauth, **options)`` runs :func:`running_xoauth2_server`; all stop at teardown."""
    with contextlib.ExitStack() as stack:

        def start(oauth: OAuthServer, **options: Any) -> XOAuth2Server:
            return stack.enter_context(running_xoauth2_server(oauth, **options))

        yield start
