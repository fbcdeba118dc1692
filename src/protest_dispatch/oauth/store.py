"""Where the refresh token lives: the system keyring, or a file only its owner can read.

The keyring entry is service ``protest``, name ``oauth:USERNAME@HOST``, value the
refresh token, through the ``keyring`` library (so ``PYTHON_KEYRING_BACKEND``
chooses the backend). The file fallback is ``oauth-tokens.json`` in the data
folder, mode 600 in a 700 folder, written atomically. Access tokens are never
stored anywhere: they live in memory only.

A keyring can fail in any way: keyring's own errors, but also OSError, D-Bus errors
from SecretService (jaraco/keyring#514) or a backend's bug. Every failure means "no
working keyring": the file is used instead, the failure is kept in
``keyring_failures`` for the caller to warn about, and a completed sign-in is never
lost to it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from protest_dispatch.errors import ConfigError
from protest_dispatch.files import (
    data_folder,
    exclusive_lock,
    make_private_folder,
    write_private,
)
from protest_dispatch.settings.secrets import KEYRING_SERVICE
from protest_dispatch.vocabulary import TokenStore

FILE_NAME = "oauth-tokens.json"


def default_token_file() -> Path:
    return data_folder() / FILE_NAME


def keyring_entry(*, username: str, host: str) -> str:
    return f"oauth:{username}@{host}"


@dataclass(frozen=True)
class RefreshTokenStore:
    """The refresh token of one account (``username`` at the SMTP ``host``)."""

    username: str
    host: str
    file: Path
    keyring_failures: list[str] = field(default_factory=list, compare=False, repr=False)
    """What went wrong with the keyring in this store's calls (exception type and text)."""

    @classmethod
    def for_account(
        cls, *, username: str, host: str, file: Path | None = None
    ) -> RefreshTokenStore:
        return cls(username=username, host=host, file=file or default_token_file())

    @property
    def entry(self) -> str:
        return keyring_entry(username=self.username, host=self.host)

    def load(self) -> tuple[str, TokenStore] | None:
        """The stored refresh token and where it was: the keyring first, then the file."""
        value = _keyring_get(self.entry, self.keyring_failures)
        if value:
            return value, TokenStore.KEYRING
        in_file = self._read_file().get(self.entry)
        if isinstance(in_file, str) and in_file:
            return in_file, TokenStore.FILE
        return None

    def save(self, token: str, *, where: TokenStore) -> TokenStore:
        """Store ``token``; a keyring that does not work falls back to the file.

        Returns where it went. Whatever the other place held for this account is
        removed, so a later ``load`` cannot find a stale token first.
        """
        if where is TokenStore.KEYRING and _keyring_set(self.entry, token, self.keyring_failures):
            self._remove_from_file()
            return TokenStore.KEYRING
        data = self._read_file()
        data[self.entry] = token
        self._write_file(data)
        _keyring_delete(self.entry, self.keyring_failures)
        return TokenStore.FILE

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the sign-in lock: one refresh at a time across processes (two cron runs).

        With rotation, a refresh token presented after another process has rotated it
        is refused (and some providers then revoke the whole sign-in), so load,
        refresh and save happen under this lock. The lock file stays, like the send
        log's: deleting a flock file while others wait on it would split the lock.
        """
        lock = self.file.with_name(self.file.name + ".lock")
        with contextlib.ExitStack() as held:
            try:
                make_private_folder(lock.parent)
                held.enter_context(exclusive_lock(lock, wait=True))
            except OSError as exc:
                raise ConfigError(
                    f"The sign-in lock {lock} cannot be opened: {exc.strerror}.",
                    file=lock,
                    hint="Check that the data folder is yours and has free space.",
                ) from None
            yield

    def delete(self) -> list[TokenStore]:
        """Remove what ``login`` stored; returns the places that held something."""
        held = _keyring_get(self.entry, self.keyring_failures) is not None
        removed = (
            [TokenStore.KEYRING]
            if held and _keyring_delete(self.entry, self.keyring_failures)
            else []
        )
        if self._remove_from_file():
            removed.append(TokenStore.FILE)
        return removed

    def _remove_from_file(self) -> bool:
        data = self._read_file()
        if self.entry not in data:
            return False
        del data[self.entry]
        self._write_file(data)
        return True

    def _read_file(self) -> dict[str, object]:
        try:
            text = self.file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(
                f"The sign-in file {self.file} cannot be read: {exc.strerror}.",
                file=self.file,
                hint="Check its owner and permissions (it should be yours, mode 600).",
            ) from None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ConfigError(
                f"The sign-in file {self.file} is damaged.",
                file=self.file,
                hint="Delete it and run `protest login` again.",
            )
        return data

    def _write_file(self, data: dict[str, object]) -> None:
        try:
            make_private_folder(self.file.parent)
            write_private(self.file, json.dumps(data).encode("utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"The sign-in file {self.file} cannot be written: {exc.strerror}.",
                file=self.file,
                hint="Check that the data folder is yours and has free space.",
            ) from None


def _keyring_get(entry: str, failures: list[str]) -> str | None:
    import keyring

    try:
        value = keyring.get_password(KEYRING_SERVICE, entry)
    except Exception as exc:  # any backend failure: no working keyring; the file may have it
        _note(failures, exc)
        return None
    return value if isinstance(value, str) else None


def _keyring_set(entry: str, token: str, failures: list[str]) -> bool:
    import keyring

    try:
        keyring.set_password(KEYRING_SERVICE, entry, token)
    except Exception as exc:  # any backend failure: the caller writes the file instead
        _note(failures, exc)
        return False
    return True


def _keyring_delete(entry: str, failures: list[str]) -> bool:
    import keyring
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, entry)
    except PasswordDeleteError:  # nothing there
        return False
    except Exception as exc:  # any backend failure: nothing could be there for us
        _note(failures, exc)
        return False
    return True


def _note(failures: list[str], exc: Exception) -> None:
    """Keep ``OSError: [Errno 5] ...`` (one short line) unless there is simply no keyring."""
    from keyring.errors import NoKeyringError

    if isinstance(exc, NoKeyringError):
        return  # a machine without one (a server, cron): nothing broke
    text = " ".join(str(exc).split())[:120]
    failure = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if failure not in failures:
        failures.append(failure)
