"""``protest get``: fetching, unpacking, checking and swapping in a campaign, safely."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from https_server import HANG, HttpsServer, Huge, Redirect
from kit import cli
from profiles import budget
from signkit import Key, make_key, set_public_key, sign, signed_campaign
from smtp_server import free_port
from socks5_server import Socks5Server, proxy_only


def _flat(text: str) -> str:
    return " ".join(text.split())


def _tar(folder: Path, *, top: str = "campaign") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=top)
    return buffer.getvalue()


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def key(tmp_path: Path) -> Key:
    (tmp_path / "keys").mkdir()
    return make_key(tmp_path / "keys" / "organiser.key")


@pytest.fixture
def published(tmp_path: Path, key: Key) -> Path:
    """The organiser's signed campaign folder."""
    return signed_campaign(tmp_path / "organiser" / "campaign", key)


def _archive(tmp_path: Path, folder: Path, name: str = "c.tar.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(_zip(folder) if name.endswith(".zip") else _tar(folder))
    return path


def _mine(tmp_path: Path) -> Path:
    return tmp_path / "activist" / "campaign"


@pytest.mark.parametrize("name", ["c.tar.gz", "c.zip"])
def test_a_first_get_unpacks_verifies_and_summarises(
    tmp_path: Path, published: Path, key: Key, name: str
) -> None:
    archive = _archive(tmp_path, published, name)
    run = cli(["get", str(archive), str(_mine(tmp_path))], expect=0)
    out = _flat(run.output)
    assert "Campaign my-campaign: Free the defendants" in out
    assert "3 target(s): 2 letter(s), 1 call(s)" in out
    assert f"first use of 'my-campaign', so its key {key.public}" in out
    assert _snapshot(_mine(tmp_path)) == _snapshot(published)
    assert not _mine(tmp_path).with_name("campaign.previous").exists()


def test_an_address_change_needs_yes_without_a_terminal(
    tmp_path: Path, published: Path, key: Key
) -> None:
    mine = _mine(tmp_path)
    cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=0)
    before = _snapshot(mine)
    targets = published / "targets.yaml"
    targets.write_text(targets.read_text().replace("minister@example.org", "office@example.net"))
    sign(published, key)
    update = _archive(tmp_path, published, "update.tar.gz")
    run = cli(["get", str(update), str(mine)], expect=2)
    out = _flat(re.sub(r"[│┃|]", " ", run.output))
    assert "ministry email * minister@example.org office@example.net" in out
    assert "nothing was changed in" in out
    assert _snapshot(mine) == before
    assert not list(mine.parent.glob(".campaign.get-*"))
    cli(["get", str(update), str(mine), "--yes"], expect=0)
    assert "office@example.net" in (mine / "targets.yaml").read_text()
    assert _snapshot(mine.with_name("campaign.previous")) == before


def test_a_letter_change_is_shown_word_by_word_and_applied(
    tmp_path: Path, published: Path, key: Key
) -> None:
    mine = _mine(tmp_path)
    cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=0)
    letter = published / "letters" / "letter.md.j2"
    letter.write_text(letter.read_text().replace("drop the charges", "drop all charges"))
    sign(published, key)
    run = cli(["get", str(_archive(tmp_path, published, "u.tar.gz")), str(mine)], expect=0)
    assert "changed: letters/letter.md.j2" in run.out
    assert "drop [-the-]{+all+} charges" in run.out
    assert (mine / "letters" / "letter.md.j2").read_text() == letter.read_text()
    again = cli(["get", str(_archive(tmp_path, published, "u.tar.gz")), str(mine)], expect=0)
    assert "up to date" in again.out


def test_get_with_no_address_uses_the_update_url_over_https(
    tmp_path: Path, published: Path, key: Key, https_server: HttpsServer
) -> None:
    url = https_server.url("/c.tar.gz")
    targets = published / "targets.yaml"
    targets.write_text(
        targets.read_text().replace("campaign:\n", f"campaign:\n  update_url: {url}\n", 1)
    )
    sign(published, key)
    https_server.routes["/c.tar.gz"] = _tar(published)
    mine = _mine(tmp_path)
    cli(["get", url, str(mine), "--ca-file", str(https_server.ca_file)], expect=0)
    letter = published / "letters" / "call.txt.j2"
    letter.write_text("A new call script.\n")
    sign(published, key)
    https_server.routes["/c.tar.gz"] = _tar(published)
    cli(["get", str(mine), "--ca-file", str(https_server.ca_file)], expect=0)
    assert (mine / "letters" / "call.txt.j2").read_text() == "A new call script.\n"
    assert https_server.requests == ["/c.tar.gz", "/c.tar.gz"]


