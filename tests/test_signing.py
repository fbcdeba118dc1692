"""Signed campaigns: keygen, sign, verification in every command, trust on first use."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit import FROM, cli, env_for, log_rows, send, subprocess_env
from protest_dispatch.campaign.manifest import MANIFEST, SIGNATURE
from signkit import PASSPHRASE_ENV, Key, make_key, set_public_key, sign, signed_campaign
from smtp_server import Server

ENV = {"PROTEST_FROM": FROM, "PROTEST_COUNTRY": "GB"}


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def key(tmp_path: Path) -> Key:
    (tmp_path / "keys").mkdir()
    return make_key(tmp_path / "keys" / "organiser.key")


def test_keygen_writes_a_private_secret_key_and_prints_the_public_key(tmp_path: Path) -> None:
    made = make_key(tmp_path / "org.key")
    assert stat.S_IMODE((tmp_path / "org.key").stat().st_mode) == 0o600
    public_file = (tmp_path / "org.key.pub").read_text().splitlines()
    assert public_file[1] == made.public
    secret = (tmp_path / "org.key").read_bytes()
    assert b"correct-horse" not in secret
    assert secret.startswith(b"untrusted comment: minisign encrypted secret key")


def test_keygen_never_replaces_a_key_and_needs_a_passphrase(tmp_path: Path) -> None:
    make_key(tmp_path / "org.key")
    before = (tmp_path / "org.key").read_bytes()
    run = cli(["keygen", str(tmp_path / "org.key")], env=PASSPHRASE_ENV, expect=2)
    assert "already exists" in run.err
    assert (tmp_path / "org.key").read_bytes() == before
    run = cli(["keygen", str(tmp_path / "other.key")], expect=2)
    assert "PROTEST_KEY_PASSWORD_COMMAND" in _flat(run.err)
    assert not (tmp_path / "other.key").exists()


def test_sign_refuses_without_the_matching_public_key_and_prints_the_line(
    tmp_path: Path, key: Key
) -> None:
    folder = tmp_path / "c"
    cli(["new", str(folder)], expect=0)
    out = _flat(sign(folder, key, expect=2))
    assert "has no campaign.public_key" in out
    assert f"public_key: {key.public}" in out
    other = make_key(tmp_path / "other.key")
    set_public_key(folder, other.public)
    out = _flat(sign(folder, key, expect=2))
    assert f"names the public key {other.public}" in out
    assert not (folder / MANIFEST).exists()
    assert not (folder / SIGNATURE).exists()


def test_a_signed_campaign_lists_every_file_protest_reads(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    listed = [line.split("  ", 1)[1] for line in (folder / MANIFEST).read_text().splitlines()]
    assert listed == sorted(
        ["letters/call.txt.j2", "letters/letter.md.j2", "targets.schema.json", "targets.yaml"]
    )
    check = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=folder, capture_output=True)
    assert check.returncode == 0


def test_first_use_remembers_the_key_and_later_uses_verify(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    first = cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    assert f"first use of 'my-campaign', so its key {key.public} is remembered" in _flat(first.err)
    again = cli(["send", "--dry-run", "-t", str(folder)], env=ENV, expect=0)
    assert f"verified with the key {key.public}" in _flat(again.err)
    assert "unsigned" not in again.err


def test_an_unsigned_campaign_is_used_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    cli(["new", str(folder)], expect=0)
    for command in (["validate"], ["send", "--dry-run"]):
        run = cli([*command, "-t", str(folder)], env=ENV, expect=0)
        assert "unsigned campaign: check that it came from the organiser" in _flat(run.err)


def _refused_everywhere(folder: Path, *words: str) -> None:
    """validate, the dry run, calls and a real send all stop with exit 2; nothing is sent."""
    send_env = {**ENV, "PROTEST_SMTP_HOST": "127.0.0.1", "PROTEST_SMTP_PORT": "9"}
    for command in (["validate"], ["send", "--dry-run"], ["calls"], ["send", "--yes"]):
        run = cli([*command, "-t", str(folder)], env=send_env, expect=2)
        for word in words:
            assert word in _flat(run.err), (command, run.err)


def test_a_changed_file_is_refused_naming_it(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    letter = folder / "letters" / "letter.md.j2"
    letter.write_text(letter.read_text() + "One more line.\n")
    _refused_everywhere(folder, f"{letter} differs from the signed MANIFEST")


def test_a_swapped_address_is_refused(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    targets = folder / "targets.yaml"
    targets.write_text(targets.read_text().replace("minister@example.org", "collector@example.net"))
    _refused_everywhere(folder, f"{targets} differs from the signed MANIFEST")


@pytest.mark.parametrize("name", ["letters/extra.txt.j2", "attachments/leaflet.pdf"])
def test_an_unlisted_file_protest_reads_is_refused(tmp_path: Path, key: Key, name: str) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    (folder / name).parent.mkdir(exist_ok=True)
    (folder / name).write_text("added later\n")
    _refused_everywhere(folder, f"{folder / name} is not in the signed MANIFEST")


def test_files_protest_does_not_read_may_be_added(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    (folder / "README.md").write_text("changed\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    cli(["validate", "-t", str(folder)], env=ENV, expect=0)


def test_a_signature_over_another_manifest_or_truncated_is_refused(
    tmp_path: Path, key: Key
) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    other = signed_campaign(tmp_path / "other", key)
    (other / "letters" / "call.txt.j2").write_text("Another call.\n")
    sign(other, key)
    original = (folder / SIGNATURE).read_bytes()
    shutil.copy(other / SIGNATURE, folder / SIGNATURE)
    _refused_everywhere(folder, f"{folder / SIGNATURE} does not verify")
    (folder / SIGNATURE).write_bytes(original[: len(original) // 2])
    _refused_everywhere(folder, f"{folder / SIGNATURE} does not verify")


def test_a_manifest_listing_a_path_outside_the_folder_is_refused(tmp_path: Path, key: Key) -> None:
    """The manifest is re-signed, so only the path check can catch it."""
    import minisign

    folder = signed_campaign(tmp_path / "c", key)
    (tmp_path / "secret.txt").write_text("outside\n")
    manifest = (folder / MANIFEST).read_text() + f"{'0' * 64}  ../secret.txt\n"
    (folder / MANIFEST).write_text(manifest)
    secret = minisign.SecretKey.from_file(key.secret)
    secret.decrypt("correct-horse")
    secret.sign_file(folder / MANIFEST, drop_signature=True, prehash=True)
    _refused_everywhere(folder, "the path '../secret.txt' lies outside the campaign folder")


def test_a_trusted_comment_with_terminal_escapes_is_shown_escaped(tmp_path: Path, key: Key) -> None:
    import minisign
    from cryptography.hazmat.primitives.asymmetric import ed25519

    folder = signed_campaign(tmp_path / "c", key)
    secret = minisign.SecretKey.from_file(key.secret)
    secret.decrypt("correct-horse")
    good = secret.sign((folder / MANIFEST).read_bytes(), trusted_comment="x")
    raw = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(secret._keynum_sk.secret_key))
    comment = "timestamp:1\t\x1b]52;c;ZXZpbA==\x07\x1b[2J"
    forged = minisign.Signature(
        _untrusted_comment="u",
        _signature_algorithm=good._signature_algorithm,
        _key_id=good._key_id,
        _signature=good._signature,
        _trusted_comment=comment,
        _global_signature=raw.sign(good._signature + comment.encode()),
    )
    (folder / SIGNATURE).write_bytes(bytes(forged) + b"\n")
    run = cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    assert "\x1b" not in run.output
    assert "\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J" in run.err


def test_another_key_for_a_known_campaign_is_refused_until_trusted(
    tmp_path: Path, key: Key
) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    intruder = make_key(tmp_path / "intruder.key")
    set_public_key(folder, intruder.public)
    sign(folder, intruder)
    _refused_everywhere(
        folder,
        f"signed by the key {intruder.public}, but you first used it signed by {key.public}",
        f"protest trust my-campaign --key {intruder.public}",
    )
    run = cli(["trust", "my-campaign", "--key", intruder.public], expect=2)
    assert "no terminal to confirm on" in run.err
    cli(["validate", "-t", str(folder)], env=ENV, expect=2)
    cli(["trust", "my-campaign", "--key", intruder.public, "--yes"], expect=0)
    run = cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    assert f"verified with the key {intruder.public}" in _flat(run.err)


def test_an_unsigned_copy_of_a_campaign_signed_before_is_refused(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    (folder / SIGNATURE).unlink()
    _refused_everywhere(folder, "is not signed, but an earlier copy was signed by the key")


def test_trust_refuses_a_key_that_is_not_one(tmp_path: Path) -> None:
    run = cli(["trust", "my-campaign", "--key", "not-a-key", "--yes"], expect=2)
    assert "minisign public key" in run.err


@pytest.mark.skipif(shutil.which("minisign") is None, reason="Debian's minisign is not installed")
def test_signatures_cross_check_with_the_minisign_tool(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    verified = subprocess.run(
        ["minisign", "-V", "-m", str(folder / MANIFEST), "-P", key.public],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    assert "campaign:my-campaign" in verified.stdout
    # and the other way: a key and signature made by minisign itself
    tool_key = tmp_path / "tool.key"
    subprocess.run(
        ["minisign", "-G", "-W", "-s", str(tool_key), "-p", str(tmp_path / "tool.pub")],
        check=True,
        capture_output=True,
    )
    tool_public = (tmp_path / "tool.pub").read_text().splitlines()[1]
    set_public_key(folder, tool_public)
    cli(["trust", "my-campaign", "--key", tool_public, "--yes"], expect=0)
    manifest_text = (folder / MANIFEST).read_text()
    (folder / MANIFEST).unlink()
    from protest_dispatch.campaign.manifest import build

    (folder / MANIFEST).write_text(build(folder).text())
    assert manifest_text != (folder / MANIFEST).read_text()
    subprocess.run(
        ["minisign", "-S", "-s", str(tool_key), "-m", str(folder / MANIFEST)],
        check=True,
        capture_output=True,
    )
    run = cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    assert f"verified with the key {tool_public}" in _flat(run.err)


def test_the_send_log_keeps_the_campaign_copy_each_letter_went_out_under(
    tmp_path: Path, key: Key, smtp_server: Server
) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    env = {**env_for(smtp_server, log=tmp_path / "log.sqlite3"), "PROTEST_COUNTRY": "GB"}
    assert send(folder, env=env).code == 0
    manifest = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    rows = log_rows(env)
    assert {r["target"]: r["campaign_sha256"] for r in rows} == {
        "ministry": manifest,
        "embassy-gb": manifest,
    }
    unsigned = tmp_path / "u"
    cli(["new", str(unsigned)], expect=0)
    targets = unsigned / "targets.yaml"
    targets.write_text(targets.read_text().replace("my-campaign", "other-campaign"))
    assert send(unsigned, env=env).code == 0
    digest = hashlib.sha256(targets.read_bytes()).hexdigest()
    rows = log_rows(env, "--campaign", "other-campaign")
    assert {r["campaign_sha256"] for r in rows} == {digest}


def _read_until(fd: int, marker: bytes, seen: bytes = b"") -> bytes:
    deadline = time.monotonic() + 30
    while marker not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.slow
def test_keygen_and_sign_ask_the_passphrase_on_the_terminal_without_echo(
    tmp_path: Path,
) -> None:
    """A real pseudo-terminal as the controlling terminal, as a person types."""

    def run(args: list[str], answers: list[bytes]) -> tuple[int, bytes]:
        # setsid --ctty makes the terminal the child's controlling one, as getpass needs,
        # without forking this multi-threaded test process (pty.fork may deadlock).
        fd, child_side = pty.openpty()
        child = subprocess.Popen(
            ["setsid", "--ctty", "--wait", sys.executable, "-m", "protest_dispatch", *args],
            stdin=child_side,
            stdout=child_side,
            stderr=child_side,
            env={**subprocess_env({}), "COLUMNS": "200"},
        )
        os.close(child_side)
        seen = b""
        for answer in answers:  # each prompt afresh: getpass flushes what was typed ahead
            seen += _read_until(fd, b": ")
            os.write(fd, answer + b"\n")
        seen += _read_until(fd, b"\x00never")
        code = child.wait(timeout=60)
        os.close(fd)
        return code, seen

    code, seen = run(["keygen", str(tmp_path / "k.key")], [b"tty-secret", b"tty-secret"])
    assert code == 0, seen
    assert b"tty-secret" not in seen
    assert b"Passphrase for the new key" in seen
    public = (tmp_path / "k.key.pub").read_text().splitlines()[1]
    folder = tmp_path / "c"
    cli(["new", str(folder)], expect=0)
    set_public_key(folder, public)
    code, seen = run(["sign", str(folder), "--key", str(tmp_path / "k.key")], [b"wrong"])
    assert code == 2, seen
    assert b"is wrong" in seen
    code, seen = run(["sign", str(folder), "--key", str(tmp_path / "k.key")], [b"tty-secret"])
    assert code == 0, seen
    assert (folder / SIGNATURE).is_file()


def test_sign_refuses_a_linked_letter_and_says_how_to_fix_it(tmp_path: Path, key: Key) -> None:
    folder = tmp_path / "c"
    cli(["new", str(folder)], expect=0)
    set_public_key(folder, key.public)
    (tmp_path / "elsewhere.txt.j2").write_text("Hello.\n")
    (folder / "letters" / "linked.txt.j2").symlink_to(tmp_path / "elsewhere.txt.j2")
    out = _flat(sign(folder, key, expect=2))
    assert "linked.txt.j2 is a symbolic link" in out
    assert "Put the file itself in its place" in out
    assert not (folder / MANIFEST).exists()


def test_another_campaign_file_beside_a_signed_one_is_refused(tmp_path: Path, key: Key) -> None:
    folder = signed_campaign(tmp_path / "c", key)
    other = folder / "other.yaml"
    other.write_text((folder / "targets.yaml").read_text().replace("minister@", "collector@"))
    run = cli(["validate", "-t", str(other)], env=ENV, expect=2)
    assert f"{other} is not in the signed MANIFEST" in _flat(run.err)


@pytest.mark.slow
@pytest.mark.parametrize(("typed", "accepted"), [(b"n\n", False), (b"y\n", True)])
def test_trust_shows_both_keys_on_the_terminal_and_asks(
    tmp_path: Path, key: Key, typed: bytes, accepted: bool
) -> None:
    from terminal import screen

    folder = signed_campaign(tmp_path / "c", key)
    cli(["validate", "-t", str(folder)], env=ENV, expect=0)
    new = make_key(tmp_path / "new.key")
    code, shown = screen(
        ["trust", "my-campaign", "--key", new.public], env={}, columns=80, typed=typed
    )
    assert code == 0, shown
    flat = _flat(shown)
    assert f"key until now: {key.public}" in flat
    assert f"new key: {new.public}" in flat
    set_public_key(folder, new.public)
    sign(folder, new)
    cli(["validate", "-t", str(folder)], env=ENV, expect=0 if accepted else 2)
