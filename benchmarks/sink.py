"""SMTP sink that stands in for a distant mail server, for the benchmarks.

Over a real network every SMTP reply costs a round trip, so the sink holds back every reply the
client has to wait for by ``--rtt-ms``. That makes a loopback run as round-trip-bound as a real
one. It runs in its own process so that its CPU time is not charged to the client under test.

It counts connections, messages, recipients and reply round trips, and checks that every
message arrived once (by Message-ID, and by To address since each benchmark target has its own).
Stats are written as JSON to ``--stats`` every ``--stats-interval`` seconds while they change,
and once more on SIGTERM/SIGINT just before it exits, so a reader that stops the sink first
always sees the final numbers.

Usage: ``python benchmarks/sink.py --rtt-ms 20 --stats /tmp/stats.json``; the first line on
stdout is ``{"port": N, "pid": P}`` once the sink is listening on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope, Session

LOOPBACK = "127.0.0.1"
# asyncio's epoll wait rounds its timeout up to whole milliseconds, so a timer fires 0-1 ms
# late, and later still when the machine is idle (0.5 ms under load, 0.9 ms at K=1, measured).
# The sink learns how late its timers fire and aims that much early, so the mean reply delay
# is the nominal RTT at any load; the stats report the delay actually given, to check this.
TIMER_EARLY_FIRST_S = 0.0005
TIMER_EARLY_MAX_S = 0.002
TIMER_LEARNING_RATE = 0.05
_HEADERS = BytesHeaderParser()


class Stats:
    """What the sink saw; duplicates are kept as counters so a re-send is never hidden."""

    def __init__(self, *, rtt_ms: float) -> None:
        self.rtt_ms = rtt_ms
        self.connections = 0
        self.messages = 0
        self.recipients = 0
        self.round_trips = 0
        self.data_bytes = 0
        self.reply_delay_total = 0.0
        self.reply_delay_max = 0.0
        self.missing_message_id = 0
        self.first_connection_at: float | None = None
        self.last_message_at: float | None = None
        self.message_ids: Counter[str] = Counter()
        self.to_addresses: Counter[str] = Counter()
        self.changed = True

    def note_connection(self) -> None:
        """Count a TCP connection; the first one marks when the client started sending."""
        self.connections += 1
        if self.first_connection_at is None:
            self.first_connection_at = time.time()
        self.changed = True

    def note_reply(self, *, delay: float) -> None:
        """Count one round trip and how long the client really waited for it."""
        self.round_trips += 1
        self.reply_delay_total += delay
        self.reply_delay_max = max(self.reply_delay_max, delay)
        self.changed = True

    def note_message(self, *, content: bytes, recipients: int) -> None:
        """Count one accepted message and remember its identity to spot duplicates."""
        headers = _HEADERS.parsebytes(content)
        message_id = (headers.get("Message-ID") or "").strip()
        if message_id:
            self.message_ids[message_id] += 1
        else:
            self.missing_message_id += 1
        self.to_addresses[str(headers.get("To") or "").strip().lower()] += 1
        self.messages += 1
        self.recipients += recipients
        self.data_bytes += len(content)
        self.last_message_at = time.time()
        self.changed = True

    def as_json(self) -> dict[str, Any]:
        """Summarise for the harness; wall-clock times so they compare across processes."""
        duplicate_ids = {mid: n for mid, n in self.message_ids.items() if n > 1}
        duplicate_to = {to: n for to, n in self.to_addresses.items() if n > 1}
        return {
            "rtt_ms": self.rtt_ms,
            "connections": self.connections,
            "messages": self.messages,
            "recipients": self.recipients,
            "round_trips": self.round_trips,
            "data_bytes": self.data_bytes,
            "mean_reply_delay_ms": 1000 * self.reply_delay_total / max(self.round_trips, 1),
            "max_reply_delay_ms": 1000 * self.reply_delay_max,
            "unique_message_ids": len(self.message_ids),
            "missing_message_id": self.missing_message_id,
            "duplicate_message_ids": sum(n - 1 for n in duplicate_ids.values()),
            "unique_to": len(self.to_addresses),
            "duplicate_to": sum(n - 1 for n in duplicate_to.values()),
            "duplicate_examples": sorted(duplicate_ids)[:5] + sorted(duplicate_to)[:5],
            "first_connection_at": self.first_connection_at,
            "last_message_at": self.last_message_at,
        }


def write_stats(stats: Stats, path: Path) -> None:
    """Replace the file atomically so a reader never sees half a JSON document."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(stats.as_json(), indent=2), encoding="utf-8")
    os.replace(tmp, path)
    stats.changed = False