def test_an_untrusted_certificate_is_refused(
    tmp_path: Path, https_server: HttpsServer, published: Path
) -> None:
    https_server.routes["/c.tar.gz"] = _tar(published)
    run = cli(["get", https_server.url("/c.tar.gz"), str(_mine(tmp_path))], expect=2)
    assert "is not trusted" in run.err
    assert not _mine(tmp_path).exists()


@pytest.mark.parametrize(
    ("answer", "words", "code"),
    [
        (Redirect("file:///etc/passwd"), "over https:// only", 2),
        (Redirect("http://example.org/c.tar.gz"), "plain http:// can be changed", 2),
        (Redirect("ftp://127.0.0.1/c.tar.gz"), "over https:// only", 2),
        (Huge(100, announce=True), "is larger than 50 MB", 2),
        (Huge(100, announce=False), "is larger than 50 MB", 2),
        (HANG, "did not finish within 1 s", 75),
    ],
    ids=["file-redirect", "http-redirect", "ftp-redirect", "100mb", "100mb-chunked", "hang"],
)
def test_a_hostile_server_changes_nothing(
    tmp_path: Path, https_server: HttpsServer, answer: object, words: str, code: int
) -> None:
    https_server.routes["/c.tar.gz"] = answer
    mine = _mine(tmp_path)
    mine.mkdir(parents=True)
    run = cli(
        ["get", https_server.url("/c.tar.gz"), str(mine), "--ca-file", str(https_server.ca_file),
         "--timeout", "1" if answer is HANG else "60"],
        expect=code,
    )  # fmt: skip
    assert words in _flat(run.err)
    assert list(mine.parent.iterdir()) == [mine]
    assert https_server.requests == ["/c.tar.gz"]


def test_plain_http_is_refused_before_connecting_unless_loopback(tmp_path: Path) -> None:
    run = cli(["get", "http://example.org/c.tar.gz", str(_mine(tmp_path))], expect=2)
    assert "use https://" in run.err


def _tar_with(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _info(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("letters/bomb.txt.j2", "w") as member,
    ):
        for _ in range(60):
            member.write(b"\0" * 2**20)
    return buffer.getvalue()


LINK = "/etc/passwd"
HOSTILE_ARCHIVES = {
    "dot-dot": (lambda: _tar_with([_info("../evil.txt")]), "outside the campaign folder"),
    "absolute": (lambda: _tar_with([_info("/tmp/evil.txt")]), "outside the campaign folder"),
    "symlink": (lambda: _tar_with([_info("letters/x", tarfile.SYMTYPE, link=LINK)]), "a link"),
    "hard-link": (lambda: _tar_with([_info("a"), _info("b", tarfile.LNKTYPE, link="a")]), "a link"),
    "device": (lambda: _tar_with([_info("dev", tarfile.CHRTYPE)]), "a device or special file"),
    "fifo": (lambda: _tar_with([_info("fifo", tarfile.FIFOTYPE)]), "a device or special file"),
    "10000-entries": (
        lambda: _tar_with([_info(f"f{i}") for i in range(10_000)]),
        "more than 1,000 files",
    ),
    "zip-bomb": (_bomb, "unpacks to more than 50 MB"),
    "not-an-archive": (lambda: b"hello", "is not a .tar.gz or .zip archive"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE_ARCHIVES))
def test_a_hostile_archive_is_refused_and_nothing_changes(
    tmp_path: Path, published: Path, name: str
) -> None:
    mine = _mine(tmp_path)
    cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=0)
    before = _snapshot(mine)
    make, words = HOSTILE_ARCHIVES[name]
    (tmp_path / "hostile.bin").write_bytes(make())
    run = cli(["get", str(tmp_path / "hostile.bin"), str(mine)], expect=2)
    assert words in _flat(run.err)
    assert _snapshot(mine) == before
    assert sorted(p.name for p in mine.parent.iterdir()) == ["campaign"]
    assert not (tmp_path / "evil.txt").exists()


