"""A strict OAuth 2.0 authorization server on 127.0.0.1 for tests (standard library only).

Strict where Microsoft and Google are, so a client that passes here is not relying on a
lenient server: device flow (RFC 8628) with ``slow_down``, authorization code with S256
PKCE (RFC 7636) to loopback redirects only (RFC 8252), single-use codes, refresh-token
rotation, revocation, short-lived access tokens and RFC 7662 introspection::

    from oauth_server import running_oauth_server

    with running_oauth_server(interval=0, auto_approve_after=1) as oauth:
        ...  # the client POSTs oauth.device_authorization_endpoint, polls oauth.token_endpoint
        assert oauth.poll_count() == 2

Fixtures (register with ``pytest_plugins = ["oauth_server"]`` in ``conftest.py``):
``oauth_server`` (defaults, but ``interval=0`` so tests do not sleep) and
``oauth_server_factory`` (keywords of :func:`running_oauth_server`; stopped at teardown),
``fake_browser_log`` (sets ``BROWSER`` to :mod:`fake_browser`; returns its log path).

Endpoints: ``POST /devicecode``, ``GET /device`` (verification page; with ``user_code``
it approves, like a user signing in), ``GET /authorize``, ``POST /token``,
``POST /introspect``. JSON errors follow RFC 6749 §5.2 (``invalid_client`` is 401).

Secrets (tokens, codes, verifiers, client secrets) are never logged or recorded; records
hold token indexes and :func:`fingerprint` values instead.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.server
import json
import re
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

import fake_browser
from fake_browser import LOOPBACK_HOSTS, Visit

HOST = "127.0.0.1"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PUBLIC_CLIENT = "protest-public-client"  # Microsoft style: no secret
DESKTOP_CLIENT = "protest-desktop-client"  # Google "desktop app" style: a non-secret secret
DESKTOP_SECRET = "desktop-client-secret-for-tests"
DEFAULT_CLIENTS: Mapping[str, str | None] = {PUBLIC_CLIENT: None, DESKTOP_CLIENT: DESKTOP_SECRET}
DEFAULT_USER = "user@example.org"
GMAIL_SCOPE = "https://mail.google.com/"
OUTLOOK_SMTP_SCOPE = "https://outlook.office.com/SMTP.Send offline_access"
AuthorizeMode = Literal["approve", "deny", "wrong_state"]
_RAW = "\x00raw interval\x00"

_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels, no look-alikes
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1 verifier, §4.2 S256
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def fingerprint(token: str) -> str:
    """Short stable id of a token, safe to log and to compare in assertions."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthError(Exception):
    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Hostile:
    """Ways the server misbehaves, for the tests of a client that must survive them.

    ``interval_json``: the device flow's ``interval`` as raw JSON (``NaN``, ``1e400``).
    ``echo_secrets``: every error's ``error_description`` repeats the refresh token,
    client secret, code and verifier it got: as written, split by a line break, and
    as base64. ``drip_seconds``: the token endpoint sends its answer one byte at a
    time, this long apart. ``huge_body``: it answers with this many bytes of JSON-ish
    junk, announced by Content-Length or (``announce_length=False``) not.
    ``token_type``: what the token endpoint calls its tokens. ``user``: the account
    the ID token and ``/userinfo`` name (default: the one that signed in).
    """

    interval_json: str | None = None
    echo_secrets: bool = False
    drip_seconds: float | None = None
    huge_body: int | None = None
    announce_length: bool = True
    token_type: str = "Bearer"
    user: str | None = None


@dataclass
class DeviceGrant:
    """One device authorization; ``state`` is pending, approved, denied or consumed."""

    user_code: str
    client_id: str
    scope: str
    issued_at: float
    expires_at: float
    interval: float  # what the client must respect now; grows with each slow_down
    state: str = "pending"
    user: str | None = None
    last_poll: float | None = None
    polls: int = 0
    device_code_fp: str = ""


