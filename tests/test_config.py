"""Settings: options over PROTEST_* over the TOML file, each problem named where it is."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from kit import CALLS_SUBJECT, cli, make_campaign, subprocess_env
from protest_dispatch.errors import ConfigError
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.model import FILE_KEYS, KEYS, env_name
from protest_dispatch.settings.secrets import MAX_PASSWORD_OUTPUT, run_password_command
from protest_dispatch.settings.smtp import SmtpOverrides, smtp_settings
from protest_dispatch.settings.sources import MAX_CONFIG_BYTES
from protest_dispatch.vocabulary import AuthMode, ExitCode, OAuthProvider, Security

FROM = "Ana Example <ana@example.org>"


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def load(path: Path | None = None, **env: str) -> Config:
    return Config.load(path=path, env=env)


def test_options_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'smtp_host = "file.example.org"\nsmtp_port = 2525\n')
    assert load(path).settings.smtp_host == "file.example.org"
    by_env = load(path, PROTEST_SMTP_HOST="env.example.org")
    assert by_env.settings.smtp_host == "env.example.org"
    by_option = by_env.with_options(smtp_host="option.example.org")
    assert by_option.settings.smtp_host == "option.example.org"
    assert by_option.source("smtp_host") == "--smtp-host"
    assert by_env.settings.smtp_port == 2525
    assert by_env.source("smtp_host") == "the environment variable PROTEST_SMTP_HOST"
    assert load(path).source("smtp_port") == f"'smtp_port' in {path}"


def test_every_key_has_its_variable(tmp_path: Path) -> None:
    """The README's promise: PROTEST_X sets key x, for every key."""
    samples = {str: "x", int: "7", float: "7", bool: "true"}
    for key in FILE_KEYS:
        from protest_dispatch.settings.model import field_of, toml_type

        if key in ("smtp_security", "imap_security"):
            value = "tls"
        elif key == "smtp_auth":
            value = "xoauth2"
        elif key == "oauth_provider":
            value = "google"
        elif key.startswith("oauth_") and key.endswith("_url"):
            value = "https://login.example.org/token"
        elif key == "proxy":
            value = "socks5://127.0.0.1:9050"
        else:
            value = samples[toml_type(key)]
        got = getattr(load(**{env_name(key): value}).settings, field_of(key))
        if isinstance(got, SecretStr):
            got = got.get_secret_value()
        assert str(got).lower() in (value, "7", "7.0"), key


def test_the_upcoming_keys_are_typed() -> None:
    config = load(
        PROTEST_SMTP_AUTH="XOAUTH2",
        PROTEST_OAUTH_PROVIDER="microsoft",
        PROTEST_IMAP_PORT="993",
        PROTEST_IMAP_PASSWORD="imap-secret",
    )
    assert config.settings.smtp_auth is AuthMode.XOAUTH2
    assert config.settings.oauth_provider is OAuthProvider.MICROSOFT
    assert config.settings.imap_port == 993
    assert config.settings.imap_security is Security.TLS
    assert "imap-secret" not in repr(config.settings)
    assert load().settings.smtp_auth is AuthMode.PASSWORD
    with pytest.raises(ConfigError, match="PROTEST_OAUTH_TOKEN_URL must be an https://"):
        load(PROTEST_OAUTH_TOKEN_URL="http://login.example.org/token")


def test_an_unknown_key_is_named_with_the_known_ones(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'smtp_hots = "smtp.example.org"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.message == f"Unknown key 'smtp_hots' in the config file {path}."
    assert caught.value.hint is not None
    assert "smtp_host, smtp_port" in caught.value.hint
    assert (caught.value.key, caught.value.file) == ("smtp_hots", path)


def test_env_only_keys_are_not_file_keys(tmp_path: Path) -> None:
    assert "imap_password" in KEYS
    path = config_file(tmp_path, 'imap_password = "x"\n')
    with pytest.raises(ConfigError, match="Unknown key 'imap_password'"):
        load(path)


@pytest.mark.parametrize(
    ("text", "key", "kind"),
    [
        ('smtp_port = "587"\n', "smtp_port", "a whole number"),
        ("limit_per_day = true\n", "limit_per_day", "a whole number"),
        ("copy_me = 1\n", "copy_me", "true or false"),
        ("smtp_host = 5\n", "smtp_host", "text in quotes"),
    ],
)
def test_a_wrong_type_in_the_file_names_the_key(
    tmp_path: Path, text: str, key: str, kind: str
) -> None:
    path = config_file(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.message == f"'{key}' in {path} has the wrong type: it must be {kind}."


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROTEST_COPY_ME", "maybe", "PROTEST_COPY_ME must be true or false, not 'maybe'."),
        ("PROTEST_SMTP_PORT", "587a", "PROTEST_SMTP_PORT must be a whole number, not '587a'."),
        (
            "PROTEST_SMTP_PORT",
            "70000",
            "PROTEST_SMTP_PORT must be a port number from 1 to 65535, not '70000'.",
        ),
        (
            "PROTEST_SMTP_SECURITY",
            "ssl",
            "PROTEST_SMTP_SECURITY must be one of starttls, tls, none, not 'ssl'.",
        ),
    ],
)
def test_a_bad_environment_value_names_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(**{variable: value})
    assert caught.value.message == message


