"""A real, private Dovecot IMAP server on 127.0.0.1 for tests.

Registered as a plugin in ``tests/conftest.py`` (``pytest_plugins``), so every test
can ask for these fixtures:

- ``dovecot`` (session): a running :class:`Dovecot`; mailboxes keep what earlier
  tests left in them.
- ``mailbox`` (function): the same server with every user's folders emptied first
  (:meth:`Dovecot.reset`). Use this one in tests that read or count mail.
- ``dovecot_factory`` (function): start extra servers with the keywords of
  :func:`running_dovecot` (e.g. ``oauth2_introspection_url=``); stopped at teardown.

Without Dovecot installed (``tests/services`` installs it) the fixtures skip, and
fail when the environment variable ``CI`` is set: IMAP tests never skip silently in CI.

The server: ``dovecot -F -c CONF`` as a subprocess, with its config, base_dir,
mail homes, certificate and log in its own temporary folder. ``protocols = imap``
only (no LMTP, no submission: it never relays or delivers anywhere). Port
``imap_port`` offers STARTTLS (optional: Dovecot treats loopback clients as secure
and accepts plain-text logins there, so a test of "never log in without TLS" must
check the client, not expect the server to refuse); ``imaps_port`` is implicit TLS.
The certificate is issued by a per-server trustme CA for ``127.0.0.1`` and
``localhost``; ``ca_file`` is its PEM. Folders: ``INBOX``, ``Junk`` (``\\Junk``)
and ``Sent`` (``\\Sent``), separator ``/``, SPECIAL-USE advertised after login.

Users: ``user`` / ``password`` (``ana@example.org``) and ``other_user`` /
``other_password`` (``ben@example.org``); passwords are random per server. Mail
lives in ``maildir:~/Maildir`` under ``home/<domain>/<name>`` of the temp folder.

Logins: PLAIN and LOGIN (plus XOAUTH2 and OAUTHBEARER with
``oauth2_introspection_url``). Failed logins are not slowed down (no auth penalty,
``auth_failure_delay = 0``; a refusal still takes ~0.5 s inside Dovecot).

Users and root: Dovecot refuses mail uid 0 ("userdb returned 0 as uid"), whatever
``first_valid_uid`` says. Run as root (CI), mail belongs to the ``dovecot`` system
user (``first_valid_uid`` lowered to its uid), login processes run as ``dovenull``.
Run as an ordinary user, everything runs as that user (no chroot). Either way put
mail in with :meth:`Dovecot.deliver` (IMAP APPEND), not by writing files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import grp
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Literal

import pytest
import trustme
from imapclient import IMAPClient

HOST = "127.0.0.1"
USER = "ana@example.org"
OTHER_USER = "ben@example.org"
SPECIAL_FOLDERS = ("INBOX", "Junk", "Sent")
START_TIMEOUT = 10.0
IMAP_TIMEOUT = 10.0

Tls = Literal["implicit", "starttls", "none"]


class DovecotError(RuntimeError):
    """Dovecot did not start (the message carries its log)."""


def find_dovecot() -> str | None:
    """Path of the ``dovecot`` binary, also when /usr/sbin is not on PATH."""
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclasses.dataclass
class Dovecot:
    """A running server and helpers to put mail in and look at it (as IMAP clients)."""

    host: str
    imap_port: int
    imaps_port: int
    ca_file: Path
    ca: trustme.CA
    user: str
    password: str
    other_user: str
    other_password: str
    root: Path
    conf_path: Path
    log_path: Path
    mail_uid: int
    mail_gid: int
    oauth2_introspection_url: str | None = None

    @property
    def users(self) -> dict[str, str]:
        return {self.user: self.password, self.other_user: self.other_password}

    def home(self, user: str | None = None) -> Path:
        name, _, domain = (user or self.user).partition("@")
        return self.root / "home" / domain / name

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only this server's CA (and checks the host name)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @contextlib.contextmanager
    def client(
        self,
        user: str | None = None,
        password: str | None = None,
        *,
        tls: Tls = "implicit",
        login: bool = True,
    ) -> Iterator[IMAPClient]:
        """An imapclient connection, logged in as ``user`` (default: ``self.user``)."""
        user = user or self.user
        if password is None:
            password = self.users[user]
        if tls == "implicit":
            imap = IMAPClient(
                self.host,
                self.imaps_port,
                ssl=True,
                ssl_context=self.ssl_context(),
                timeout=IMAP_TIMEOUT,
            )
        else:
            imap = IMAPClient(self.host, self.imap_port, ssl=False, timeout=IMAP_TIMEOUT)
            if tls == "starttls":
                imap.starttls(self.ssl_context())
        try:
            if login:
                imap.login(user, password)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()
            with contextlib.suppress(Exception):
                imap.shutdown()

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str | bytes] = (),
        internal_date: dt.datetime | None = None,
        user: str | None = None,
    ) -> int:
        """APPEND ``raw`` to ``folder`` of ``user``; returns the new message's UID."""
        with self.client(user) as imap:
            response = imap.append(folder, raw, flags=tuple(flags), msg_time=internal_date)
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", response)
        if match is None:
            raise AssertionError(f"APPEND gave no APPENDUID: {response!r}")
        return int(match.group(1))

    def reset(self, user: str | None = None) -> None:
        """Empty INBOX, Junk and Sent and delete every other folder (all users by default)."""
        for name in [user] if user else list(self.users):
            with self.client(name) as imap:
                extra = [
                    folder
                    for flags, _sep, folder in imap.list_folders()
                    if folder not in SPECIAL_FOLDERS
                    and not {b"\\Noselect", b"\\NonExistent"} & set(flags)
                ]
                for folder in sorted(extra, key=lambda f: f.count("/"), reverse=True):
                    imap.delete_folder(folder)  # with its messages
                for folder in SPECIAL_FOLDERS:
                    if imap.select_folder(folder)[b"EXISTS"]:
                        imap.delete_messages(imap.search("ALL"))
                        imap.expunge()
                    imap.close_folder()

    def folders(self, user: str | None = None) -> list[str]:
        with self.client(user) as imap:
            return sorted(folder for _flags, _sep, folder in imap.list_folders())

    def flags(self, folder: str = "INBOX", user: str | None = None) -> dict[int, frozenset[str]]:
        """UID -> flags of every message in ``folder`` (read with EXAMINE; no ``\\Recent``)."""
        with self.client(user) as imap:
            return _flags(imap, folder)

    def snapshot(self, user: str | None = None) -> dict[str, dict[int, frozenset[str]]]:
        """Folder -> UID -> flags for every folder of ``user``, read-only.

        Compare a snapshot before and after running the product to prove it set no
        flag (``\\Seen``, ``\\Deleted``...), moved nothing and deleted nothing.
        """
        with self.client(user) as imap:
            return {
                folder: _flags(imap, folder)
                for _f, _sep, folder in imap.list_folders()
                if b"\\Noselect" not in _f
            }

    def fetch_raw(self, folder: str = "INBOX", user: str | None = None) -> dict[int, bytes]:
        """UID -> raw message of every message in ``folder`` (EXAMINE and BODY.PEEK[])."""
        with self.client(user) as imap:
            imap.select_folder(folder, readonly=True)
            data = imap.fetch(imap.search("ALL"), ["BODY.PEEK[]"])
        return {uid: item[b"BODY[]"] for uid, item in data.items()}


