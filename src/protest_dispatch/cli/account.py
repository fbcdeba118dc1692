"""``init``, ``doctor``, ``login`` and ``logout``: who you are and how you reach your server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from protest_dispatch.cli.options import (
    ConfigOpt,
    FromOpt,
    LogOpt,
    ProxyOpt,
    SmtpAuthOpt,
    SmtpCaFileOpt,
    SmtpHostOpt,
    SmtpPortOpt,
    SmtpSecurityOpt,
)
from protest_dispatch.vocabulary import TokenStore

if TYPE_CHECKING:
    pass


def init(
    config: ConfigOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing config file without asking.")
    ] = False,
) -> None:
    """Set up in a minute: who you are and how to send mail (writes the config file)."""
    from protest_dispatch.cli import wizard
    from protest_dispatch.cli.views import init as initviews
    from protest_dispatch.settings.config import config_path
    from protest_dispatch.settings.writer import config_values, dump_toml, header, write_config

    path = config_path(config)
    if path.exists() and not force and not wizard.confirm_replace(path):
        initviews.keep_existing(path)
        return
    answers = wizard.ask(config_path=path)
    text = dump_toml(config_values(answers), comment=header(answers))
    initviews.written(path=write_config(path=path, text=text, replace=True), answers=answers)


def doctor(
    from_: FromOpt = None,
    config: ConfigOpt = None,
    log: LogOpt = None,
    smtp_host: SmtpHostOpt = None,
    smtp_port: SmtpPortOpt = None,
    smtp_security: SmtpSecurityOpt = None,
    smtp_ca_file: SmtpCaFileOpt = None,
    smtp_auth: SmtpAuthOpt = None,
    proxy: ProxyOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=120, help="Seconds to wait for each step.")
    ] = 10.0,
) -> None:
    """Check the settings and the way to your mail server (DNS, TLS, login), sending nothing."""
    from protest_dispatch.cli.views import doctor as doctorviews
    from protest_dispatch.commands.doctor import DoctorRequest, run
    from protest_dispatch.settings.smtp import SmtpOverrides

    report = run(
        request=DoctorRequest(
            config_path=config,
            from_=from_,
            log=log,
            smtp=SmtpOverrides(
                host=smtp_host,
                port=smtp_port,
                security=smtp_security,
                ca_file=smtp_ca_file,
                auth=smtp_auth,
            ),
            proxy=proxy,
            timeout=timeout,
        )
    )
    doctorviews.doctor(report)
    raise typer.Exit(report.exit_code)


def login(
    ctx: typer.Context,
    store: Annotated[
        TokenStore,
        typer.Option(
            "--store",
            help="Keep the refresh token in the system keyring (default) or in a file "
            "only you can read, in your data folder.",
        ),
    ] = TokenStore.KEYRING,
    proxy: ProxyOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Sign in to your mail provider with OAuth2 (for smtp_auth = "xoauth2"); interactive."""
    from protest_dispatch.cli import clock
    from protest_dispatch.cli.views import login as views
    from protest_dispatch.commands.login import LoginRequest, Prompts
    from protest_dispatch.commands.login import login as sign_in

    result = sign_in(
        request=LoginRequest(config_path=config, store=store, proxy=proxy),
        prompts=Prompts(
            device_code=views.device_code,
            browser_url=views.browser_url,
            outside_proxy=views.outside_proxy,
        ),
        pacing=clock.pacing(ctx),
    )
    views.signed_in(result)


def logout(config: ConfigOpt = None) -> None:
    """Remove the sign-in that 'protest login' stored."""
    from protest_dispatch.cli.views import login as views
    from protest_dispatch.commands.login import LoginRequest
    from protest_dispatch.commands.login import logout as sign_out

    views.signed_out(sign_out(request=LoginRequest(config_path=config)))
