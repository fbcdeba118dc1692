"""One letter's SMTP transaction on an open session: MAIL, RCPT for each address, DATA.

Driven command by command rather than with aiosmtplib's ``sendmail`` so that a
refused To stops the letter before DATA while a refused copy does not, and so
that every reply becomes a :class:`Delivery` (:mod:`mail.verdict`) instead of an
exception. After a refusal RSET leaves the session clean for the next letter; a
session that breaks is handed back to its owner to drop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import aiosmtplib
from aiosmtplib import SMTPStatus

from protest_dispatch.mail import verdict, wording
from protest_dispatch.mail.envelope import address_problem, unique_copies, wire_size
from protest_dispatch.mail.verdict import Delivery, Tidy
from protest_dispatch.mail.wording import find_in_chain
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import LetterStatus

BROKEN = (aiosmtplib.SMTPException, OSError)
"""What a session that can no longer be trusted raises: aiosmtplib's errors, the socket's."""
_ACCEPTED = frozenset({SMTPStatus.completed, SMTPStatus.will_forward})


class Transaction:
    """One letter on ``smtp``; ``drop`` closes the session when it cannot carry another."""

    def __init__(
        self,
        smtp: aiosmtplib.SMTP,
        *,
        settings: SmtpSettings,
        tidy: Tidy,
        drop: Callable[[], None],
    ) -> None:
        self._smtp = smtp
        self._settings = settings
        self._tidy = tidy
        self._drop = drop

    async def run(self, *, mail_from: str, to: str, copies: Sequence[str], data: bytes) -> Delivery:
        smtp = self._smtp
        extra = unique_copies(to, copies)
        options, problem = _mail_options(smtp, (mail_from, to, *extra), data)
        if problem is not None:
            return Delivery(LetterStatus.FAILED, None, problem)
        encoding = "ascii" if all(a.isascii() for a in (mail_from, to, *extra)) else "utf-8"
        refusal = await self._envelope(smtp, mail_from, to, options, encoding)
        if refusal is not None:
            return refusal
        refused: list[str] = []
        for copy in extra:
            refusal = await self._copy(smtp, copy, encoding, refused)
            if refusal is not None:
                return refusal
        return await self._data(smtp, data, tuple(refused))

    async def _envelope(
        self,
        smtp: aiosmtplib.SMTP,
        mail_from: str,
        to: str,
        options: list[str],
        encoding: str,
    ) -> Delivery | None:
        """MAIL FROM and RCPT TO for the letter's own recipient; a Delivery if either fails."""
        timeout = self._settings.timeout
        try:
            await smtp.mail(mail_from, options=options, encoding=encoding, timeout=timeout)
        except aiosmtplib.SMTPResponseException as exc:
            return await self._end(
                smtp,
                verdict.before_data(f"the sender <{mail_from}>", exc.code, exc.message, self._tidy),
            )
        except (*BROKEN, ValueError) as exc:
            return await self._broken_before_data(smtp, exc, during="MAIL FROM")
        try:
            await _rcpt(smtp, to, encoding=encoding, timeout=timeout)
        except aiosmtplib.SMTPResponseException as exc:
            return await self._end(
                smtp,
                verdict.before_data(f"the recipient <{to}>", exc.code, exc.message, self._tidy),
            )
        except (*BROKEN, ValueError) as exc:
            return await self._broken_before_data(smtp, exc, during=f"RCPT TO <{to}>")
        return None

    async def _copy(
        self, smtp: aiosmtplib.SMTP, copy: str, encoding: str, refused: list[str]
    ) -> Delivery | None:
        """RCPT TO for a copy: a refusal is noted in ``refused``, a broken session ends it."""
        try:
            await _rcpt(smtp, copy, encoding=encoding, timeout=self._settings.timeout)
        except aiosmtplib.SMTPResponseException as exc:
            if not verdict.copy_refused(exc.code):
                return await self._end(
                    smtp,
                    verdict.before_data(
                        f"the copy recipient <{copy}>", exc.code, exc.message, self._tidy
                    ),
                )
            refused.append(f"{copy}: {exc.code} {self._tidy(exc.message)}")
        except (*BROKEN, ValueError) as exc:
            return await self._broken_before_data(smtp, exc, during=f"RCPT TO <{copy}>")
        return None

    async def _data(self, smtp: aiosmtplib.SMTP, data: bytes, refused: tuple[str, ...]) -> Delivery:
        data_timeout = self._settings.data_timeout
        try:
            reply = await smtp.data(data, timeout=data_timeout)
        except aiosmtplib.SMTPResponseException as exc:
            return await self._end(
                smtp, verdict.at_data(exc.code, exc.message, refused, self._tidy)
            )
        except BROKEN as exc:
            timed_out = find_in_chain(exc, TimeoutError) is not None
            return await self._end(
                smtp,
                verdict.lost_after_data(
                    timeout=data_timeout if timed_out else None, refused=refused
                ),
            )
        return Delivery(LetterStatus.SENT, reply.code, self._tidy(reply.message), refused)

    async def _broken_before_data(
        self, smtp: aiosmtplib.SMTP, exc: BaseException, *, during: str
    ) -> Delivery:
        if isinstance(exc, ValueError):  # an address aiosmtplib will not put on the wire
            return await self._end(
                smtp, Delivery(LetterStatus.FAILED, None, wording.bad_address_in(during, exc))
            )
        timed_out = find_in_chain(exc, TimeoutError) is not None
        return await self._end(
            smtp,
            verdict.broken_before_data(
                during=during, timeout=self._settings.timeout if timed_out else None
            ),
        )

    async def _end(self, smtp: aiosmtplib.SMTP, delivery: Delivery) -> Delivery:
        """RSET after a refusal so the next letter starts clean, or give the session up."""
        if delivery.reconnect:
            self._drop()  # aiosmtplib closes on 421 for commands, not for DATA
            return delivery
        try:
            await smtp.rset(timeout=self._settings.timeout)
        except BROKEN:
            self._drop()
            return Delivery(
                delivery.outcome, delivery.code, delivery.message, delivery.refused, True
            )
        return delivery


