"""Reference sender: the least a Python client can do, to calibrate the ceiling.

K aiosmtplib connections, each reused for letter after letter from a shared queue, with no
send log, no templates and no checks. Whatever share of the round-trip ceiling this reaches
on the machine is what Python, aiosmtplib and the sink allow; protest's gap to it is protest's
own overhead. Same recipients and about the same size as the generated campaign.

Usage: ``python benchmarks/reference_client.py -t DIR/targets.yaml --port 2525 -k 8``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import yaml

LOOPBACK = "127.0.0.1"
BODY = ("We ask that the decision be reviewed in public. " * 40).strip() + "\n"  # ~2 KB


def build(target: dict[str, Any]) -> EmailMessage:
    """A letter with one To and the target's copies, like protest's."""
    message = EmailMessage()
    message["From"] = "Bench Sender <bench@example.org>"
    message["To"] = target["email"]
    message["Cc"] = ", ".join(target.get("cc", []))
    message["Subject"] = f"Benchmark letter to {target['name']}"
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(BODY)
    return message


async def worker(queue: asyncio.Queue[dict[str, Any]], port: int) -> None:
    """One connection, reused until the queue is empty."""
    smtp = aiosmtplib.SMTP(
        hostname=LOOPBACK,
        port=port,
        local_hostname="bench.localhost",
        use_tls=False,
        start_tls=False,
    )
    await smtp.connect()
    while not queue.empty():
        await smtp.send_message(build(queue.get_nowait()))
    await smtp.quit()


async def send_all(*, targets: list[dict[str, Any]], port: int, concurrency: int) -> None:
    """Feed every target through ``concurrency`` connections."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for target in targets:
        queue.put_nowait(target)
    await asyncio.gather(*(worker(queue, port) for _ in range(concurrency)))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--targets", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True, help="SMTP port on 127.0.0.1")
    parser.add_argument("-k", "--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    with args.targets.open(encoding="utf-8") as fh:
        targets = yaml.safe_load(fh)["targets"]
    asyncio.run(send_all(targets=targets, port=args.port, concurrency=args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
