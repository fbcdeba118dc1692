"""Passwords from a command or the system keyring, looked up only when needed.

A password command's output is read up to a bound and never shown: it may hold
the password, or be the output of the wrong command entirely.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time

from pydantic import SecretStr

from protest_dispatch.errors import ConfigError

PASSWORD_COMMAND_SECONDS = 60
MAX_PASSWORD_OUTPUT = 64 * 1024
"""``pass show`` prints the password and a few lines more; 64 KiB is not a password."""
KEYRING_SERVICE = "protest"


def run_password_command(
    command: str,
    *,
    key: str = "smtp_password_command",
    timeout: float = PASSWORD_COMMAND_SECONDS,
) -> str:
    """Like msmtp's passwordeval: the command's first output line is the password."""
    return run_secret_command(command, key=key, what="password", timeout=timeout)


def run_secret_command(
    command: str, *, key: str, what: str, timeout: float = PASSWORD_COMMAND_SECONDS
) -> str:
    """The first output line of the user's own command (a password, an access token).

    Its output is read bounded and never shown: not in a message, not in a log.
    """
    process = subprocess.Popen(  # noqa: S602 - the user's own command, like msmtp passwordeval
        command,
        shell=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        output = _bounded_output(process, key=key, what=what, timeout=timeout)
        status = process.wait(timeout=max(0.1, timeout))
    except subprocess.TimeoutExpired:
        raise _timed_out(key, what, timeout) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    if status != 0:
        raise ConfigError(
            f"The {what} command ({key}) exited with status {status}.",
            key=key,
            hint="Run it yourself to see why; its output is not shown here because it may "
            f"hold the {what}.",
        )
    lines = output.decode("utf-8", errors="replace").splitlines()
    if not lines or not lines[0].strip():  # blank: no secret, and never a mask pattern
        raise ConfigError(
            f"The {what} command ({key}) printed nothing on its first line.",
            key=key,
            hint=f"Run it yourself: its first output line must be the {what}.",
        )
    return lines[0]


def _bounded_output(
    process: subprocess.Popen[bytes], *, key: str, what: str, timeout: float
) -> bytes:
    """Read stdout until it closes, at most MAX_PASSWORD_OUTPUT bytes, within the timeout."""
    assert process.stdout is not None, "stdout is a pipe"
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise subprocess.TimeoutExpired(key, timeout)
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_PASSWORD_OUTPUT:
                raise ConfigError(
                    f"The {what} command ({key}) printed more than "
                    f"{MAX_PASSWORD_OUTPUT // 1024} KiB; that is not one {what}.",
                    key=key,
                    hint=f"Check the command: its first output line must be the {what}.",
                )
            chunks.append(chunk)


def _timed_out(key: str, what: str, timeout: float) -> ConfigError:
    return ConfigError(
        f"The {what} command ({key}) did not finish within {timeout:g} s.",
        key=key,
        hint=f"Run it yourself: it must print the {what} without asking anything.",
    )


def from_keyring(*, username: str, host: str) -> SecretStr:
    import keyring

    try:
        value = keyring.get_password(KEYRING_SERVICE, f"{username}@{host}")
    except Exception as exc:  # any backend failure (OSError, D-Bus): no working keyring
        raise ConfigError(
            f"The system keyring could not be read ({type(exc).__name__}: {exc}).",
            key="smtp_password_keyring",
            hint="Unlock or repair the keyring, or set PROTEST_SMTP_PASSWORD or "
            "smtp_password_command instead.",
        ) from None
    if value is None:
        raise ConfigError(
            f"The keyring has no password for {username}@{host}.",
            key="smtp_password_keyring",
            hint="Run 'protest init' again and choose to store the password in the keyring.",
        )
    return SecretStr(value)


def keyring_works() -> bool:
    """Whether a real keyring backend is there (not the 'fail' or 'null' placeholder)."""
    import keyring
    from keyring.backends import fail, null

    try:
        backend = keyring.get_keyring()
    except Exception:  # any backend failure means "no keyring" here
        return False
    return not isinstance(backend, fail.Keyring | null.Keyring) and backend.priority > 0
