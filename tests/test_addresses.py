"""One rule for "the same mailbox" (addresses.mailbox), used by copies, plans and bounces."""

from __future__ import annotations

import unicodedata

import idna
from hypothesis import assume, given
from hypothesis import strategies as st

from protest_dispatch.addresses import mailbox, same_mailbox
from protest_dispatch.campaign.recipients import copies
from protest_dispatch.mail.envelope import unique_copies

LETTERS = "abcdefghijklmnopqrstuvwxyzäöüéèçñøåßıαβγδεςσжзийкл中文日本"  # noqa: RUF001 - letters of several scripts, on purpose
ASCII_LOCAL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_",
    min_size=1,
    max_size=20,
)
UNICODE_LOCAL = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Lo", "Mn", "Nd"]), min_size=1, max_size=12
)
LABEL = st.text(alphabet=LETTERS, min_size=1, max_size=12)


def _a_label(domain: str) -> str | None:
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


@given(local=ASCII_LOCAL, domain=st.from_regex(r"[a-zA-Z0-9]{1,10}\.[a-zA-Z]{2,6}", fullmatch=True))
def test_an_ascii_address_is_its_lower_case(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    assert mailbox(address) == address.lower()
    assert same_mailbox(address.upper(), address.lower())


@given(local=UNICODE_LOCAL, labels=st.lists(LABEL, min_size=1, max_size=3))
def test_a_unicode_domain_is_the_same_mailbox_as_its_punycode(
    local: str, labels: list[str]
) -> None:
    domain = ".".join([*labels, "example"])
    a_label = _a_label(domain)
    assume(a_label is not None)
    assert same_mailbox(f"{local}@{domain}", f"{local}@{a_label}")
    assert mailbox(f"{local}@{domain}").endswith(f"@{a_label}")
    assert mailbox(f"{local}@{domain}").rpartition("@")[2].isascii()


@given(local=UNICODE_LOCAL, labels=st.lists(LABEL, min_size=1, max_size=3))
def test_the_key_is_stable_and_blind_to_normal_form(local: str, labels: list[str]) -> None:
    address = f"{local}@{'.'.join(labels)}.example"
    key = mailbox(address)
    assert mailbox(key) == key
    assert mailbox(unicodedata.normalize("NFD", address)) == key
    assert mailbox(unicodedata.normalize("NFC", address)) == key


@given(local=UNICODE_LOCAL)
def test_a_unicode_local_part_folds_its_case_in_full(local: str) -> None:
    assume(local.upper().casefold() == local.casefold())
    assert same_mailbox(f"{local.upper()}@example.org", f"{local}@example.org")


def test_full_case_folding_not_lower_case() -> None:
    assert same_mailbox("STRASSE@example.org", "straße@example.org")  # lower() keeps ß
    assert same_mailbox("ΟΔΟΣ@example.org", "οδος@example.org")  # final sigma
    assert same_mailbox("mfa@BÜCHER.example", "MFA@xn--bcher-kva.example")
    assert not same_mailbox("name+tag@example.org", "name@example.org")  # aliases are not folded


@given(
    to=ASCII_LOCAL.map(lambda s: f"{s}@example.org"),
    cc=st.lists(
        st.one_of(
            ASCII_LOCAL.map(lambda s: f"{s}@example.org"),
            UNICODE_LOCAL.map(lambda s: f"{s}@bücher.example"),
            UNICODE_LOCAL.map(lambda s: f"{s.upper()}@xn--bcher-kva.example"),
        ),
        max_size=8,
    ),
)
def test_the_letter_and_the_envelope_drop_the_same_copies(to: str, cc: list[str]) -> None:
    """campaign/recipients and mail/envelope once disagreed (casefold vs lower)."""
    assert list(copies(to=to, campaign_cc=cc, target_cc=())) == unique_copies(to, cc)