def test_a_wrong_value_names_the_file_and_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, "limit_per_hour = -3\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (
        caught.value.message
        == f"'limit_per_hour' in {path} must be 0 (no limit) or more, not '-3'."
    )
    assert caught.value.file == path


def test_a_secret_never_appears_in_an_error(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'oauth_client_secret = "hunter2-secret"\n')
    secret = load(path).settings.oauth_client_secret
    assert secret is not None
    assert secret.get_secret_value() == "hunter2-secret"
    assert "hunter2-secret" not in repr(load(path).settings)


def test_an_empty_variable_is_unset_but_an_empty_username_means_no_login(
    tmp_path: Path,
) -> None:
    path = config_file(
        tmp_path,
        'country = "GB"\nsmtp_host = "127.0.0.1"\nsmtp_username = "ana"\n'
        'smtp_password_command = "exit 3"\n',
    )
    config = load(path, PROTEST_COUNTRY="", PROTEST_SMTP_USERNAME="", PROTEST_SMTP_PORT="")
    assert config.settings.country == "GB"
    assert config.settings.smtp_username == ""
    assert config.source("smtp_username") == "the environment variable PROTEST_SMTP_USERNAME"
    # No login, so the (failing) password command is never run.
    settings = smtp_settings(config, helo_name="example.org")
    assert (settings.username, settings.password, settings.port) == (None, None, 587)
    with pytest.raises(ConfigError, match="exited with status 3"):
        smtp_settings(load(path), helo_name="x")


def test_an_empty_username_in_the_file_means_no_login(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'smtp_host = "127.0.0.1"\nsmtp_username = ""\n')
    settings = smtp_settings(load(path), given=SmtpOverrides(security="tls"), helo_name="x")
    assert (settings.username, settings.security, settings.port) == (None, Security.TLS, 465)


def test_a_device_as_config_file_is_refused_at_once() -> None:
    started = time.monotonic()
    result = cli(["validate", "--config", "/dev/zero", "--from", FROM])
    assert result.code == ExitCode.INVALID
    assert "/dev/zero is larger than 1024 KiB" in result.stderr
    assert time.monotonic() - started < 5


def test_an_oversized_config_file_and_a_pipe(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load(big)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)

    def write(data: bytes) -> threading.Thread:
        def feed() -> None:
            with fifo.open("wb") as stream, contextlib.suppress(BrokenPipeError):
                stream.write(data)

        thread = threading.Thread(target=feed)
        thread.start()
        return thread

    feeding = write(b'country = "GB"\n')
    assert load(fifo).settings.country == "GB"
    feeding.join()
    endless = write(b"#" * (MAX_CONFIG_BYTES * 3))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load(fifo)
    endless.join()


def test_the_password_command_is_read_to_a_bound_and_never_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        run_password_command("yes hunter2-secret")
    assert f"more than {MAX_PASSWORD_OUTPUT // 1024} KiB" in caught.value.message
    assert "hunter2" not in str(caught.value)
    assert run_password_command("printf 'pw\\nrest\\n'") == "pw"


def test_the_password_command_times_out() -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"did not finish within 0\.3 s"):
        run_password_command("sleep 10", timeout=0.3)
    assert time.monotonic() - started < 5


def test_a_password_command_that_prints_nothing() -> None:
    with pytest.raises(ConfigError, match="printed nothing"):
        run_password_command("true")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--smtp-port", "70000"], "--smtp-port must be a port number from 1 to 65535"),
        (["--smtp-security", "starttlss"], "--smtp-security must be one of starttls, tls, none"),
        (["--smtp-ca-file", "/nonexistent/ca.pem"], "The CA file /nonexistent/ca.pem does not"),
    ],
)
def test_dry_run_checks_the_smtp_options(tmp_path: Path, args: list[str], message: str) -> None:
    campaign = make_campaign(
        tmp_path / "campaign", targets=1, calls=True, campaign_cc=(), subject=CALLS_SUBJECT
    )
    ok = cli(["send", "--dry-run", "-t", str(campaign), "--from", FROM])
    assert ok.code == 0, ok.output
    result = cli(["send", "--dry-run", "-t", str(campaign), "--from", FROM, *args])
    assert result.code == ExitCode.INVALID, result.output
    assert message in " ".join(result.stderr.split())


