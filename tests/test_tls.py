"""The one TLS policy that SMTP and IMAP connections share."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from protest_dispatch.errors import ConfigError
from protest_dispatch.net.tls import verified_context


def test_a_private_authority_is_trusted_and_old_tls_refused(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    context = verified_context(pem, key="imap_ca_file", where="imap_ca_file")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_file_that_is_not_pem_names_the_setting(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        verified_context(junk, key="imap_ca_file", where="imap_ca_file or PROTEST_IMAP_CA_FILE")
    assert caught.value.key == "imap_ca_file"
    assert f"The CA file {junk} could not be loaded" in caught.value.message
    assert "PROTEST_IMAP_CA_FILE" in (caught.value.hint or "")
