"""Every test runs with its own config and data dirs and plain, colourless output."""

from __future__ import annotations

import os
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
