"""`manage.py tap --listen unix:///PATH [--upstream unix:///var/run/docker.sock]`: the API tap alone.

1. Check both addresses are unix sockets (TCP is not offered yet: it would need TLS with client certificates).
2. Serve the tap until SIGTERM or SIGINT; every request a client makes through it is stored and published.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archviz.tap import Tap
from archviz.watcher import docker_host


def unix_path(address: str, option: str) -> Path:
    if not address.startswith("unix://"):
        raise CommandError(f"{option} {address!r}: the tap speaks unix sockets only, as in unix:///run/archviz.sock")
    return Path(address.removeprefix("unix://"))


class Command(BaseCommand):
    help = "A transparent proxy in front of the daemon's socket that records every request."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", required=True, help="where clients connect, as unix:///path/to/archviz.sock")
        parser.add_argument("--upstream", default=None, help="the daemon's socket (default: DOCKER_HOST)")

    def handle(self, *args: Any, listen: str, upstream: str | None, **options: Any) -> None:
        tap = Tap(unix_path(listen, "--listen"), unix_path(upstream or docker_host(), "--upstream"))
        if not tap.upstream.exists():
            raise CommandError(f"no daemon socket at {tap.upstream}: start Docker, or point --upstream at one")
        asyncio.run(self._serve(tap))

    async def _serve(self, tap: Tap) -> None:
        server = await tap.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        self.stdout.write(f"tapping {tap.upstream}; point clients at DOCKER_HOST=unix://{tap.listen}")
        self.stdout.flush()
        await stopping.wait()
        await tap.stop(server)
