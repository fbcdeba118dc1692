"""Every test runs with its own config and data dirs and plain, colourless output."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import profiles  # noqa: F401  (loads the Hypothesis profile before any test module)

pytest_plugins = [
    "smtp_server",
    "kit",
    "oauth_server",
    "xoauth2_smtp",
    "dovecot",
    "inboxkit",
    "dns_server",
    "https_server",
    "socks5_server",
]

# A runner started as a background job (CI's `&`) ignores SIGINT, and an ignored signal
# stays ignored across exec: the real CLI the tests start would never see their Ctrl-C.
# Handled here, in the runner, the children start with the default again, as they do
# from a person's shell; no child needs a preexec_fn (a fork in this threaded process).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("PROTEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return home
