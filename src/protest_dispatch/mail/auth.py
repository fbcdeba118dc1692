"""SMTP AUTH: the mechanisms this tool speaks, and the one place a login is tried.

Each mechanism is a small coroutine that drives the exchange over
``SMTP.execute_command`` and hands every argument it sends to ``remember`` (so
a server that echoes it cannot put the secret in a message). A new mechanism
(e.g. XOAUTH2 with a token from a provider) is one more function in
:data:`MECHANISMS` and a place in :data:`PREFERENCE`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import aiosmtplib
from aiosmtplib.auth import auth_crammd5_verify, auth_login_encode, auth_plain_encode

Remember = Callable[[str], None]
Mechanism = Callable[[aiosmtplib.SMTP, str, str, Remember], Awaitable[None]]

_S = aiosmtplib.SMTPStatus
# Replies meaning "not this mechanism" rather than "wrong credentials": try the next one.
MECHANISM_UNSUPPORTED = frozenset(
    {
        _S.unrecognized_command,
        _S.unrecognized_parameters,
        _S.command_not_implemented,
        _S.parameter_not_implemented,
    }
)


async def _send(smtp: aiosmtplib.SMTP, *args: bytes, expect: int) -> aiosmtplib.SMTPResponse:
    reply = await smtp.execute_command(*args)
    if reply.code != expect:
        raise aiosmtplib.SMTPAuthenticationError(reply.code, reply.message)
    return reply


async def _plain(
    smtp: aiosmtplib.SMTP, username: str, credentials: str, remember: Remember
) -> None:
    argument = auth_plain_encode(username, credentials)
    remember(argument.decode("ascii"))
    await _send(smtp, b"AUTH", b"PLAIN", argument, expect=_S.auth_successful)


async def _login(
    smtp: aiosmtplib.SMTP, username: str, credentials: str, remember: Remember
) -> None:
    user, password = auth_login_encode(username, credentials)
    remember(user.decode("ascii"))
    remember(password.decode("ascii"))
    await _send(smtp, b"AUTH", b"LOGIN", user, expect=_S.auth_continue)
    await _send(smtp, password, expect=_S.auth_successful)


async def _cram_md5(
    smtp: aiosmtplib.SMTP, username: str, credentials: str, remember: Remember
) -> None:
    challenge = await _send(smtp, b"AUTH", b"CRAM-MD5", expect=_S.auth_continue)
    response = auth_crammd5_verify(username, credentials, challenge.message)
    remember(response.decode("ascii"))
    await _send(smtp, response, expect=_S.auth_successful)


MECHANISMS: dict[str, Mechanism] = {"plain": _plain, "login": _login, "cram-md5": _cram_md5}
# PLAIN first: it is what every submission server supports, and it runs over TLS.
PREFERENCE: tuple[str, ...] = ("plain", "login", "cram-md5")


def usable(offered: Sequence[str]) -> list[str]:
    """The mechanisms both sides speak, in our order of preference."""
    return [name for name in PREFERENCE if name in offered and name in MECHANISMS]


async def authenticate(
    smtp: aiosmtplib.SMTP,
    *,
    username: str,
    credentials: str,
    mechanisms: Sequence[str],
    remember: Remember,
) -> None:
    """Log in with the first of ``mechanisms`` the server really supports.

    Unlike ``SMTP.login``, which tries every advertised method after any failure, a
    refusal of the credentials ends it: one wrong password must count as one failed
    login on the provider's side, not three. Raises ``SMTPAuthenticationError``.
    """
    for position, name in enumerate(mechanisms):
        try:
            await MECHANISMS[name](smtp, username, credentials, remember)
        except aiosmtplib.SMTPAuthenticationError as exc:
            last = position == len(mechanisms) - 1
            if exc.code not in MECHANISM_UNSUPPORTED or last:
                raise
        else:
            return