def test_a_tampered_or_re_keyed_archive_is_refused(
    tmp_path: Path, published: Path, key: Key
) -> None:
    mine = _mine(tmp_path)
    cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=0)
    before = _snapshot(mine)
    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    targets = copy / "targets.yaml"
    targets.write_text(targets.read_text().replace("minister@example.org", "collector@example.net"))
    run = cli(["get", str(_archive(tmp_path, copy, "t.tar.gz")), str(mine), "--yes"], expect=2)
    assert "t.tar.gz: targets.yaml differs from the signed MANIFEST" in _flat(run.err)
    intruder = make_key(tmp_path / "intruder.key")
    set_public_key(copy, intruder.public)
    sign(copy, intruder)
    run = cli(["get", str(_archive(tmp_path, copy, "k.tar.gz")), str(mine), "--yes"], expect=2)
    assert f"protest trust my-campaign --key {intruder.public}" in _flat(run.err)
    assert _snapshot(mine) == before


def test_get_replaces_only_a_campaign_folder(tmp_path: Path, published: Path) -> None:
    mine = _mine(tmp_path)
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine\n")
    run = cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=2)
    assert "holds no campaign" in run.err
    assert _snapshot(mine) == {"notes.txt": b"mine\n"}


def test_with_a_proxy_the_download_goes_through_it_by_name(
    tmp_path: Path, https_server: HttpsServer, published: Path, socks5_proxy: Socks5Server
) -> None:
    https_server.routes["/c.tar.gz"] = _tar(published)
    url = f"https://{proxy_only('web')}:{https_server.port}/c.tar.gz"
    ca = ["--ca-file", str(https_server.ca_file)]

    cli(["get", url, str(_mine(tmp_path)), *ca, "--proxy", socks5_proxy.url], expect=0)

    assert _snapshot(_mine(tmp_path)) == _snapshot(published)
    assert [(c.host, c.by_name) for c in socks5_proxy.connects] == [(proxy_only("web"), True)]


def test_with_the_proxy_down_nothing_is_downloaded_directly(
    tmp_path: Path, https_server: HttpsServer, published: Path
) -> None:
    https_server.routes["/c.tar.gz"] = _tar(published)
    down = f"socks5://127.0.0.1:{free_port()}"
    url = f"https://{proxy_only('web')}:{https_server.port}/c.tar.gz"
    run = cli(["get", url, str(_mine(tmp_path))], env={"PROTEST_PROXY": down}, expect=75)
    assert f"The proxy {down} could not be reached" in _flat(run.err)
    assert https_server.requests == []
    assert not _mine(tmp_path).exists()


def test_a_bare_get_in_the_campaign_folder_updates_it_from_its_update_url(
    tmp_path: Path,
    published: Path,
    key: Key,
    https_server: HttpsServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = https_server.url("/c.tar.gz")
    targets = published / "targets.yaml"
    text = targets.read_text().replace("campaign:\n", f"campaign:\n  update_url: {url}\n", 1)
    targets.write_text(text)
    sign(published, key)
    mine = _mine(tmp_path)
    cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=0)
    targets.write_text(text.replace("Ministry of Justice", "Ministry of Justice and Law"))
    sign(published, key)
    https_server.routes["/c.tar.gz"] = _tar(published)
    monkeypatch.chdir(mine)
    cli(["get", "--ca-file", str(https_server.ca_file)], expect=0)
    assert "Ministry of Justice and Law" in (mine / "targets.yaml").read_text()
    assert (mine.with_name("campaign.previous") / "targets.yaml").is_file()
    assert sorted(p.name for p in mine.parent.iterdir()) == ["campaign", "campaign.previous"]


_PARTS = st.sampled_from(["a", "b.txt", "..", ".", "", "\\", "\x1b", "c/", "/", "..."])


