"""Schema changes since version 1, each a list of statements that only add.

Kept apart from :mod:`~protest_dispatch.sendlog.logfile` (which applies them) and
:mod:`~protest_dispatch.sendlog.findings` (which uses the tables) so neither
imports the other.
"""

from __future__ import annotations

from protest_dispatch.vocabulary import FindingKind

_KINDS = ", ".join(repr(kind.value) for kind in FindingKind)

MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        # What came of a letter (issue 13): one row per incoming message or answer.
        # `source` names where it came from (the incoming Message-ID, or the mailbox
        # place when it has none), so reading the same mail again records nothing twice.
        f"""CREATE TABLE IF NOT EXISTS findings (
            id          INTEGER PRIMARY KEY,
            campaign    TEXT NOT NULL,
            target      TEXT NOT NULL,
            sender      TEXT NOT NULL,
            letter_id   TEXT NOT NULL,
            kind        TEXT NOT NULL CHECK (kind IN ({_KINDS})),
            recipient   TEXT,
            status      TEXT,
            diagnostic  TEXT,
            at          TEXT NOT NULL,
            from_addr   TEXT,
            subject     TEXT,
            body        TEXT,
            source      TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            UNIQUE (campaign, target, sender, source)
        )""",
        "CREATE INDEX IF NOT EXISTS findings_letter ON findings (campaign, target, sender)",
        # Per account and folder: the UIDVALIDITY and highest UID already read.
        """CREATE TABLE IF NOT EXISTS mailbox_state (
            account     TEXT NOT NULL,
            folder      TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            last_uid    INTEGER NOT NULL,
            PRIMARY KEY (account, folder)
        ) WITHOUT ROWID""",
    ),
    3: (
        # The campaign a letter went out under (issue 20): the SHA-256 of its signed
        # MANIFEST, or of targets.yaml when unsigned. NULL for letters sent before.
        "ALTER TABLE letters ADD COLUMN campaign_sha256 TEXT",
    ),
    4: (
        # Letters on paper (issue 19): the sender says when a printed letter went in the
        # post (`protest posted`); one row each time, so a letter posted again shows twice.
        """CREATE TABLE IF NOT EXISTS posts (
            id          INTEGER PRIMARY KEY,
            campaign    TEXT NOT NULL,
            target      TEXT NOT NULL,
            sender      TEXT NOT NULL,
            posted_on   TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS posts_letter ON posts (campaign, target, sender)",
    ),
    5: (
        # Letters a resend replaced (sendlog.earlier): a row of `letters` as it was, keyed
        # by its Message-ID, so an answer to the first letter is still found.
        """CREATE TABLE IF NOT EXISTS earlier_letters (
            campaign        TEXT NOT NULL,
            target          TEXT NOT NULL,
            sender          TEXT NOT NULL,
            to_addr         TEXT NOT NULL,
            cc              TEXT NOT NULL,
            status          TEXT NOT NULL,
            attempts        INTEGER NOT NULL,
            smtp_code       INTEGER,
            error           TEXT,
            message_id      TEXT NOT NULL PRIMARY KEY,
            updated_at      TEXT NOT NULL,
            refused         TEXT NOT NULL,
            next_attempt_at TEXT,
            campaign_sha256 TEXT
        ) WITHOUT ROWID""",
    ),
}

MIGRATED_TABLES = frozenset({"findings", "mailbox_state", "posts", "earlier_letters"})
