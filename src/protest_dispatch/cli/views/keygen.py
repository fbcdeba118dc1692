"""How ``protest keygen`` hands the organiser the public key to publish."""

from __future__ import annotations

from protest_dispatch.cli import output
from protest_dispatch.commands.keygen import MadeKeys


def made(keys: MadeKeys) -> None:
    output.say(f"Wrote the secret key {keys.secret} (only you can read it) and {keys.public}.")
    output.say("Keep the secret key and its passphrase safe: whoever has both can sign as you.")
    output.say("Publish the public key, and put it in targets.yaml under 'campaign:':")
    output.info(f"  public_key: {keys.public_key}")
    output.info(keys.public_key)