def _mail_options(
    smtp: aiosmtplib.SMTP, addresses: Sequence[str], data: bytes
) -> tuple[list[str], str | None]:
    """MAIL FROM parameters for this letter, or why it cannot go through this server."""
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            return [], wording.bad_address(address, problem)
    options: list[str] = []
    if not all(a.isascii() for a in addresses):
        if not smtp.supports_extension("smtputf8"):
            return [], wording.NO_SMTPUTF8
        options.append("SMTPUTF8")
    if not data.isascii():
        if not smtp.supports_extension("8bitmime"):
            return [], wording.NO_8BITMIME
        options.append("BODY=8BITMIME")
    if smtp.supports_extension("size"):
        size = wire_size(data)
        limit = _size_limit(smtp)
        if limit and size > limit:  # RFC 1870: refuse it here rather than after DATA
            return [], wording.too_big(size, limit)
        options.append(f"SIZE={size}")
    return options, None


def _size_limit(smtp: aiosmtplib.SMTP) -> int | None:
    """The largest message the server takes (EHLO's SIZE parameter); 0 or none: no limit."""
    value = str(smtp.esmtp_extensions.get("size", "")).strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


async def _rcpt(smtp: aiosmtplib.SMTP, address: str, *, encoding: str, timeout: float) -> None:
    """RCPT TO for an address ``address_problem`` has passed.

    aiosmtplib's ``rcpt()`` parses the address again with email.utils, which was a
    third of the time a letter spends in the transport.
    """
    reply = await smtp.execute_command(
        b"RCPT", b"TO:<" + address.encode(encoding) + b">", timeout=timeout
    )
    if reply.code not in _ACCEPTED:
        raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, address)