def test_a_bad_environment_value_stops_a_command_with_its_name(tmp_path: Path) -> None:
    campaign = make_campaign(
        tmp_path / "campaign", targets=1, calls=True, campaign_cc=(), subject=CALLS_SUBJECT
    )
    result = cli(
        ["send", "--dry-run", "-t", str(campaign), "--from", FROM],
        env={"PROTEST_SMTP_PORT": "abc"},
    )
    assert result.code == ExitCode.INVALID
    assert "PROTEST_SMTP_PORT must be a whole number, not 'abc'." in result.stderr


# What each command's --help said before the settings moved off Typer's envvar=.
HELP_ENV = {
    "validate": {
        "--from": "FROM",
        "--country": "COUNTRY",
        "--lang": "LANG",
        "--config": "CONFIG",
        "--dns-server": "DNS_SERVER",
        "--proxy": "PROXY",
    },
    "send": {
        "--country": "COUNTRY",
        "--lang": "LANG",
        "--from": "FROM",
        "--log": "LOG",
        "--smtp-host": "SMTP_HOST",
        "--smtp-port": "SMTP_PORT",
        "--smtp-security": "SMTP_SECURITY",
        "--smtp-ca-file": "SMTP_CA_FILE",
        "--smtp-auth": "SMTP_AUTH",
        "--proxy": "PROXY",
        "--config": "CONFIG",
    },
    "log": {"--log": "LOG", "--config": "CONFIG"},
    "init": {"--config": "CONFIG"},
    "doctor": {
        "--from": "FROM",
        "--config": "CONFIG",
        "--log": "LOG",
        "--smtp-host": "SMTP_HOST",
        "--smtp-port": "SMTP_PORT",
        "--smtp-security": "SMTP_SECURITY",
        "--smtp-ca-file": "SMTP_CA_FILE",
        "--smtp-auth": "SMTP_AUTH",
        "--proxy": "PROXY",
    },
    "calls": {
        "--country": "COUNTRY",
        "--lang": "LANG",
        "--from": "FROM",
        "--log": "LOG",
        "--config": "CONFIG",
    },
    "called": {"--from": "FROM", "--country": "COUNTRY", "--log": "LOG", "--config": "CONFIG"},
    "status": {"--from": "FROM", "--country": "COUNTRY", "--log": "LOG", "--config": "CONFIG"},
}


@pytest.mark.parametrize("command", sorted(HELP_ENV))
def test_help_still_names_each_environment_variable(command: str) -> None:
    result = cli([command, "--help"])
    assert result.code == 0
    entries = re.split(r"\n(?=  -)", result.stdout)
    named = {}
    for entry in entries:
        flat = " ".join(entry.split())
        found = re.search(r"\[env var: (PROTEST_[A-Z_]+)\]", flat)
        if found:
            option = re.search(r"--[a-z-]+", flat)
            assert option is not None
            named[option.group()] = found.group(1)
    assert named == {opt: f"PROTEST_{var}" for opt, var in HELP_ENV[command].items()}


def test_help_does_not_load_the_settings_machinery() -> None:
    """--help stays fast: the settings model is built only when a command runs."""
    code = (
        "import sys\n"
        "sys.argv = ['protest', 'send', '--help']\n"
        "from protest_dispatch.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = 'protest_dispatch.settings.model' in sys.modules\n"
        "print('LOADED' if loaded else 'LAZY', file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env({}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "PROTEST_SMTP_PORT" in done.stdout
    assert done.stderr.strip().endswith("LAZY")


@pytest.mark.parametrize(
    ("text", "timeout"),
    [("smtp_timeout = 5\n", 5.0), ("smtp_timeout = 2.5\n", 2.5), ("", 30.0)],
)
def test_smtp_timeouts_come_from_the_settings(tmp_path: Path, text: str, timeout: float) -> None:
    from protest_dispatch.settings.smtp import smtp_settings

    path = config_file(tmp_path, 'smtp_host = "127.0.0.1"\n' + text)
    settings = smtp_settings(load(path), helo_name="example.org")
    assert settings.timeout == timeout
    assert settings.data_timeout == 600.0


def test_a_timeout_out_of_range_names_the_key(tmp_path: Path) -> None:
    path = config_file(tmp_path, "smtp_data_timeout = 0\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "smtp_data_timeout" in caught.value.message
