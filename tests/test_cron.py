"""``protest cron`` (issue 18, item 4): what to schedule, printed, nothing changed."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from kit import FROM, cli, make_campaign


def test_cron_prints_a_crontab_line_and_a_systemd_timer_with_absolute_paths(
    campaign: Callable[..., Path], tmp_path: Path
) -> None:
    path = campaign()
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    run = cli(["cron", "-t", str(path), "--from", FROM], expect=0)
    lines = run.stdout.splitlines()
    [crontab] = [line for line in lines if line and line[0].isdigit()]
    minute_field, *_ = crontab.split()
    first, second = (int(m) for m in minute_field.split(","))
    assert 0 <= first < 30
    assert second == first + 30
    protest = shlex.join([sys.executable, "-m", "protest_dispatch"])  # as run here: python -m
    folder = path.parent.resolve()
    assert f"{protest} send -t {folder} --yes -q; {protest} inbox -q" in crontab
    assert "flock" not in crontab
    assert f"ExecStart={sys.executable} -m protest_dispatch send -t {folder} --yes -q" in lines
    assert f"OnCalendar=*:{first:02d}/30" in lines
    assert "SuccessExitStatus=75" in lines
    assert "Exit codes:" in run.stdout
    assert "cron mails whatever a job prints" in run.stdout
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before, "cron changes nothing"
    again = cli(["cron", "-t", str(path), "--from", FROM], expect=0)
    assert again.stdout == run.stdout, "the same minute every time"


def test_cron_quotes_paths_for_cron_and_for_systemd(tmp_path: Path) -> None:
    path = make_campaign(tmp_path / "50% off campaign $HOME")
    run = cli(["cron", "-t", str(path), "--from", FROM], expect=0)
    folder = str(path.parent.resolve())
    assert shlex.quote(folder).replace("%", "\\%") in run.stdout
    systemd = '"' + folder.replace("%", "%%").replace("$", "$$") + '"'
    assert f"send -t {systemd} --yes -q" in run.stdout


def test_cron_refuses_a_path_with_a_line_break(tmp_path: Path) -> None:
    path = make_campaign(tmp_path / "evil\n* * * * * rm -rf ~")
    run = cli(["cron", "-t", str(path), "--from", FROM], expect=2)
    assert "control or invisible character" in run.output
    assert "rm -rf" not in run.stdout