@dataclass(frozen=True)
class Poll:
    user_code: str
    at: float  # server clock
    outcome: str  # "authorization_pending", "slow_down", ..., or "token"


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    user: str
    offline: bool
    expires_at: float
    grant_id: int
    used: bool = False


@dataclass
class Token:
    """An issued token, without its value. ``index`` counts per kind from 1 in issue order."""

    kind: Literal["access", "refresh"]
    index: int
    fingerprint: str
    client_id: str
    user: str
    scope: str
    grant_id: int  # one sign-in; revoking any token of it revokes all
    expires_at: float | None
    revoked: bool = False
    rotated: bool = False


@dataclass
class _State:
    clients: dict[str, str | None]
    devices: dict[str, DeviceGrant] = field(default_factory=dict)  # by device_code
    user_codes: dict[str, str] = field(default_factory=dict)  # user_code -> device_code
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)  # value -> record
    polls: list[Poll] = field(default_factory=list)
    grants: int = 0
    access_issued: int = 0
    refresh_issued: int = 0


class OAuthServer:
    """The running server: endpoints, test controls and records. See the module docstring."""

    def __init__(
        self,
        *,
        clients: Mapping[str, str | None] = DEFAULT_CLIENTS,
        user: str = DEFAULT_USER,
        interval: int = 1,
        slow_down_step: float = 5.0,
        poll_tolerance: float = 0.01,
        device_code_lifetime: int = 900,
        auto_approve_after: int | None = None,
        expires_in: int = 3600,
        code_lifetime: int = 60,
        authorize_mode: AuthorizeMode = "approve",
        rotate_refresh_tokens: bool = True,
        require_offline_access: bool = False,
        clock: Callable[[], float] = time.monotonic,
        hostile: Hostile | None = None,
    ) -> None:
        if not isinstance(interval, int) or interval < 0:
            raise ValueError("interval is advertised as a JSON integer (RFC 8628 §3.2)")
        self.user = user
        self.interval = interval
        self.slow_down_step = slow_down_step
        self.poll_tolerance = poll_tolerance
        self.device_code_lifetime = device_code_lifetime
        self.auto_approve_after = auto_approve_after
        self.expires_in = expires_in
        self.code_lifetime = code_lifetime
        self.authorize_mode: AuthorizeMode = authorize_mode
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.require_offline_access = require_offline_access
        self.hostile = hostile or Hostile()
        self._base_clock = clock
        self._offset = 0.0
        self._lock = threading.Condition()
        self._state = _State(clients=dict(clients))
        self.requests: list[tuple[str, str]] = []  # (method, path) without query
        self.authorize_requests: list[dict[str, str]] = []  # query of each GET /authorize
        self.client_auth: list[str] = []  # "basic", "post" or "none" per authenticated call
        self.refresh_count = 0
        self.huge_sent = 0  # bytes of hostile.huge_body written before the client hung up
        self.host = HOST
        self.port = 0
        self.scheme = "http"

    # ---- addresses -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def device_authorization_endpoint(self) -> str:
        return self.base_url + "/devicecode"

    @property
    def verification_uri(self) -> str:
        return self.base_url + "/device"

    @property
    def authorization_endpoint(self) -> str:
        return self.base_url + "/authorize"

    @property
    def token_endpoint(self) -> str:
        return self.base_url + "/token"

    @property
    def introspection_endpoint(self) -> str:
        return self.base_url + "/introspect"

    # ---- clock -----------------------------------------------------------------------

    def now(self) -> float:
        return self._base_clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the server's clock on: expire tokens and codes without sleeping."""
        with self._lock:
            self._offset += seconds

    # ---- device flow controls --------------------------------------------------------

    def approve(self, user_code: str, *, user: str | None = None) -> None:
        """The user signs in at the verification page and consents."""
        self._set_device_state(user_code, "approved", user=user or self.user)

    def deny(self, user_code: str) -> None:
        self._set_device_state(user_code, "denied")

    def expire(self, user_code: str) -> None:
        with self._lock:
            self._device(user_code).expires_at = self.now()

    def wait_for_device_code(self, timeout: float = 5.0) -> DeviceGrant:
        """Block until a client has started a device authorization; the newest one."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._state.devices, timeout):
                raise TimeoutError("no device authorization request arrived")
            return list(self._state.devices.values())[-1]

    def device_grants(self) -> list[DeviceGrant]:
        with self._lock:
            return list(self._state.devices.values())

    @property
    def polls(self) -> list[Poll]:
        with self._lock:
            return list(self._state.polls)

    def poll_count(self, user_code: str | None = None) -> int:
        return len(self.poll_times(user_code))

    def poll_times(self, user_code: str | None = None) -> list[float]:
        """Server-clock times of token polls (all, or for one user code)."""
        return [p.at for p in self.polls if user_code in (None, p.user_code)]

    def poll_outcomes(self, user_code: str | None = None) -> list[str]:
        return [p.outcome for p in self.polls if user_code in (None, p.user_code)]

    # ---- tokens ----------------------------------------------------------------------

    def token_info(self, token: str) -> Token | None:
        with self._lock:
            return self._state.tokens.get(token)

    def check_access_token(self, token: str) -> tuple[bool, str]:
        """``(valid, scope)``: issued here as an access token, not expired, not revoked."""
        with self._lock:
            record = self._state.tokens.get(token)
            if record is None or record.kind != "access" or not self._live(record):
                return False, ""
            return True, record.scope

    def access_tokens(self) -> list[Token]:
        with self._lock:
            return [t for t in self._state.tokens.values() if t.kind == "access"]

    def refresh_tokens(self) -> list[Token]:
        with self._lock:
            return [t for t in self._state.tokens.values() if t.kind == "refresh"]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens stay valid)."""
        with self._lock:
            now = self.now()
            for record in self._state.tokens.values():
                if record.kind == "access":
                    record.expires_at = now

    def revoke(self, token: str) -> None:
        """Revoke the sign-in ``token`` belongs to, as a user removing app access would."""
        with self._lock:
            grant = self._state.tokens[token].grant_id
            for record in self._state.tokens.values():
                if record.grant_id == grant:
                    record.revoked = True

    def revoke_all(self) -> None:
        with self._lock:
            for record in self._state.tokens.values():
                record.revoked = True

    # ---- browser ---------------------------------------------------------------------

    def follow_authorize(
        self, url: str, *, timeout: float = 5.0, listener_was_up: bool = False
    ) -> Visit:
        """Do the browser's part: GET ``url``, then GET the loopback redirect it returns
        (``listener_was_up``: a refused redirect is a closed listener, not a slow one)."""
        return fake_browser.visit(url, timeout=timeout, listener_was_up=listener_was_up)

    # ---- internals -------------------------------------------------------------------

    def _device(self, user_code: str) -> DeviceGrant:
        return self._state.devices[self._state.user_codes[user_code.upper()]]

    def _set_device_state(self, user_code: str, state: str, user: str | None = None) -> None:
        with self._lock:
            grant = self._device(user_code)
            if grant.state != "pending":
                raise ValueError(f"device grant {user_code} is already {grant.state}")
            grant.state = state
            grant.user = user

    def _live(self, record: Token) -> bool:
        if record.revoked or record.rotated:
            return False
        return record.expires_at is None or self.now() < record.expires_at

    def _issue(
        self, client_id: str, user: str, scope: str, grant_id: int, *, refresh: bool
    ) -> dict[str, Any]:
        state = self._state
        access = secrets.token_urlsafe(32)
        state.access_issued += 1
        state.tokens[access] = Token(
            "access",
            state.access_issued,
            fingerprint(access),
            client_id,
            user,
            scope,
            grant_id,
            self.now() + self.expires_in,
        )
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": self.hostile.token_type,
            "expires_in": self.expires_in,
            "scope": scope,
        }
        if "openid" in scope.split():
            body["id_token"] = _id_token(self.hostile.user or user, self.base_url)
        if refresh:
            value = secrets.token_urlsafe(32)
            state.refresh_issued += 1
            state.tokens[value] = Token(
                "refresh",
                state.refresh_issued,
                fingerprint(value),
                client_id,
                user,
                scope,
                grant_id,
                None,
            )
            body["refresh_token"] = value
        return body

    def _new_grant(self) -> int:
        self._state.grants += 1
        return self._state.grants

    def authenticate_client(self, form: Mapping[str, str], headers: Mapping[str, str]) -> str:
        """RFC 6749 §2.3: one method only; a public client must not send a secret."""
        clients = self._state.clients
        basic = headers.get("authorization", "")
        if basic:
            if not basic.lower().startswith("basic "):
                raise OAuthError("invalid_client", "unsupported authorization scheme", 401)
            if "client_secret" in form:
                raise OAuthError("invalid_request", "more than one client authentication")
            try:
                raw = base64.b64decode(basic[6:].strip(), validate=True).decode()
                cid, _, secret = raw.partition(":")
                cid, secret = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)
            except ValueError as exc:
                raise OAuthError("invalid_client", "malformed basic credentials", 401) from exc
            if "client_id" in form and form["client_id"] != cid:
                raise OAuthError("invalid_request", "client_id differs from credentials")
            method = "basic"
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret")
            method = "post" if secret is not None else "none"
        if not cid:
            raise OAuthError("invalid_request", "client_id is required")
        if cid not in clients:
            raise OAuthError("invalid_client", "unknown client", 401)
        expected = clients[cid]
        if expected is None and secret is not None:
            raise OAuthError("invalid_client", "public client sent a secret", 401)
        if expected is not None and (
            secret is None or not hmac.compare_digest(secret.encode(), expected.encode())
        ):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        self.client_auth.append(method)
        return cid

    def device_authorization(self, form: Mapping[str, str], headers: Mapping[str, str]) -> Any:
        with self._lock:
            client_id = self.authenticate_client(form, headers)
            scope = form.get("scope", "").strip()
            if not scope:
                raise OAuthError("invalid_scope", "scope is required")
            device_code = secrets.token_urlsafe(32)
            while True:
                letters = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
                user_code = f"{letters[:4]}-{letters[4:]}"
                if user_code not in self._state.user_codes:
                    break
            now = self.now()
            self._state.devices[device_code] = DeviceGrant(
                user_code=user_code,
                client_id=client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + self.device_code_lifetime,
                interval=float(self.interval),
                device_code_fp=fingerprint(device_code),
            )
            self._state.user_codes[user_code] = device_code
            self._lock.notify_all()
            return {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": self.verification_uri,
                "verification_uri_complete": f"{self.verification_uri}?user_code={user_code}",
                "expires_in": self.device_code_lifetime,
                "interval": self.interval,
                "message": f"To sign in, open {self.verification_uri} and enter {user_code}.",
            }

    def token(self, form: Mapping[str, str], headers: Mapping[str, str]) -> Any:
        grant_type = form.get("grant_type", "")
        with self._lock:
            if grant_type not in (DEVICE_GRANT, "authorization_code", "refresh_token"):
                if not grant_type:
                    raise OAuthError("invalid_request", "grant_type is required")
                raise OAuthError("unsupported_grant_type")
            client_id = self.authenticate_client(form, headers)
            if grant_type == DEVICE_GRANT:
                return self._device_token(client_id, form)
            if grant_type == "authorization_code":
                return self._code_token(client_id, form)
            return self._refresh(client_id, form)

    def _device_token(self, client_id: str, form: Mapping[str, str]) -> Any:
        grant = self._state.devices.get(form.get("device_code", ""))
        if grant is None or grant.client_id != client_id or grant.state == "consumed":
            raise OAuthError("invalid_grant", "unknown or used device_code")
        now = self.now()
        outcome = self._poll_outcome(grant, now)
        grant.polls += 1
        grant.last_poll = now
        self._state.polls.append(Poll(grant.user_code, now, outcome))
        if outcome != "token":
            raise OAuthError(outcome)
        grant.state = "consumed"
        assert grant.user is not None
        return self._issue(client_id, grant.user, grant.scope, self._new_grant(), refresh=True)

    def _poll_outcome(self, grant: DeviceGrant, now: float) -> str:
        if now >= grant.expires_at:
            return "expired_token"
        if grant.last_poll is not None and now - grant.last_poll < (
            grant.interval - self.poll_tolerance
        ):
            grant.interval += self.slow_down_step  # RFC 8628 §3.5: for all later requests
            return "slow_down"
        if (
            grant.state == "pending"
            and self.auto_approve_after is not None
            and grant.polls >= self.auto_approve_after
        ):
            grant.state, grant.user = "approved", self.user
        return {"pending": "authorization_pending", "denied": "access_denied"}.get(
            grant.state, "token"
        )

    def _code_token(self, client_id: str, form: Mapping[str, str]) -> Any:
        for name in ("code", "redirect_uri", "code_verifier"):
            if not form.get(name):
                raise OAuthError("invalid_request", f"{name} is required")
        record = self._state.codes.get(form["code"])
        if record is None or record.client_id != client_id:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if record.used:
            # RFC 6749 §4.1.2: a replayed code revokes what it was exchanged for
            for token in self._state.tokens.values():
                if token.grant_id == record.grant_id:
                    token.revoked = True
            raise OAuthError("invalid_grant", "authorization code already used")
        record.used = True
        if self.now() >= record.expires_at:
            raise OAuthError("invalid_grant", "authorization code expired")
        if form["redirect_uri"] != record.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization")
        verifier = form["code_verifier"]
        if not _PKCE_VALUE.fullmatch(verifier) or not hmac.compare_digest(
            s256(verifier), record.challenge
        ):
            raise OAuthError("invalid_grant", "code_verifier does not match")
        refresh = record.offline or not self.require_offline_access
        return self._issue(client_id, record.user, record.scope, record.grant_id, refresh=refresh)

    def _refresh(self, client_id: str, form: Mapping[str, str]) -> Any:
        value = form.get("refresh_token", "")
        if not value:
            raise OAuthError("invalid_request", "refresh_token is required")
        record = self._state.tokens.get(value)
        if record is None or record.kind != "refresh" or record.client_id != client_id:
            raise OAuthError("invalid_grant", "unknown refresh token")
        if not self._live(record):
            raise OAuthError("invalid_grant", "refresh token revoked or already used")
        scope = record.scope
        if form.get("scope"):
            asked = set(form["scope"].split())
            if not asked <= set(record.scope.split()):
                raise OAuthError("invalid_scope", "scope exceeds the original grant")
            scope = " ".join(sorted(asked))
        self.refresh_count += 1
        if self.rotate_refresh_tokens:
            record.rotated = True
        return self._issue(
            client_id, record.user, scope, record.grant_id, refresh=self.rotate_refresh_tokens
        )

    def authorize(self, query: Mapping[str, str]) -> tuple[int, str]:
        """``(status, location or error text)``; unverifiable clients get no redirect."""
        with self._lock:
            self.authorize_requests.append(dict(query))
            client_id = query.get("client_id", "")
            if client_id not in self._state.clients:
                return 400, "unknown client_id"
            redirect_uri = query.get("redirect_uri", "")
            target = urllib.parse.urlsplit(redirect_uri)
            try:
                port = target.port
            except ValueError:
                port = None
            if (
                target.scheme != "http"
                or target.hostname not in LOOPBACK_HOSTS
                or port is None
                or target.fragment
            ):
                return 400, "redirect_uri must be http://127.0.0.1:<port>/ (RFC 8252 §7.3)"
            state = query.get("state")

            def back(**params: str) -> tuple[int, str]:
                if state is not None:
                    params["state"] = state
                sep = "&" if target.query else "?"
                return 302, redirect_uri + sep + urllib.parse.urlencode(params)

            if query.get("response_type") != "code":
                return back(error="unsupported_response_type")
            if query.get("code_challenge_method") != "S256":
                return back(error="invalid_request", error_description="S256 PKCE required")
            if not _S256_CHALLENGE.fullmatch(query.get("code_challenge", "")):
                return back(error="invalid_request", error_description="bad code_challenge")
            if not state:
                return back(error="invalid_request", error_description="state is required")
            scope = query.get("scope", "").strip()
            if not scope:
                return back(error="invalid_scope")
            if self.authorize_mode == "deny":
                return back(error="access_denied")
            code = secrets.token_urlsafe(32)
            self._state.codes[code] = AuthorizationCode(
                client_id=client_id,
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                scope=scope,
                user=self.user,
                offline=query.get("access_type") == "offline",
                expires_at=self.now() + self.code_lifetime,
                grant_id=self._new_grant(),
            )
            if self.authorize_mode == "wrong_state":
                state = state + "-forged"
            return back(code=code)

    def introspect(self, form: Mapping[str, str], headers: Mapping[str, str]) -> Any:
        with self._lock:
            self.authenticate_client(form, headers)  # RFC 7662 §2.1: callers must authenticate
            record = self._state.tokens.get(form.get("token", ""))
            if record is None or not self._live(record):
                return {"active": False}
            body: dict[str, Any] = {
                "active": True,
                "scope": record.scope,
                "client_id": record.client_id,
                "username": record.user,
                "email": record.user,
                "sub": record.user,
                "token_type": "Bearer" if record.kind == "access" else "refresh_token",
            }
            if record.expires_at is not None:
                body["exp"] = int(time.time() + (record.expires_at - self.now()))
            return body

    def device_page(self, query: Mapping[str, str]) -> str:
        """The verification page: with ``user_code`` the user approves it (as the user)."""
        code = query.get("user_code", "").upper()
        if not code:
            return "Enter the code shown by the application."
        try:
            self.approve(code)
        except (KeyError, ValueError):
            return "That code is unknown, expired or already used."
        return "You are signed in. You may close this window."


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "oauth-test"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry codes and states."""

    def do_GET(self) -> None:
        oauth = self.server.oauth
        parts = urllib.parse.urlsplit(self.path)
        oauth.requests.append(("GET", parts.path))
        try:
            query = _single_values(urllib.parse.parse_qs(parts.query, keep_blank_values=True))
        except OAuthError as exc:
            self._text(400, exc.description)
            return
        if parts.path == "/authorize":
            status, text = oauth.authorize(query)
            if status == 302:
                self.send_response(302)
                self.send_header("Location", text)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._text(status, text)
        elif parts.path == "/device":
            self._text(200, oauth.device_page(query))
        else:
            self._text(404, "not found")

    def do_POST(self) -> None:
        oauth = self.server.oauth
        path = urllib.parse.urlsplit(self.path).path
        oauth.requests.append(("POST", path))
        routes = {
            "/devicecode": oauth.device_authorization,
            "/token": oauth.token,
            "/introspect": oauth.introspect,
        }
        route = routes.get(path)
        if route is None:
            self._json(404, {"error": "not_found"})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        form: dict[str, str] = {}
        try:
            form = self._form(headers)
            self._json(200, route(form, headers))
        except OAuthError as exc:
            body = {"error": exc.error}
            description = exc.description
            if oauth.hostile.echo_secrets:
                description = f"{description}. {_echo(form)}"
            if description:
                body["error_description"] = description
            self._json(exc.status, body)

    def _form(self, headers: Mapping[str, str]) -> dict[str, str]:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "body must be application/x-www-form-urlencoded")
        length = int(headers.get("content-length", "0") or 0)
        if length > 65536:
            raise OAuthError("invalid_request", "body too large")
        raw = self.rfile.read(length).decode("utf-8", "replace")
        return _single_values(urllib.parse.parse_qs(raw, keep_blank_values=True))

    def _json(self, status: int, body: Any) -> None:
        hostile = self.server.oauth.hostile
        if "interval" in body and hostile.interval_json is not None:
            body = {**body, "interval": _RAW}
        data = (
            json.dumps(body)
            .encode()
            .replace(json.dumps(_RAW).encode(), (hostile.interval_json or "").encode())
        )
        if self.path.startswith("/token") and hostile.huge_body is not None:
            self._huge(hostile.huge_body, announce=hostile.announce_length)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Cache-Control", "no-store")  # RFC 6749 §5.1
        self.send_header("Pragma", "no-cache")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="oauth-test"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.path.startswith("/token") and hostile.drip_seconds is not None:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.server.stopping.wait(hostile.drip_seconds):
                    return
            return
        self.wfile.write(data)

    def _huge(self, size: int, *, announce: bool) -> None:
        """``size`` bytes of a JSON string, written until done or the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if announce:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b'{"access_token": "' + b"x" * 65536
        sent = 0
        with contextlib.suppress(OSError):
            while sent < size and not self.server.stopping.is_set():
                self.wfile.write(block[: size - sent])
                sent += len(block[: size - sent])
        self.server.oauth.huge_sent += sent

    def _text(self, status: int, text: str) -> None:
        data = f"<!doctype html><title>test sign-in</title><p>{text}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _id_token(user: str, issuer: str) -> str:
    """An OpenID Connect ID token naming ``user`` (unsigned: it came over the token
    endpoint's own connection, which OIDC Core §3.1.3.7 lets a client trust)."""

    def part(data: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"iss": issuer, "sub": fingerprint(user), "email": user, "email_verified": True}
    return f"{part({'alg': 'none'})}.{part(claims)}."