@settings(
    max_examples=budget(60),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(names=st.lists(st.lists(_PARTS, min_size=1, max_size=5).map("/".join), max_size=4))
def test_whatever_an_archive_names_nothing_lands_outside_the_folder(
    tmp_path: Path, names: list[str]
) -> None:
    from protest_dispatch.campaign.archive import unpack
    from protest_dispatch.errors import ArchiveError

    root = tmp_path / uuid.uuid4().hex
    into = root / "deep" / "into"
    into.mkdir(parents=True)
    try:
        data = _tar_with([_info(name) for name in names])
    except (ValueError, UnicodeError):  # tarfile cannot write that name at all
        return
    with contextlib.suppress(ArchiveError):
        unpack(data=data, into=into, source="hypothesis.tar.gz")
    outside = [p for p in root.rglob("*") if into not in (p, *p.parents) and p != into.parent]
    assert outside == []


@pytest.mark.slow
@pytest.mark.parametrize(("typed", "applied"), [(b"n\n", False), (b"y\n", True)])
def test_on_a_terminal_an_address_change_is_shown_at_80_columns_and_asked(
    tmp_path: Path, published: Path, key: Key, typed: bytes, applied: bool
) -> None:
    from terminal import screen

    mine = _mine(tmp_path)
    cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=0)
    targets = published / "targets.yaml"
    targets.write_text(targets.read_text().replace("minister@example.org", "office@example.net"))
    sign(published, key)
    update = _archive(tmp_path, published, "update.tar.gz")
    code, shown = screen(["get", str(update), str(mine)], env={}, columns=80, typed=typed)
    assert code == 0, shown
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert "minister@example.org" in shown
    assert "office@example.net" in shown
    assert "Use the new copy in" in shown
    assert ("office@example.net" in (mine / "targets.yaml").read_text()) is applied
    assert mine.with_name("campaign.previous").exists() is applied


@pytest.mark.parametrize(
    ("before", "after", "needs_yes"),
    [
        ('    phone: "+44 20 7946 0000"', '    phone: "+44 20 7946 0999"', True),
        ("    email: minister@example.org", "    email: minister@example.net", True),
        ('    role: "Minister of Justice"', '    role: "Justice Minister"', False),
        (
            "    timezone: Europe/London\n    # postal_address: |",
            "    timezone: Europe/London\n    postal_address: |\n      1 Example Street\n"
            "    # postal_address: |",
            True,
        ),
    ],
    ids=["phone", "email", "role", "postal-address"],
)
def test_where_letters_go_is_an_address_change_and_the_rest_is_not(
    tmp_path: Path, before: str, after: str, needs_yes: bool
) -> None:
    from protest_dispatch.campaign.changes import compare
    from protest_dispatch.campaign.loading import load_campaign

    old, new = tmp_path / "old", tmp_path / "new"
    cli(["new", str(old)], expect=0)
    shutil.copytree(old, new)
    targets = new / "targets.yaml"
    text = targets.read_text()
    assert before in text
    targets.write_text(text.replace(before, after, 1))
    changes = compare(load_campaign(path=old), load_campaign(path=new))
    assert len(changes.fields) == 1, changes.fields
    assert changes.needs_confirmation is needs_yes


def test_a_copy_turned_down_pins_no_key_and_a_signature_gained_is_applied(
    tmp_path: Path, published: Path, key: Key
) -> None:
    mine = _mine(tmp_path)
    shutil.copytree(published, mine)  # a copy passed around without its signature
    for name in ("MANIFEST", "MANIFEST.minisig"):
        (mine / name).unlink()
    forged = tmp_path / "forged"
    shutil.copytree(published, forged)
    targets = forged / "targets.yaml"
    targets.write_text(targets.read_text().replace("minister@example.org", "collector@example.net"))
    intruder = make_key(tmp_path / "intruder.key")
    set_public_key(forged, intruder.public)
    sign(forged, intruder)
    forgery = _archive(tmp_path, forged, "forged.tar.gz")
    run = cli(["get", str(forgery), str(mine)], expect=2)  # no terminal, no --yes: turned down
    assert f"its key {intruder.public} will be remembered if you use this copy" in _flat(run.output)
    run = cli(["get", str(_archive(tmp_path, published)), str(mine)], expect=0)
    out = _flat(re.sub(r"[│┃|]", " ", run.output))
    assert "signature unsigned signed" in out
    assert f"its key {key.public} is remembered" in out
    assert (mine / "MANIFEST.minisig").is_file()
    run = cli(["get", str(forgery), str(mine), "--yes"], expect=2)
    assert f"protest trust my-campaign --key {intruder.public}" in _flat(run.err)


def test_a_signature_dropped_is_asked_about_like_an_address(
    tmp_path: Path, published: Path
) -> None:
    stripped = tmp_path / "stripped"
    shutil.copytree(published, stripped)
    for name in ("MANIFEST", "MANIFEST.minisig"):
        (stripped / name).unlink()
    mine = _mine(tmp_path)
    shutil.copytree(published, mine)  # signed, but its key never used on this machine
    run = cli(["get", str(_archive(tmp_path, stripped)), str(mine)], expect=2)
    assert "signature signed unsigned" in _flat(re.sub(r"[│┃|]", " ", run.output))
    assert (mine / "MANIFEST.minisig").is_file()
