"""RFC 8628 device authorization: show a URL and a code, poll until the user has signed in.

Polls no faster than the server's interval and adds ``slow_down_step`` (5 s in
RFC 8628 §3.5) after each ``slow_down``. The interval is the server's number, so it
is clamped to 1-60 s (NaN, the RFC's 5 s): ``0`` would poll hundreds of times a
second, and ``1e400`` reaches ``time.sleep`` as infinity. The clock and sleep are injected so the
tests run the real loop in virtual time against a real server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from protest_dispatch.errors import SignInError
from protest_dispatch.oauth import client as oauth_http
from protest_dispatch.oauth.client import DeviceCode, Grant, OAuthReply, seconds
from protest_dispatch.settings.oauth import OAuthClient

SLOW_DOWN_STEP = 5.0
SHORTEST_INTERVAL = 1.0
LONGEST_INTERVAL = 60.0
DEFAULT_INTERVAL = 5.0  # RFC 8628 §3.2, when the server gives none


@dataclass(frozen=True)
class Pacing:
    """How the poll loop waits; real time unless a test injects its own."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    slow_down_step: float = SLOW_DOWN_STEP


def device_sign_in(
    client: OAuthClient,
    *,
    show: Callable[[DeviceCode], None],
    pacing: Pacing = Pacing(),
) -> Grant:
    """Run the device flow to the end: a grant, or a SignInError saying why not."""
    code = oauth_http.device_authorization(client)
    show(code)
    interval = _clamped(code.interval)
    deadline = pacing.clock() + code.expires_in
    while True:
        pacing.sleep(interval)
        try:
            return oauth_http.device_token(client, device_code=code.device_code)
        except OAuthReply as reply:
            if reply.error == "authorization_pending":
                pass
            elif reply.error == "slow_down":
                interval = _clamped(interval + pacing.slow_down_step)
            else:
                raise _ended(reply) from None
        if pacing.clock() + interval >= deadline:
            raise SignInError(
                f"The code {code.user_code} expired before the sign-in was finished.",
                reason="expired_token",
                hint="Run `protest login` again and finish signing in within the time shown.",
            )


def _clamped(interval: float) -> float:
    return seconds(interval, low=SHORTEST_INTERVAL, high=LONGEST_INTERVAL, default=DEFAULT_INTERVAL)


def _ended(reply: OAuthReply) -> SignInError:
    if reply.error == "access_denied":
        return SignInError(
            "The sign-in was declined, so nothing was stored.",
            reason=reply.error,
            hint="Run `protest login` again and accept the request to send mail.",
        )
    if reply.error == "expired_token":
        return SignInError(
            "The code expired before the sign-in was finished.",
            reason=reply.error,
            hint="Run `protest login` again and finish signing in within the time shown.",
        )
    return SignInError(
        f"The provider ended the sign-in: {reply.explained()}.",
        reason=reply.error,
        hint="Check oauth_client_id and that the client allows the device code flow "
        "('Allow public client flows' for Microsoft), then run `protest login` again.",
    )
