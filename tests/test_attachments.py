"""Attachments on email letters (issue 19, part 4): checked files, multipart/mixed, SIZE."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from kit import BASIC, FROM, cli, env_for, only_problem, send, write_campaign
from smtp_server import ServerFactory

PDF = b"%PDF-1.4\n% a tiny stand-in document\n" + b"0" * 2000 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
EXE = b"MZ\x90\x00" + b"\x00" * 100
TWO_TARGETS = """\
  - id: office
    name: "The Office"
    email: office@example.org
    template: court.md.j2
"""


def campaign_with(
    tmp_path: Path,
    files: dict[str, bytes],
    *,
    campaign_files: str = "",
    target_files: str = "",
    extra: str = "",
) -> Path:
    text = BASIC.replace('  subject: "Drop', f'{campaign_files}  subject: "Drop')
    text += target_files + extra
    path = write_campaign(tmp_path / "campaign", text)
    folder = path.parent / "attachments"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return path


def test_attachments_go_as_multipart_mixed_and_parse_back(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory()
    russian = "Обращение.pdf"
    path = campaign_with(
        tmp_path,
        {"appeal.pdf": PDF, f"docs/{russian}": PDF + b"2", "photo.png": PNG},
        campaign_files="  attachments: [appeal.pdf]\n",
        target_files=f"    attachments: [docs/{russian}, photo.png]\n",
    )
    send(path, env=env_for(server, log=tmp_path / "log.sqlite3"))
    (received,) = server.messages
    assert str(tmp_path).encode() not in received.data
    assert b"docs/" not in received.data
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert message.get_content_type() == "multipart/mixed"
    first, *files = message.iter_parts()
    assert first.get_content_type() == "multipart/alternative"
    assert [f.get_filename() for f in files] == ["appeal.pdf", russian, "photo.png"]
    assert [f.get_content_disposition() for f in files] == ["attachment"] * 3
    assert [f.get_content_type() for f in files] == [
        "application/pdf",
        "application/pdf",
        "image/png",
    ]
    assert [f.get_content() for f in files] == [PDF, PDF + b"2", PNG]
    assert max(len(line) for line in received.data.split(b"\r\n")) <= 78


def test_validate_lists_each_file_with_its_size_and_sha256(tmp_path: Path) -> None:
    path = campaign_with(
        tmp_path, {"appeal.pdf": PDF}, campaign_files="  attachments: [appeal.pdf]\n"
    )
    result = cli(["validate", "-t", str(path)], env={"PROTEST_FROM": FROM}, expect=0)
    assert "appeal.pdf" in result.stdout
    assert hashlib.sha256(PDF).hexdigest() in result.stdout
    assert f"{len(PDF) / 1000:.1f} KB" in result.stdout


def test_the_dry_run_lists_them_and_out_writes_them_in_the_eml(tmp_path: Path) -> None:
    path = campaign_with(
        tmp_path, {"appeal.pdf": PDF}, campaign_files="  attachments: [appeal.pdf]\n"
    )
    out = tmp_path / "out"
    result = cli(
        ["send", "--dry-run", "-t", str(path), "--out", str(out)],
        env={"PROTEST_FROM": FROM},
        expect=0,
    )
    assert "Attachments" in result.stdout
    assert f"appeal.pdf ({len(PDF) / 1000:.1f} KB)" in result.stdout
    written = email.message_from_bytes(
        (out / "court.eml").read_bytes(), policy=email.policy.default
    )
    (attached,) = list(written.iter_attachments())
    assert attached.get_content() == PDF


def test_a_letter_too_big_for_the_servers_size_fails_and_the_others_go(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    big = b"%PDF-1.4\n" + os.urandom(60_000)
    server = smtp_server_factory(data_size_limit=40_000)
    path = campaign_with(
        tmp_path,
        {"big.pdf": big},
        target_files="    attachments: [big.pdf]\n",
        extra=TWO_TARGETS,
    )
    result = send(path, env=env_for(server, log=tmp_path / "log.sqlite3"))
    assert result.code == 1
    assert [m.rcpt_tos[0] for m in server.messages] == ["office@example.org"]
    verbs = server.verbs()
    assert verbs.count("MAIL") == 1  # the big letter never reached MAIL FROM, let alone DATA
    assert "SIZE limit" in result.output
    assert "court" in result.output


@pytest.mark.parametrize(
    ("name", "files", "reason"),
    [
        ("../targets.yaml", {}, "may not use '..'"),
        ("/etc/passwd", {}, "absolute path"),
        ("missing.pdf", {}, "there is no file"),
        ("tool.exe", {"tool.exe": EXE}, "not a kind of file letters may carry"),
        ("appeal.pdf", {"appeal.pdf": EXE}, "in disguise"),
        ("photo.png", {"photo.png": PDF}, "in disguise"),
        ("notes.txt", {"notes.txt": b"text\x00binary"}, "in disguise"),
        ("huge.pdf", {"huge.pdf": b"%PDF-" + b"0" * (10 * 1024 * 1024)}, "at most 10 MiB"),
        ("a\\b.pdf", {}, "must use '/'"),
    ],
)
def test_a_bad_attachment_is_refused_with_file_line_and_field(
    tmp_path: Path, name: str, files: dict[str, bytes], reason: str
) -> None:
    path = campaign_with(tmp_path, files, target_files=f"    attachments: ['{name}']\n")
    problem = only_problem(path)
    assert (problem.target, problem.field) == ("court", "attachments[1]")
    assert problem.line is not None
    assert reason in problem.message
    result = cli(["validate", "-t", str(path)], env={"PROTEST_FROM": FROM}, expect=2)
    assert "attachments[1]" in result.stderr


def test_a_symlink_out_of_the_folder_a_fifo_and_a_device_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(PDF)
    path = campaign_with(
        tmp_path, {}, target_files="    attachments: [link.pdf, pipe.txt, zero.txt, inside.pdf]\n"
    )
    folder = path.parent / "attachments"
    (folder / "link.pdf").symlink_to(secret)
    os.mkfifo(folder / "pipe.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "real.pdf").write_bytes(PDF)
    (folder / "inside.pdf").symlink_to(folder / "real.pdf")  # stays inside: allowed
    from kit import problems_of

    found = {p.field: p.message for p in problems_of(path)}
    assert "leads outside" in found["attachments[1]"]
    assert "not a regular file" in found["attachments[2]"]
    assert "leads outside" in found["attachments[3]"]
    assert "attachments[4]" not in found


def test_at_most_ten_files_per_letter(tmp_path: Path) -> None:
    files = {f"f{n}.pdf": PDF for n in range(11)}
    names = ", ".join(files)
    path = campaign_with(tmp_path, files, target_files=f"    attachments: [{names}]\n")
    problem = only_problem(path)
    assert (problem.target, problem.field) == ("court", "attachments")
    assert "at most 10 files" in problem.message


def test_an_odt_is_checked_inside(tmp_path: Path) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    good = buffer.getvalue()
    path = campaign_with(
        tmp_path, {"letter.odt": good}, target_files="    attachments: [letter.odt]\n"
    )
    cli(["validate", "-t", str(path)], env={"PROTEST_FROM": FROM}, expect=0)
    (path.parent / "attachments" / "letter.odt").write_bytes(b"PK\x03\x04" + b"\x00" * 60)
    assert "in disguise" in only_problem(path).message


def test_a_printed_letter_lists_its_enclosures(tmp_path: Path) -> None:
    path = campaign_with(
        tmp_path,
        {"appeal.pdf": PDF},
        campaign_files="  attachments: [appeal.pdf]\n",
        target_files='    postal_address: "Court House\\nCourt City"\n',
    )
    out = tmp_path / "out"
    env = {"PROTEST_FROM": FROM, "PROTEST_POSTAL_ADDRESS": "1 Example Street", "PROTEST_CONFIG": ""}
    cli(["print", "-t", str(path), "--only", "court", "--out", str(out)], env=env, expect=0)
    text = "".join(page.extract_text() for page in PdfReader(out / "court.pdf").pages)
    assert "Enclosures: appeal.pdf" in text
    assert len(PdfReader(out / "court.pdf").pages) == 1  # listed, not embedded
