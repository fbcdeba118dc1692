"""``protest doctor`` against real servers on 127.0.0.1: every verdict, and never a letter."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kit import FROM, cli
from smtp_server import Server, free_port

PASSWORD = "correct-horse-battery"
USER = "ana@example.org"
SENT_NOTHING = ("MAIL", "RCPT", "DATA")


def env_for(server: Server | None, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PROTEST_FROM": FROM,
        "PROTEST_SMTP_HOST": "127.0.0.1",
        "PROTEST_SMTP_PORT": str(server.port if server else free_port()),
        "PROTEST_SMTP_SECURITY": "starttls",
        "PROTEST_LOG": str(tmp_path / "log.sqlite3"),
    }
    if server is not None and server.ca_file is not None:
        env["PROTEST_SMTP_CA_FILE"] = str(server.ca_file)
    env.update(extra)
    return env


def write_config(tmp_path: Path, text: str = "", mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def lines(output: str) -> dict[str, str]:
    """Check name -> its line, e.g. 'Login (AUTH)' -> '✓ Login (AUTH): ...'."""
    found = {}
    for line in output.splitlines():
        if line[:2] in ("✓ ", "✗ ", "! ", "- "):
            found[line[2:].split(":", 1)[0]] = line
    return found


def test_all_good_logs_in_and_sends_nothing(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    server = smtp_server_factory(tls="starttls", auth=(USER, PASSWORD))
    config = write_config(tmp_path, "limit_per_hour = 10\n")
    result = cli(
        ["doctor", "--timeout", "5"],
        env=env_for(
            server,
            tmp_path,
            PROTEST_CONFIG=str(config),
            PROTEST_SMTP_USERNAME=USER,
            PROTEST_SMTP_PASSWORD=PASSWORD,
        ),
    )
    assert result.code == 0, result.output
    checks = lines(result.stdout)
    assert list(checks) == [
        "Config file",
        "Sender",
        "SMTP settings",
        "Send log",
        "Server name (DNS)",
        "Connection",
        "Greeting, TLS and certificate",
        "Login (AUTH)",
    ]
    assert all(line.startswith("✓") for line in checks.values()), result.stdout
    assert "STARTTLS works" in checks["Greeting, TLS and certificate"]
    assert "PROTEST_SMTP_PASSWORD" in checks["SMTP settings"]
    assert server.auth_attempts == [(USER, True)]
    assert not set(SENT_NOTHING) & set(server.verbs())
    assert PASSWORD not in result.stdout + result.stderr
    assert not (tmp_path / "log.sqlite3").exists(), "doctor must not create the send log"


def test_missing_sender_is_a_config_problem_and_nothing_connects(
    tmp_path: Path, smtp_server: Server
) -> None:
    env = env_for(smtp_server, tmp_path, PROTEST_SMTP_SECURITY="none")
    del env["PROTEST_FROM"]
    result = cli(["doctor"], env=env)
    assert result.code == 2
    checks = lines(result.stdout)
    assert checks["Sender"].startswith("✗")
    assert "protest init" in result.stdout
    assert checks["Connection"].startswith("- ")
    assert smtp_server.connections == 0


def test_wrong_password_is_refused_with_advice(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    server = smtp_server_factory(tls="starttls", auth=(USER, PASSWORD))
    result = cli(
        ["doctor", "--timeout", "5"],
        env=env_for(server, tmp_path, PROTEST_SMTP_USERNAME=USER, PROTEST_SMTP_PASSWORD="wrong"),
    )
    assert result.code == 1
    checks = lines(result.stdout)
    assert checks["Greeting, TLS and certificate"].startswith("✓")
    assert checks["Login (AUTH)"].startswith("✗")
    assert "app password" in result.stdout
    assert server.auth_attempts == [(USER, False)]
    assert "MAIL" not in server.verbs()


def test_untrusted_certificate_is_refused(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    server = smtp_server_factory(tls="starttls")
    env = env_for(server, tmp_path)
    del env["PROTEST_SMTP_CA_FILE"]
    result = cli(["doctor", "--timeout", "5"], env=env)
    assert result.code == 1
    line = lines(result.stdout)["Greeting, TLS and certificate"]
    assert line.startswith("✗")
    assert "certificate" in line
    assert "--smtp-ca-file" in result.stdout
    assert lines(result.stdout)["Login (AUTH)"].startswith("- ")


def test_server_without_starttls_is_refused(tmp_path: Path, smtp_server: Server) -> None:
    result = cli(["doctor", "--timeout", "5"], env=env_for(smtp_server, tmp_path))
    assert result.code == 1
    assert "does not offer STARTTLS" in lines(result.stdout)["Greeting, TLS and certificate"]


def test_nothing_listening_means_try_later(tmp_path: Path) -> None:
    result = cli(["doctor", "--timeout", "5"], env=env_for(None, tmp_path))
    assert result.code == 75
    checks = lines(result.stdout)
    assert checks["Server name (DNS)"].startswith("✓")
    assert checks["Connection"].startswith("✗")
    assert "refused a connection" in checks["Connection"]
    assert "Proton Mail Bridge" in result.stdout


def test_unknown_host_name(tmp_path: Path) -> None:
    env = env_for(None, tmp_path, PROTEST_SMTP_HOST="no-such-host.invalid")
    result = cli(["doctor", "--timeout", "3"], env=env)
    assert result.code == 75
    line = lines(result.stdout)["Server name (DNS)"]
    assert line.startswith("✗")
    assert "no-such-host.invalid" in line
    assert lines(result.stdout)["Connection"].startswith("- ")


def test_security_must_match_the_port(
    tmp_path: Path, smtp_server_factory: Callable[..., Server]
) -> None:
    """An implicit-TLS server waits for a TLS hello; a STARTTLS client waits for a greeting."""
    server = smtp_server_factory(tls="implicit")
    stuck = cli(["doctor", "--timeout", "0.5"], env=env_for(server, tmp_path))
    assert stuck.code == 75
    checks = lines(stuck.stdout)
    assert checks["Connection"].startswith("✓")
    assert checks["Greeting, TLS and certificate"].startswith("✗")
    ok = cli(["doctor", "--timeout", "5", "--smtp-security", "tls"], env=env_for(server, tmp_path))
    assert ok.code == 0, ok.output
    assert "TLS works" in ok.stdout


def test_readable_config_and_unusable_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'smtp_host = "127.0.0.1"\n', mode=0o644)
    env = env_for(None, tmp_path, PROTEST_CONFIG=str(config))
    result = cli(["doctor", "--smtp-security", "ssl"], env=env)
    assert result.code == 2
    checks = lines(result.stdout)
    assert checks["Config file"].startswith("! ")
    assert f"chmod 600 {config}" in result.stdout
    assert checks["SMTP settings"].startswith("✗")
    expected = "--smtp-security must be one of starttls, tls, none, not 'ssl'"
    assert expected in checks["SMTP settings"]


def test_a_wrong_value_in_the_config_file_names_the_file_and_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'smtp_security = "ssl"\n')
    env = env_for(None, tmp_path, PROTEST_CONFIG=str(config))
    del env["PROTEST_SMTP_SECURITY"]
    result = cli(["doctor"], env=env)
    assert result.code == 2
    checks = lines(result.stdout)
    assert checks["Config file"].startswith("✗")
    assert f"'smtp_security' in {config} must be one of" in " ".join(result.stdout.split())


def test_broken_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "smtp_host = [\n")
    result = cli(["doctor"], env=env_for(None, tmp_path, PROTEST_CONFIG=str(config)))
    assert result.code == 2
    assert lines(result.stdout)["Config file"].startswith("✗")
    assert "not valid TOML" in result.stdout