def _flags(imap: IMAPClient, folder: str) -> dict[int, frozenset[str]]:
    imap.select_folder(folder, readonly=True)
    uids = imap.search("ALL")
    data = imap.fetch(uids, ["FLAGS"]) if uids else {}
    return {
        uid: frozenset(flag.decode() for flag in item[b"FLAGS"] if flag != b"\\Recent")
        for uid, item in data.items()
    }


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclasses.dataclass(frozen=True)
class _Accounts:
    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int
    chroot: bool


def _accounts() -> _Accounts:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(os.getegid()).gr_name
        return _Accounts(me.pw_name, group, me.pw_name, me.pw_uid, me.pw_gid, chroot=False)
    # Root: Dovecot never lets uid 0 own mail. Use the package's users (Debian creates
    # dovecot and dovenull); "nobody" elsewhere.
    names = {entry.pw_name: entry for entry in pwd.getpwall()}
    internal = names.get("dovecot") or names["nobody"]
    login = names.get("dovenull") or names["nobody"]
    group = grp.getgrgid(internal.pw_gid).gr_name
    return _Accounts(
        internal.pw_name, group, login.pw_name, internal.pw_uid, internal.pw_gid, chroot=True
    )


def _config(
    root: Path,
    *,
    imap_port: int,
    imaps_port: int,
    accounts: _Accounts,
    oauth2_conf: Path | None,
) -> str:
    chroot = "" if accounts.chroot else "  chroot =\n"
    mechanisms = "plain login" + (" xoauth2 oauthbearer" if oauth2_conf else "")
    oauth2 = (
        f"""
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2_conf}
}}
"""
        if oauth2_conf
        else ""
    )
    return f"""# Private test instance (tests/dovecot.py); never relays or delivers anywhere.
instance_name = {root.name}
base_dir = {root}/run
state_dir = {root}/state
listen = {HOST}
protocols = imap
log_path = {root}/dovecot.log
auth_verbose = yes
login_greeting = Dovecot (protest tests) ready.
default_internal_user = {accounts.internal_user}
default_internal_group = {accounts.internal_group}
default_login_user = {accounts.login_user}
first_valid_uid = {accounts.mail_uid}
last_valid_uid = 0
mail_max_userip_connections = 200
mail_fsync = never

ssl = yes
ssl_cert = <{root}/server-cert.pem
ssl_key = <{root}/server-key.pem
ssl_min_protocol = TLSv1.2

auth_mechanisms = {mechanisms}
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {root}/users
}}
{oauth2}
userdb {{
  driver = static
  args = uid={accounts.mail_uid} gid={accounts.mail_gid} home={root}/home/%d/%n
}}

mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}

service imap-login {{
{chroot}  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
{chroot}  # no growing delay after failed logins from 127.0.0.1 (the "auth penalty")
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _wait_ready(process: subprocess.Popen[bytes], ports: list[int], deadline: float) -> str:
    """'' when every port accepts connections; else why not."""
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            return f"dovecot exited with status {process.returncode}"
        try:
            with socket.create_connection((HOST, pending[0]), timeout=0.5):
                pending.pop(0)
                continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            return f"port {pending[0]} not accepting connections after {START_TIMEOUT} s"
        time.sleep(0.01)
    return ""


@contextlib.contextmanager
def running_dovecot(*, oauth2_introspection_url: str | None = None) -> Iterator[Dovecot]:
    """Start a private Dovecot (see the module docstring); stop it and remove its folder.

    ``oauth2_introspection_url``: also offer XOAUTH2 and OAUTHBEARER and check bearer
    tokens by POSTing them to this URL (RFC 7662 introspection; the answer must carry
    ``"active": true`` and ``"username": "<user>"``).
    """
    binary = find_dovecot()
    if binary is None:
        raise DovecotError("dovecot is not installed: run tests/services")
    accounts = _accounts()
    root = Path(tempfile.mkdtemp(prefix="protest-dovecot-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        root.chmod(0o755)  # the mail and login users must reach their files in here
        ca = trustme.CA()
        cert = ca.issue_cert(HOST, "localhost", "imap.proxy-only.test")  # socks5_server.py
        cert.cert_chain_pems[0].write_to_path(str(root / "server-cert.pem"))
        cert.private_key_pem.write_to_path(str(root / "server-key.pem"))
        (root / "server-key.pem").chmod(0o600)
        ca_file = root / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        ca_file.chmod(0o644)

        password, other_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        users = root / "users"
        users.write_text(f"{USER}:{{PLAIN}}{password}\n{OTHER_USER}:{{PLAIN}}{other_password}\n")
        users.chmod(0o640)
        home = root / "home"
        home.mkdir()
        if accounts.chroot:  # running as root
            os.chown(users, 0, accounts.mail_gid)
            os.chown(home, accounts.mail_uid, accounts.mail_gid)

        oauth2_conf = None
        if oauth2_introspection_url:
            oauth2_conf = root / "oauth2.conf.ext"
            oauth2_conf.write_text(
                f"introspection_mode = post\n"
                f"introspection_url = {oauth2_introspection_url}\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
            )
            oauth2_conf.chmod(0o644)

        imap_port, imaps_port = _free_ports(2)
        conf_path = root / "dovecot.conf"
        conf_path.write_text(
            _config(
                root,
                imap_port=imap_port,
                imaps_port=imaps_port,
                accounts=accounts,
                oauth2_conf=oauth2_conf,
            )
        )
        server = Dovecot(
            host=HOST,
            imap_port=imap_port,
            imaps_port=imaps_port,
            ca_file=ca_file,
            ca=ca,
            user=USER,
            password=password,
            other_user=OTHER_USER,
            other_password=other_password,
            root=root,
            conf_path=conf_path,
            log_path=root / "dovecot.log",
            mail_uid=accounts.mail_uid,
            mail_gid=accounts.mail_gid,
            oauth2_introspection_url=oauth2_introspection_url,
        )
        output = root / "dovecot.out"
        with output.open("wb") as out:
            process = subprocess.Popen(
                [binary, "-F", "-c", str(conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so _stop reaches every child
            )
        problem = _wait_ready(process, [imap_port, imaps_port], time.monotonic() + START_TIMEOUT)
        if problem:
            raise DovecotError(
                f"Dovecot did not start: {problem}\n"
                f"--- {output}:\n{output.read_text(errors='replace')}"
                f"--- {server.log_path}:\n{server.log()}"
                f"--- {conf_path}:\n{conf_path.read_text()}"
            )
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (master and children at once: the
    master alone takes a second to wind its children down), then wait for it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def _start(stack: contextlib.ExitStack, **options: str | None) -> Dovecot:
    if find_dovecot() is None:
        message = "dovecot is not installed: run tests/services (installs dovecot-imapd)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; IMAP tests must not be skipped in CI", pytrace=False)
        pytest.skip(message)
    try:
        return stack.enter_context(running_dovecot(**options))
    except DovecotError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot for the whole session (see the module docstring)."""
    with contextlib.ExitStack() as stack:
        yield _start(stack)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Dovecot:
    """The session's Dovecot with every user's folders emptied first."""
    dovecot.reset()
    return dovecot


@pytest.fixture
def dovecot_factory() -> Iterator[Callable[..., Dovecot]]:
    """Start more servers with ``running_dovecot`` keywords; all stop at teardown."""
    with contextlib.ExitStack() as stack:

        def start(**options: str | None) -> Dovecot:
            return _start(stack, **options)

        yield start
