"""``new``, ``schema``, ``keygen``, ``sign``, ``trust``: writing and signing a campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from protest_dispatch.cli.options import ProxyOpt


def new(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="A new or empty folder for the campaign.")
    ],
) -> None:
    """Start a new campaign: targets.yaml, a letter, a call script and a README in DIR."""
    from protest_dispatch.cli.views import new as views
    from protest_dispatch.commands.new import scaffold

    views.written(scaffold(folder=folder))


def schema() -> None:
    """Print the JSON Schema of the campaign file (draft-07), for editors."""
    from protest_dispatch.campaign.schema import schema_text
    from protest_dispatch.cli import output

    output.print_raw(schema_text())


def keygen(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="Where the secret key goes; FILE.pub beside it.")
    ],
) -> None:
    """Make the organiser's signing key pair (minisign), protected by a passphrase."""
    from protest_dispatch.cli.views import keygen as views
    from protest_dispatch.commands.keygen import keygen as make

    views.made(make(path=file, passphrase=passphrase(twice=True, purpose=f"the new key {file}")))


def sign(
    key: Annotated[
        Path,
        typer.Option(
            "--key", metavar="SECRET_KEY_FILE", help="The secret key 'protest keygen' made."
        ),
    ],
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="The campaign folder [default: this folder].", show_default=False
        ),
    ] = Path("."),
) -> None:
    """Sign the campaign: MANIFEST (SHA-256 of every file protest reads) and MANIFEST.minisig."""
    from protest_dispatch.cli.views import sign as views
    from protest_dispatch.commands.sign import sign_campaign

    views.signed(
        sign_campaign(
            folder=folder,
            key=key,
            passphrase=lambda: passphrase(twice=False, purpose=f"the secret key {key}"),
        )
    )


def trust(
    campaign_id: Annotated[str, typer.Argument(metavar="ID", help="The campaign id.")],
    key: Annotated[str, typer.Option("--key", metavar="KEY", help="The new public key (RW...).")],
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask (you checked the key with the organiser)."),
    ] = False,
) -> None:
    """Accept a campaign's new signing key on purpose (after asking the organiser)."""
    from protest_dispatch.campaign.signing import KnownKeys, default_store
    from protest_dispatch.cli.views import trust as views
    from protest_dispatch.commands.trust import accept, planned_change

    known = KnownKeys(default_store())
    change = planned_change(campaign_id=campaign_id, key=key, known=known)
    if change.old == change.new:
        views.unchanged(change)
        return
    if not yes and not views.confirm(change):
        views.kept(change)
        return
    accept(change=change, known=known)
    views.accepted(change)


def passphrase(*, twice: bool, purpose: str) -> str:
    """From PROTEST_KEY_PASSWORD_COMMAND when set, else typed at the terminal (not shown)."""
    import getpass
    import sys

    from protest_dispatch.errors import InputError
    from protest_dispatch.settings.config import Config
    from protest_dispatch.settings.secrets import run_secret_command

    command = Config.load(path=None).settings.key_password_command
    if command:
        return run_secret_command(command, key="key_password_command", what="passphrase")
    if not sys.stdin.isatty():
        raise InputError(
            f"No terminal to type the passphrase for {purpose} on.",
            hint="Set PROTEST_KEY_PASSWORD_COMMAND to a command that prints it "
            "(such as 'pass show protest/signing-key').",
        )
    first = getpass.getpass(f"Passphrase for {purpose}: ", stream=sys.stderr)
    if twice and getpass.getpass("The same passphrase again: ", stream=sys.stderr) != first:
        raise InputError("The two passphrases differ; nothing was written.")
    return first


def get(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="URL_OR_FILE",
            help="The campaign archive (.tar.gz or .zip): an https:// address or a file "
            "[default: the campaign's update_url].",
            show_default=False,
        ),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIR",
            help="The campaign folder [default: this folder if it holds a campaign, else one "
            "named after the archive].",
            show_default=False,
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="PEM file of a private certificate authority to trust."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1, max=600, help="Seconds for the whole download."),
    ] = 30.0,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Accept changed addresses without asking (for cron)."),
    ] = False,
    proxy: ProxyOpt = None,
) -> None:
    """Fetch a campaign or its update, check its signature, show what changed, replace it."""
    from protest_dispatch.cli.views import get as views
    from protest_dispatch.commands.get import apply, discard, source_of, stage
    from protest_dispatch.settings.config import Config

    source, folder = _source_and_folder(source, folder)
    staged = stage(
        source=source_of(source=source, folder=folder),
        folder=folder,
        ca_file=ca_file,
        timeout=timeout,
        proxy=Config.load(path=None).with_options(proxy=proxy).proxy(),
    )
    try:
        if staged.changes is not None and staged.changes.empty:
            views.unchanged(staged)
            discard(staged)
            return
        views.summary(staged)
        asks = staged.changes is not None and staged.changes.needs_confirmation and not yes
        if asks and not views.confirm(staged):
            discard(staged)
            return
    except BaseException:
        discard(staged)
        raise
    views.applied(staged, previous=apply(staged))


def _source_and_folder(source: str | None, folder: Path | None) -> tuple[str | None, Path]:
    """``get``, ``get DIR``, ``get URL_OR_FILE`` and ``get URL_OR_FILE DIR``."""
    if source is not None and folder is None and "://" not in source:
        given = Path(source)
        if given.is_dir():
            return None, given
    if folder is not None:
        return source, folder
    if source is None or Path("targets.yaml").is_file():
        return source, Path(".")
    name = source.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    for suffix in (".tar.gz", ".tgz", ".zip"):
        name = name.removesuffix(suffix)
    return source, Path(name or "campaign")
