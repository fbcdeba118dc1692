"""The one TLS policy for every mail server: certificates verified, TLS 1.2 at least."""

from __future__ import annotations

import ssl
from pathlib import Path

from protest_dispatch.errors import ConfigError


def verified_context(ca_file: Path | None, *, key: str, where: str) -> ssl.SSLContext:
    """The system's authorities, or only ``ca_file``'s (a PEM bundle) when one is given.

    ``key`` is the setting that named the file and ``where`` how the user sets it, for
    the message when the file is not a usable PEM bundle.
    """
    try:
        context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except OSError as exc:  # ssl.SSLError is an OSError: not PEM, or unreadable
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"The CA file {ca_file} could not be loaded: {reason}.",
            key=key,
            file=ca_file,
            hint="Give a PEM file holding the certificate authority that signed the "
            f"server's certificate ({where}).",
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