class CountingHandler:
    """aiosmtpd handler that accepts everything and records it."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Accept the message; its bytes are only parsed for the headers that identify it."""
        content = envelope.original_content or b""
        self._stats.note_message(content=content, recipients=len(envelope.rcpt_tos))
        return "250 OK"


def is_final_line(status: str | bytes) -> bool:
    """A multi-line reply (EHLO) is one round trip: only its last line ``NNN text`` counts."""
    text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
    return len(text) < 4 or text[3] != "-"


class DelayedSMTP(SMTP):
    """aiosmtpd server whose replies arrive one simulated round trip late.

    aiosmtpd writes every reply line through ``push()`` (greeting, EHLO, MAIL, RCPT, 354,
    end of data, RSET, QUIT...), so delaying there covers every reply the client waits for.
    The delay runs from when the client's bytes arrived, not from when the sink got round to
    answering, so the sink's own CPU time does not lengthen the simulated round trip.
    """

    timer_early = TIMER_EARLY_FIRST_S  # shared by every connection: it is the loop's lateness

    def __init__(self, handler: CountingHandler, *, stats: Stats, rtt: float) -> None:
        super().__init__(
            handler,
            hostname="sink.localhost",  # avoids a getfqdn() DNS look-up on every connection
            ident="protest-bench-sink",
            enable_SMTPUTF8=True,
            decode_data=False,
        )
        self._stats = stats
        self._rtt = rtt
        self._received_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count connections; the greeting's round trip starts now."""
        self._received_at = self.loop.time()
        self._stats.note_connection()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Remember when the client's latest bytes (its command) arrived."""
        self._received_at = self.loop.time()
        super().data_received(data)

    async def push(self, status: AnyStr) -> None:
        """Hold back the final line of each reply until one round trip after the command."""
        if is_final_line(status):
            due = self._received_at + self._rtt
            if self._rtt > 0:
                await asyncio.sleep(max(0.0, due - DelayedSMTP.timer_early - self.loop.time()))
                late = self.loop.time() - due
                DelayedSMTP.timer_early = min(
                    TIMER_EARLY_MAX_S,
                    max(0.0, DelayedSMTP.timer_early + TIMER_LEARNING_RATE * late),
                )
            self._stats.note_reply(delay=self.loop.time() - self._received_at)
        await super().push(status)


async def _flush_periodically(stats: Stats, path: Path, interval: float) -> None:
    """Keep the stats file fresh without writing it per message (that would steal CPU)."""
    while True:
        await asyncio.sleep(interval)
        if stats.changed:
            write_stats(stats, path)


async def serve(
    *, port: int, rtt_ms: float, stats_path: Path, interval: float, lifetime: float
) -> None:
    """Listen on loopback until SIGTERM/SIGINT or ``lifetime`` seconds, then write final stats."""
    stats = Stats(rtt_ms=rtt_ms)
    handler = CountingHandler(stats)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: DelayedSMTP(handler, stats=stats, rtt=rtt_ms / 1000.0), host=LOOPBACK, port=port
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    write_stats(stats, stats_path)
    bound_port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": bound_port, "pid": os.getpid()}), flush=True)
    flusher = asyncio.create_task(_flush_periodically(stats, stats_path, interval))
    try:
        await asyncio.wait_for(stop.wait(), timeout=lifetime)
    except TimeoutError:
        print("sink: lifetime reached, stopping", file=sys.stderr)
    flusher.cancel()
    server.close()
    write_stats(stats, stats_path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; the host is fixed to loopback on purpose."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="delay before every reply")
    parser.add_argument("--stats", type=Path, required=True, help="JSON stats file to rewrite")
    parser.add_argument("--stats-interval", type=float, default=1.0, help="seconds between writes")
    parser.add_argument(
        "--lifetime", type=float, default=3600.0, help="stop by itself after this many seconds"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the sink until told to stop."""
    args = parse_args(argv)
    asyncio.run(
        serve(
            port=args.port,
            rtt_ms=args.rtt_ms,
            stats_path=args.stats,
            interval=args.stats_interval,
            lifetime=args.lifetime,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
