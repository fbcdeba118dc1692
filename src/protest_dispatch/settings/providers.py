"""Mail provider presets for ``protest init``: server, security, limits, app-password help.

The sending limits are deliberately below what the providers publish (or, where
they publish nothing, modest guesses): the activist's own mail counts against
the same allowance, and a suspended mailbox in the middle of a campaign costs
more than a slower one. Per-hour limits are our pacing, not the provider's rule.
Anyone can raise them with ``limit_per_hour`` / ``limit_per_day`` in the config.
"""

from __future__ import annotations

from dataclasses import dataclass

from protest_dispatch.vocabulary import OAuthProvider, Security


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    host: str | None
    port: int | None
    security: Security | None
    limit_per_hour: int | None
    limit_per_day: int | None
    login_help: str
    domains: tuple[str, ...] = ()
    needs_ca_file: bool = False
    """The server's certificate is self-signed (Proton Mail Bridge): trust it by file."""
    oauth: OAuthProvider | None = None
    """The provider signs SMTP in with OAuth2 (XOAUTH2) too."""
    oauth_only: bool = False
    """Passwords, app passwords included, are refused: XOAUTH2 is the only way."""
    imap_host: str | None = None
    """Where ``protest inbox`` reads the mailbox the letters were sent from."""
    imap_port: int | None = None
    imap_security: Security | None = None
    other_hosts: tuple[str, ...] = ()
    """More SMTP servers of the same provider (Microsoft 365 for Outlook.com's sign-in)."""


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        key="gmail",
        name="Gmail",
        host="smtp.gmail.com",
        port=587,
        security=Security.STARTTLS,
        # Google documents 500 recipients a day for personal accounts.
        limit_per_hour=80,
        limit_per_day=400,
        login_help="Gmail needs an app password; your normal password will not work. "
        "Turn on 2-Step Verification, then create one at "
        "https://myaccount.google.com/apppasswords",
        domains=("gmail.com", "googlemail.com"),
        oauth=OAuthProvider.GOOGLE,
        imap_host="imap.gmail.com",
        imap_port=993,
        imap_security=Security.TLS,
    ),
    Provider(
        key="outlook",
        name="Outlook.com (Hotmail, Live)",
        host="smtp-mail.outlook.com",
        port=587,
        security=Security.STARTTLS,
        # Microsoft allows new personal accounts about 300 recipients a day.
        limit_per_hour=50,
        limit_per_day=250,
        login_help="Microsoft stopped accepting passwords, app passwords included, for "
        "Outlook.com, Hotmail and Live mail programs on 16 September 2024, so protest signs "
        "in with OAuth2 (XOAUTH2): either a token helper such as oama prints a token for it, "
        "or 'protest login' signs you in once with an OAuth client you register yourself "
        "(the README's 'Outlook and Microsoft 365' section shows how, in a few steps).",
        domains=("outlook.com", "hotmail.com", "live.com", "msn.com"),
        oauth=OAuthProvider.MICROSOFT,
        oauth_only=True,
        other_hosts=("smtp.office365.com",),
        imap_host="outlook.office365.com",
        imap_port=993,
        imap_security=Security.TLS,
    ),
    Provider(
        key="proton",
        name="Proton Mail (through Proton Mail Bridge)",
        host="127.0.0.1",
        port=1025,
        security=Security.STARTTLS,
        # The free plan allows 150 messages a day; Bridge needs a paid plan, which allows more.
        limit_per_hour=50,
        limit_per_day=150,
        login_help="Proton Mail works through Proton Mail Bridge (paid plans), which must "
        "be running while you send. Use the username and the password that Bridge shows "
        "in its mailbox configuration, not your Proton account password. If Bridge shows "
        "an SMTP port other than 1025, change smtp_port in the config file.",
        domains=("proton.me", "protonmail.com", "protonmail.ch", "pm.me"),
        needs_ca_file=True,
        imap_host="127.0.0.1",
        imap_port=1143,
        imap_security=Security.STARTTLS,
    ),
    Provider(
        key="fastmail",
        name="Fastmail",
        host="smtp.fastmail.com",
        port=465,
        security=Security.TLS,
        limit_per_hour=80,
        limit_per_day=400,
        login_help="Fastmail needs an app password: Settings > Privacy & Security > "
        "Manage app passwords and access > New app password (with access to mail/SMTP).",
        domains=("fastmail.com", "fastmail.fm"),
        imap_host="imap.fastmail.com",
        imap_port=993,
        imap_security=Security.TLS,
    ),
    Provider(
        key="riseup",
        name="Riseup",
        host="mail.riseup.net",
        port=587,
        security=Security.STARTTLS,
        limit_per_hour=30,
        limit_per_day=100,
        login_help="Riseup: create a separate mail password (a service password) at "
        "https://account.riseup.net, or use your account password.",
        domains=("riseup.net",),
        imap_host="mail.riseup.net",
        imap_port=993,
        imap_security=Security.TLS,
    ),
    Provider(
        key="posteo",
        name="Posteo",
        host="posteo.de",
        port=587,
        security=Security.STARTTLS,
        limit_per_hour=50,
        limit_per_day=200,
        login_help="Posteo has no app passwords: use your account password, and keep it "
        "in the system keyring or a password manager rather than in a file.",
        domains=("posteo.de", "posteo.net", "posteo.org", "posteo.eu"),
        imap_host="posteo.de",
        imap_port=993,
        imap_security=Security.TLS,
    ),
    Provider(
        key="other",
        name="Other (enter the server yourself)",
        host=None,
        port=None,
        security=None,
        limit_per_hour=None,
        limit_per_day=None,
        login_help="Your provider's help pages name its SMTP server and port, and say "
        "whether it wants an app password instead of your normal one.",
    ),
)

PROTON_CA_HELP = (
    "Proton Mail Bridge encrypts the connection with a certificate it made itself, so "
    "protest must be told to trust it: in Bridge, open Settings > Advanced settings > "
    "Export TLS certificates, save them, and give the path of the exported cert.pem."
)


def by_key(key: str) -> Provider | None:
    wanted = key.strip().lower()
    return next((p for p in PROVIDERS if p.key == wanted), None)


def by_host(host: str) -> Provider | None:
    """The preset whose SMTP server ``host`` is."""
    wanted = host.strip().lower().rstrip(".")
    return next((p for p in PROVIDERS if wanted in (p.host, *p.other_hosts)), None)


def guess(email: str) -> Provider | None:
    """The provider an address most likely belongs to, from its domain."""
    domain = email.rpartition("@")[2].lower()
    return next((p for p in PROVIDERS if domain in p.domains), None)
