"""How ``protest sign`` says what it signed."""

from __future__ import annotations

from protest_dispatch.campaign.manifest import MANIFEST, SIGNATURE
from protest_dispatch.cli import output
from protest_dispatch.commands.sign import Signed


def signed(result: Signed) -> None:
    for name in result.files:
        output.info(f"  {name}")
    output.info(
        f"Signed {len(result.files)} file(s) with the key {result.public_key}: wrote "
        f"{result.folder / MANIFEST} and {result.folder / SIGNATURE}."
    )
    output.info(
        "Publish the whole folder (for example as a .tar.gz) with MANIFEST and its signature."
    )
