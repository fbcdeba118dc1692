"""SASL XOAUTH2 on an open aiosmtplib session, reporting why a token was refused.

aiosmtplib's own ``auth_xoauth2`` answers Gmail's ``334 <base64 JSON>`` error
challenge correctly but drops the JSON, and that JSON is the only place that says
whether the token expired (``status`` 401) or lacks the mail scope. So the
exchange is driven here with aiosmtplib's encoder. The token never appears in
any exception text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable

import aiosmtplib
from aiosmtplib.auth import auth_xoauth2_encode

from protest_dispatch.errors import (
    ConfigError,
    SmtpError,
    SmtpRefusedError,
    SmtpUnavailableError,
    TokenRefusedError,
)
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.text import ANY_CONTROL

_AUTH_OK = 235
_CHALLENGE = 334
_UNSAFE = ANY_CONTROL


class XOAuth2Refusal(Exception):
    """The server refused the token; ``status`` and ``scope`` from its challenge, if any."""

    def __init__(self, code: int, message: str, status: str | None, scope: str | None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.status = status
        self.scope = scope


async def auth_xoauth2(
    smtp: aiosmtplib.SMTP,
    *,
    username: str,
    token: str,
    remember: Callable[[str], None] = lambda argument: None,
) -> None:
    """Sign in with ``token``; raises :class:`XOAuth2Refusal` or aiosmtplib's errors.

    After an error challenge the protocol requires an empty line before the final
    reply (RFC 4954 lets the client cancel with ``*``; Gmail documents the empty
    line), so the session stays in step and can be closed politely.
    """
    if _UNSAFE.search(username) or _UNSAFE.search(token):
        raise ValueError("the username or token contains control characters")
    argument = auth_xoauth2_encode(username, token)
    remember(argument.decode("ascii"))
    reply = await smtp.execute_command(b"AUTH", b"XOAUTH2", argument)
    status = scope = None
    if reply.code == _CHALLENGE:
        status, scope = _decode_challenge(reply.message)
        reply = await smtp.execute_command(b"")
    if reply.code != _AUTH_OK:
        raise XOAuth2Refusal(reply.code, reply.message, status, scope)


def _decode_challenge(text: str) -> tuple[str | None, str | None]:
    """``status`` and ``scope`` from Gmail's base64 JSON; (None, None) if it is not that."""
    try:
        data = json.loads(base64.b64decode(text.strip(), validate=True))
    except (binascii.Error, ValueError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    status, scope = data.get("status"), data.get("scope")
    return (
        _UNSAFE.sub(" ", str(status)) if status is not None else None,
        _UNSAFE.sub(" ", str(scope)) if scope is not None else None,
    )


async def fresh_token(settings: SmtpSettings) -> str:
    """This connection's access token, from the provider the commands layer attached."""
    if settings.token is None:
        raise ConfigError(
            "smtp_auth is xoauth2 but no token source is set up.",
            key="smtp_oauth_token_command",
            hint="Set smtp_oauth_token_command, or run 'protest login'.",
        )
    return await settings.token()


async def sign_in(
    smtp: aiosmtplib.SMTP,
    *,
    settings: SmtpSettings,
    token: str,
    remember: Callable[[str], None],
    tidy: Callable[[str], str],
) -> None:
    """XOAUTH2 as ``settings.username``, or an SmtpError that says what to do next.

    ``remember`` learns the SASL argument as sent, and ``tidy`` masks it (with the
    token, which the caller's masker knows) in whatever the server says back.

    Network trouble (aiosmtplib errors, OSError) is left to the caller, which
    classifies it the same way for every step of opening a connection.
    """
    where = f"{settings.host}:{settings.port}"
    username = settings.username or ""
    if "xoauth2" not in smtp.server_auth_methods:
        offered = " ".join(smtp.server_auth_methods).upper() or "none"
        raise SmtpRefusedError(
            f"The SMTP server {where} does not offer XOAUTH2 sign-in (it offers: {offered}); "
            "nothing was sent.",
            host=settings.host,
            port=settings.port,
            hint="Check smtp_host and smtp_port against your provider's OAuth2 SMTP settings, "
            'or set smtp_auth = "password" if this server takes a password.',
        )
    try:
        await auth_xoauth2(smtp, username=username, token=token, remember=remember)
    except ValueError:
        raise ConfigError(
            "The username or the OAuth2 access token contains control characters, so it "
            "was not sent to the server.",
            key="smtp_oauth_token_command",
            hint="Check smtp_username, and that the token command prints only the token.",
        ) from None
    except XOAuth2Refusal as refusal:
        raise _refused(refusal, settings=settings, tidy=tidy) from None


def _refused(
    refusal: XOAuth2Refusal, *, settings: SmtpSettings, tidy: Callable[[str], str]
) -> SmtpError:
    """4xx: try later. 5xx: the token is refused, with Gmail's decoded reason if it gave one."""
    where = f"{settings.host}:{settings.port}"
    text = tidy(refusal.message)
    if 400 <= refusal.code < 500:
        return SmtpUnavailableError(
            f"The SMTP server {where} could not check the sign-in now: "
            f"{refusal.code} {text}. Nothing was sent.",
            host=settings.host,
            port=settings.port,
            code=refusal.code,
            hint="Run the command again later; a cron job will retry by itself.",
        )
    details = [f"status {tidy(refusal.status)}"] if refusal.status is not None else []
    if refusal.status is not None and refusal.scope:
        details.append(f"scope {tidy(refusal.scope)}")
    reason = f" ({', '.join(details)})" if details else ""
    return TokenRefusedError(
        f"The SMTP server {where} refused the OAuth2 token for {settings.username!r}: "
        f"{refusal.code} {text}{reason}. Nothing was sent, and no more sign-ins are "
        "tried in this run.",
        host=settings.host,
        port=settings.port,
        code=refusal.code,
        status=refusal.status,
        scope=refusal.scope,
        hint="Check that smtp_username is the mailbox you signed in as and that the "
        "scope allows SMTP; then run `protest login` again, or check your token command.",
    )
