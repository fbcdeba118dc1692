"""One exception root for everything the user can cause or meet.

The CLI maps these to exit codes in one place (``cli.main``); the core raises
them with enough data for a message that says what is wrong, where, and what to
do next. Library exceptions are wrapped at the edge where they happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.vocabulary import ExitCode


class ProtestError(Exception):
    """Root of every error the tool reports to the user instead of a traceback."""

    exit_code: ExitCode = ExitCode.INVALID

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n{self.hint}"


class InputError(ProtestError):
    """Invalid input of any kind: usage, campaign file, template, config, send log."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a campaign, located so a non-programmer can find it."""

    file: Path
    message: str
    line: int | None = None
    target: str | None = None
    field: str | None = None
    others: int = 0
    """How many more targets have the same problem (one fault in a shared letter)."""

    def location(self) -> str:
        parts = [str(self.file) if self.line is None else f"{self.file}, line {self.line}"]
        if self.target is not None:
            more = f" (and {self.others} more)" if self.others else ""
            parts.append(f"target '{self.target}'{more}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}"


class CampaignError(InputError):
    """The campaign file or its letters are invalid; carries every problem found."""

    def __init__(self, problems: Sequence[Problem], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"The campaign is not valid ({head}):\n{body}",
            hint=hint or "Fix the campaign file or letter named above and run the command again.",
        )


class OwnWordsError(InputError):
    """The campaign asks for the sender's own words (``own_words``) and letters lack them."""

    def __init__(self, *, required: int, letters: Sequence[tuple[str, int]]) -> None:
        self.required = required
        self.letters = tuple(letters)
        listed = ", ".join(f"{target} ({count})" for target, count in self.letters[:10])
        more = f" and {len(self.letters) - 10} more" if len(self.letters) > 10 else ""
        super().__init__(
            f"Not sending: the campaign asks every letter to carry at least {required} words "
            f"of your own, and {len(self.letters)} letter(s) have fewer (own words in "
            f"brackets): {listed}{more}.",
            hint="Add your own paragraph with --note or --note-file, or write your own version "
            "of a letter with 'protest edit ID'; 'protest send --dry-run' shows the counts.",
        )


class ConfigError(InputError):
    """A setting is missing or wrong (config file, environment or option)."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        file: Path | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.key = key
        self.file = file


SET_SENDER_HINT = (
    "Run 'protest init', or set --from \"Your Name <you@example.org>\" (or PROTEST_FROM) "
    "and --country."
)


class NoSenderError(ConfigError):
    """Nobody has said who is sending: letters and calls need a real sender."""

    def __init__(self, *, so: str) -> None:
        super().__init__(f"No sender is configured, so {so}.", key="from", hint=SET_SENDER_HINT)


class SendLogError(InputError):
    """The send log cannot be opened, read or written: nothing may be sent blind."""

    def __init__(self, message: str, *, path: Path, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class SendLogUnavailableError(SendLogError):
    """The send log is busy or cannot be written just now (locked, disk full, I/O error).

    Nothing is wrong with the input, so cron should retry: exit 75, not 2.
    """

    exit_code = ExitCode.TEMPFAIL


class LockedError(ProtestError):
    """Another run holds the send log for this campaign."""

    exit_code = ExitCode.TEMPFAIL


class SmtpError(ProtestError):
    """A failure talking to the SMTP server that stops the whole run."""

    exit_code = ExitCode.FAILED

    def __init__(
        self,
        message: str,
        *,
        host: str,
        port: int,
        code: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.port = port
        self.code = code


class SmtpUnavailableError(SmtpError):
    """The server could not be reached or said "try later": cron should retry."""

    exit_code = ExitCode.TEMPFAIL


class SmtpRefusedError(SmtpError):
    """The server refused us in a way waiting will not fix (TLS, certificate, auth)."""

    exit_code = ExitCode.FAILED


class TrustError(InputError):
    """A campaign's signature, manifest or key cannot be trusted: nothing is sent."""

    def __init__(self, message: str, *, file: Path | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.file = file


class TamperedError(TrustError):
    """A signed campaign's file differs from its MANIFEST, is not listed, or the signature fails."""

    def __init__(self, message: str, *, file: Path | None = None, hint: str | None = None) -> None:
        super().__init__(
            message,
            file=file,
            hint=hint
            or "Do not use this copy: get the campaign again from the organiser "
            "('protest get'), or ask them.",
        )


class DownloadError(InputError):
    """A campaign archive that may not be fetched or used: nothing is changed."""

    def __init__(self, message: str, *, url: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url


class ArchiveError(InputError):
    """A campaign archive that cannot be unpacked safely: nothing is changed."""

    def __init__(self, message: str, *, source: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.source = source


class DownloadUnavailableError(DownloadError):
    """The campaign's server could not be reached or did not finish in time: try later."""

    exit_code = ExitCode.TEMPFAIL


class DnsUnavailableError(ProtestError):
    """No DNS server answered at all, so nothing could be checked: try later."""

    exit_code = ExitCode.TEMPFAIL


class ImapError(ProtestError):
    """A failure talking to the IMAP server that stops reading the mailbox."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, *, host: str, port: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.port = port


class ImapUnavailableError(ImapError):
    """The IMAP server could not be reached: cron should try later."""

    exit_code = ExitCode.TEMPFAIL


class ImapRefusedError(ImapError):
    """The IMAP server refused us in a way waiting will not fix (TLS, certificate, login)."""

    exit_code = ExitCode.FAILED


class ImapAnswerError(ImapError):
    """The IMAP server answered with what protest cannot use (a number out of range, an
    answer too large, not IMAP at all): a fault waiting will not fix."""

    exit_code = ExitCode.FAILED


class TokenRefusedError(SmtpRefusedError):
    """The SMTP server refused the OAuth2 access token (XOAUTH2).

    ``status`` and ``scope`` come from the server's decoded error challenge (Gmail
    sends ``334`` with base64 JSON) when it gave one. The dispatcher stops on it, so
    a refused token costs one failed login, not one per letter.
    """

    def __init__(
        self,
        message: str,
        *,
        host: str,
        port: int,
        code: int | None = None,
        status: str | None = None,
        scope: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, host=host, port=port, code=code, hint=hint)
        self.status = status
        self.scope = scope


class SignInRequiredError(ProtestError):
    """No usable OAuth sign-in: none stored, or the provider revoked or expired it.

    ``send`` never starts a sign-in itself; the person runs ``protest login``.
    """

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, *, account: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.account = account


class SignInError(ProtestError):
    """``protest login`` did not complete: denied, timed out, or the answer did not match."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class TokenEndpointUnavailableError(ProtestError):
    """The OAuth token endpoint could not be reached or failed: try later."""

    exit_code = ExitCode.TEMPFAIL

    def __init__(self, message: str, *, url: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url


class PrintError(InputError):
    """A letter cannot be put on paper: no sender address, a character no font draws, ..."""

    def __init__(self, message: str, *, target: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.target = target


class ProxyUnavailableError(ProtestError):
    """The proxy could not be reached, broke the handshake, or could not reach the server.

    No connection is then made at all, never one around the proxy: try later.
    """

    exit_code = ExitCode.TEMPFAIL

    def __init__(
        self, message: str, *, proxy: str, host: str, port: int, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.proxy = proxy
        self.host = host
        self.port = port
