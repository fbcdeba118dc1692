"""The real CLI on a real pseudo-terminal of a given size: the screen a person reads.

stdin, stdout and stderr are all the terminal, as in an activist's shell; the window
size is set on the terminal, so rich measures it as it would a real one. The screen
comes back as text: colours and cursor codes removed, lines as the terminal shows them.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence

from kit import subprocess_env

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


def screen(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    columns: int,
    typed: bytes = b"",
    timeout: float = 60,
) -> tuple[int, str]:
    """(exit code, what the terminal shows) of ``protest *args`` at ``columns`` wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    child_env = subprocess_env(env)
    child_env.pop("COLUMNS", None)
    child_env.pop("LINES", None)
    child_env["TERM"] = "xterm-256color"
    child = subprocess.Popen(
        [sys.executable, "-m", "protest_dispatch", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env,
        start_new_session=True,
    )
    os.close(slave)
    if typed:
        os.write(master, typed)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed its side
                    break
                if not chunk:
                    break
                seen += chunk
            elif child.poll() is not None:
                break
        code = child.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
            child.wait()
    text = _ESCAPES.sub("", seen.decode("utf-8", "replace")).replace("\r\n", "\n")
    return code, text


def broken_words(text: str, words: Sequence[str]) -> list[str]:
    """The ``words`` (slugs, addresses, dates) that appear only split across lines."""
    joined_lines = text.splitlines()
    return [w for w in words if not any(w in line for line in joined_lines)]


def widest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)
