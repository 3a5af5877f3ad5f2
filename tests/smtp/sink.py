#!/usr/bin/env python3
"""A real SMTP server for the tests: accepts any mail and keeps it on disk.

    python3 tests/smtp/sink.py --port PORT --dir DIR

Listens on 127.0.0.1:PORT (0 picks a free port) with no authentication and no
TLS, and accepts every sender, recipient and message. Each message is written
to DIR as NNNNNN.eml (the message's bytes exactly as received, after SMTP's
dot-unstuffing) with its envelope beside it in NNNNNN.json:

    {"from": "sender@example.com", "to": ["a@example.com", "b@example.com"]}

Both files are written under a temporary name and then renamed, the .json
first, so a reader that sees NNNNNN.eml sees a complete message and its
envelope. Numbers continue after the highest one already in DIR, so the
server can be restarted over the same folder.

Once listening it prints exactly one line, "listening on 127.0.0.1:PORT", to
stdout. It exits cleanly on SIGTERM and SIGINT. Its socket is opened with
SO_REUSEADDR, so it can be started again on the same port right after being
killed (the tests do that to simulate an SMTP outage).

Needs aiosmtpd (scripts/setup.sh installs it).
"""

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys

from aiosmtpd.smtp import SMTP

HOST = "127.0.0.1"
NAME = re.compile(r"^(\d{6})\.eml$")


class Sink:
    """aiosmtpd handler: every message to DIR, numbered in arrival order."""

    def __init__(self, directory):
        self.directory = directory
        taken = [int(m.group(1)) for m in map(NAME.match, os.listdir(directory)) if m]
        self.last = max(taken, default=0)

    def _write(self, name, data):
        final = os.path.join(self.directory, name)
        temporary = os.path.join(self.directory, "." + name + ".tmp")
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)

    async def handle_DATA(self, server, session, envelope):
        # No await before both files are in place: numbers cannot interleave.
        self.last += 1
        stem = f"{self.last:06d}"
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        meta = {"from": envelope.mail_from, "to": list(envelope.rcpt_tos)}
        self._write(stem + ".json", json.dumps(meta).encode("utf-8") + b"\n")
        self._write(stem + ".eml", content)
        return "250 OK: queued as " + stem


async def serve(port, directory):
    os.makedirs(directory, exist_ok=True)
    handler = Sink(directory)
    loop = asyncio.get_running_loop()
    # asyncio sets SO_REUSEADDR on listening sockets on Unix.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", enable_SMTPUTF8=True),
        host=HOST,
        port=port,
        reuse_address=True,
    )
    bound = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    print(f"listening on {HOST}:{bound}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--dir", required=True, help="where to write the messages")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    asyncio.run(serve(args.port, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
