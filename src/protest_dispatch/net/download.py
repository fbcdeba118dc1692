"""Download one campaign archive over HTTPS: bounded in time and size, redirects checked.

httpx2 (already here for OAuth) is imported only when a download runs. Redirects are
followed by hand so each hop is checked: HTTPS only, plain HTTP only to loopback,
never ``file://`` or another scheme. The whole download, redirects included, has one
deadline; a body over the size cap is refused as soon as it is announced or reached.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from protest_dispatch.errors import DownloadError, DownloadUnavailableError
from protest_dispatch.net.loopback import is_this_machine
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.net.tls import verified_context
from protest_dispatch.net.transport import async_http_transport

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Downloaded:
    url: str
    """Where the bytes came from, after redirects."""
    data: bytes


def check_url(url: str) -> str:
    """``https://``, or ``http://`` to loopback only; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return url
    if parts.scheme == "http":
        raise DownloadError(
            f"Refusing {url}: plain http:// can be changed on the way; use https://.", url=url
        )
    raise DownloadError(f"Refusing {url!r}: a campaign is fetched over https:// only.", url=url)


def _loopback(host: str) -> bool:
    return is_this_machine(host)


def download(
    *,
    url: str,
    ca_file: Path | None,
    timeout: float,
    max_bytes: int,
    proxy: Proxy | None = None,
) -> Downloaded:
    """The body of ``url`` (at most ``max_bytes``) within ``timeout`` seconds in all.

    With ``proxy`` every hop goes through it (net/transport.py), and fails closed.
    """
    check_url(url)
    context = verified_context(ca_file, key="ca_file", where="--ca-file")
    try:
        return asyncio.run(asyncio.wait_for(_fetch(url, context, max_bytes, proxy), timeout))
    except TimeoutError:
        raise DownloadUnavailableError(
            f"{url} did not finish within {timeout:g} s; nothing was changed.",
            url=url,
            hint="Try again later, or give more time with --timeout.",
        ) from None


async def _fetch(
    url: str, context: ssl.SSLContext, max_bytes: int, proxy: Proxy | None
) -> Downloaded:
    import httpx2

    async with httpx2.AsyncClient(
        verify=context,
        trust_env=False,
        follow_redirects=False,
        timeout=None,
        transport=None if proxy is None else async_http_transport(proxy, verify=context),
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with client.stream(
                    "GET", url, headers={"Accept-Encoding": "identity"}
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        url = check_url(urljoin(url, location))
                        continue
                    if response.status_code != 200:
                        raise DownloadError(
                            f"{url} answered {response.status_code} "
                            f"{response.reason_phrase}; nothing was changed.",
                            url=url,
                        )
                    return Downloaded(url=url, data=await _body(response, url, max_bytes))
            except httpx2.TransportError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    raise DownloadError(
                        f"The certificate of {url} is not trusted; nothing was downloaded.",
                        url=url,
                        hint="If the server uses a private certificate authority, give its "
                        "PEM file with --ca-file.",
                    ) from None
                raise DownloadUnavailableError(
                    f"Cannot download {url}: {exc or type(exc).__name__}.",
                    url=url,
                    hint="Check the address and the network, then try again.",
                ) from None
    raise DownloadError(f"{url} redirected more than {MAX_REDIRECTS} times.", url=url)


async def _body(response: object, url: str, max_bytes: int) -> bytes:
    announced = response.headers.get("content-length", "")  # type: ignore[attr-defined]
    if announced.isdigit() and int(announced) > max_bytes:
        raise _too_large(url, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():  # type: ignore[attr-defined]
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(url, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(url: str, max_bytes: int) -> DownloadError:
    return DownloadError(
        f"{url} is larger than {max_bytes // 2**20} MB; no campaign is that large, so "
        "nothing was unpacked or changed.",
        url=url,
    )
