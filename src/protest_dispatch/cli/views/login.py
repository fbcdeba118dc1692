"""How ``login`` and ``logout`` talk to the person: instructions on stderr, never a secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protest_dispatch.cli import output
from protest_dispatch.vocabulary import TokenStore

if TYPE_CHECKING:
    from protest_dispatch.commands.login import LoginResult, LogoutResult
    from protest_dispatch.oauth.client import DeviceCode


def device_code(code: DeviceCode) -> None:
    """RFC 8628 §3.3: the verification URL and the user code, exactly as the server gave them."""
    output.say(f"To sign in, open {code.verification_uri} in a browser and enter the code:")
    output.say(f"    {code.user_code}")
    output.say(f"Waiting for you to finish (the code expires in {code.expires_in / 60:.0f} min)...")


def browser_url(url: str) -> None:
    output.say("To sign in, open this address in a browser (protest tries to open one):")
    output.say(url)
    output.say("Waiting for the browser to come back to this computer...")


def outside_proxy(proxy: str, device: bool) -> None:
    """Before the sign-in: the token requests use the proxy; a browser does not."""
    if device:
        output.say(
            f"protest's own requests go through the proxy {proxy}. The page below opens in "
            "a browser, which does not: open it in Tor Browser, or on another device, if "
            "your provider must not see this computer's IP address."
        )
        return
    output.warn(
        f"Your browser does not use the proxy {proxy}: this provider has no device sign-in, "
        "so the sign-in page, opened in a browser, shows the provider your IP address. "
        "protest does not open a browser for you: open the address below in a browser "
        "that uses the proxy (Tor Browser for Tor) if that matters. The token requests "
        "afterwards go through the proxy."
    )


def signed_in(result: LoginResult) -> None:
    if result.fell_back:
        failed = f" ({'; '.join(result.keyring_failures)})" if result.keyring_failures else ""
        output.warn(
            f"The system keyring does not work here{failed}, so the refresh token is in "
            f"{result.file} instead (only you can read it)."
        )
    place = "the system keyring" if result.stored_in is TokenStore.KEYRING else str(result.file)
    output.say(f"Signed in as {result.account}; the refresh token is stored in {place}.")
    if result.signed_in_as is not None:
        output.say(f"The provider confirms the account: {result.signed_in_as}.")
    output.say("Next: 'protest doctor' checks the sign-in with your mail server.")


def signed_out(result: LogoutResult) -> None:
    for failure in result.keyring_failures:
        output.warn(f"The system keyring failed ({failure}); only {result.file} was checked.")
    if not result.removed:
        output.say(f"No sign-in was stored for {result.account}; nothing to remove.")
        return
    places = " and ".join(
        "the system keyring" if where is TokenStore.KEYRING else str(result.file)
        for where in result.removed
    )
    output.say(f"Removed the sign-in for {result.account} from {places}.")