def _echo(form: Mapping[str, str]) -> str:
    """What a careless server says back: each secret it got, three ways."""
    said = []
    for name in ("refresh_token", "client_secret", "code", "code_verifier", "device_code"):
        value = form.get(name)
        if value:
            middle = len(value) // 2
            encoded = base64.b64encode(value.encode()).decode()
            said.append(f"The {name} {value} ({value[:middle]}\n{value[middle:]}, {encoded})")
    return "; ".join(said)


def _single_values(parsed: Mapping[str, list[str]]) -> dict[str, str]:
    """RFC 6749 §3.1/§3.2: a parameter sent twice is an error, not a choice."""
    repeated = [name for name, values in parsed.items() if len(values) > 1]
    if repeated:
        raise OAuthError("invalid_request", f"repeated parameter: {repeated[0]}")
    return {name: values[0] for name, values in parsed.items()}


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    oauth: OAuthServer
    stopping: threading.Event


@contextlib.contextmanager
def running_oauth_server(
    *, tls: ssl.SSLContext | None = None, **options: Any
) -> Iterator[OAuthServer]:
    """Serve an :class:`OAuthServer` (keywords: its options) on 127.0.0.1 and a free port.

    ``tls``: a server-side context to serve HTTPS with (its ``base_url`` then says https).
    """
    oauth = OAuthServer(**options)
    httpd = _HTTPServer((HOST, 0), _Handler)
    httpd.oauth = oauth
    httpd.stopping = threading.Event()
    oauth.port = httpd.server_address[1]
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        oauth.scheme = "https"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield oauth
    finally:
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def oauth_server() -> Iterator[OAuthServer]:
    """Default server, but ``interval=0``: polling tests should not sleep a second."""
    with running_oauth_server(interval=0) as server:
        yield server


@pytest.fixture
def oauth_server_factory() -> Iterator[Callable[..., OAuthServer]]:
    """Start servers with :func:`running_oauth_server` keywords; all stop at teardown."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> OAuthServer:
            return stack.enter_context(running_oauth_server(**options))

        yield start


@pytest.fixture
def fake_browser_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``BROWSER`` at :mod:`fake_browser`; returns the JSON-lines log of its visits.

    Also clears ``webbrowser``'s cache, which reads ``BROWSER`` only once per process.
    """
    import webbrowser

    log = tmp_path / "fake-browser.jsonl"
    monkeypatch.setenv("BROWSER", fake_browser.install(tmp_path, log=log))
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    return log
