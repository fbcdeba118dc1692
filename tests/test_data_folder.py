"""The data folder holds the send log and the sign-in file: only its owner may enter it."""

from __future__ import annotations

import os
import stat

from kit import cli
from protest_dispatch.files import data_folder


def test_an_existing_data_folder_at_755_is_tightened_to_700_with_a_note() -> None:
    folder = data_folder()
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    (folder / "oauth-tokens.json").write_text("{}")

    first = cli(["logout"], env={"PROTEST_SMTP_HOST": "smtp.example.org"})
    again = cli(["logout"], env={"PROTEST_SMTP_HOST": "smtp.example.org"})

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert f"note: the data folder {folder} was mode 755" in first.stderr
    assert "it is now 700" in first.stderr
    assert "data folder" not in again.stderr  # said once, when it changed


def test_a_private_or_missing_data_folder_is_left_alone_and_says_nothing() -> None:
    missing = cli(["log"])
    folder = data_folder()
    assert not folder.exists()  # a reading command does not create it
    folder.mkdir(parents=True, mode=0o700)
    os.chmod(folder, 0o700)
    private = cli(["log"])
    assert "data folder" not in missing.stderr + private.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
