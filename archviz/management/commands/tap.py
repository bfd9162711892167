"""`manage.py tap --listen ADDRESS [--tlscacert CA --tlscert CERT --tlskey KEY] [--upstream unix:///…]
[--metrics [HOST:]PORT]`: the API tap alone.

1. Read where to listen (archviz.tap.listen): `unix:///PATH`, or `tcp://` with all three TLS files (dockerd's own
   option names), or plain `tcp://` on loopback with `--insecure-loopback` (then warn, loudly: every local user can
   drive the daemon); refuse anything else with the option to change.
2. Check the daemon's socket (`--upstream`, else DOCKER_HOST) is a unix socket that exists.
3. Serve the tap until SIGTERM or SIGINT; every request a client makes through it is stored, and published by the
   process that publishes (`serve` or `watch`, see archviz.publisher). The tap never publishes itself: a request's
   head must reach the store before the daemon's events it causes, so the tap does nothing else with its time.
4. With --metrics, serve what it counts (requests by method and status class, observations stored) for Prometheus
   (archviz.exporter), from a thread of its own: on loopback unless --metrics-off-loopback says otherwise.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archviz.daemons import docker_host
from archviz.exporter import add_metrics_arguments, metrics_address, start_exporter
from archviz.publisher import PUBLISHER
from archviz.tap.listen import Listen, Names, TcpAddress, listen_at, plain_tcp_warning, url
from archviz.tap.proxy import Tap

OPTIONS = Names(address="--listen", ca="--tlscacert", cert="--tlscert", key="--tlskey",
                insecure="--insecure-loopback")


def unix_path(address: str, option: str) -> Path:
    if not address.startswith("unix://"):
        raise CommandError(f"{option} {address!r}: the tap reaches the daemon over unix sockets only, "
                           "as in unix:///var/run/docker.sock")
    return Path(address.removeprefix("unix://"))


class Command(BaseCommand):
    help = "A transparent proxy in front of the daemon's socket that records every request."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", required=True,
                            help="where clients connect: unix:///path/to/archviz.sock, or tcp://HOST:PORT with the "
                                 "three TLS options")
        parser.add_argument("--tlscacert", default=None, help="with tcp://: accept only clients whose "
                                                              "certificate this CA signed")
        parser.add_argument("--tlscert", default=None, help="with tcp://: the tap's TLS certificate")
        parser.add_argument("--tlskey", default=None, help="with tcp://: the tap's TLS key")
        parser.add_argument("--upstream", default=None, help="the daemon's socket (default: DOCKER_HOST)")
        parser.add_argument("--insecure-loopback", action="store_true",
                            help="allow plain tcp:// on loopback, without TLS: every local user who can reach the "
                                 "port then drives the daemon (is root)")
        add_metrics_arguments(parser)

    def handle(self, *args: Any, listen: str, tlscacert: str | None, tlscert: str | None, tlskey: str | None,
               upstream: str | None, insecure_loopback: bool, metrics: str | None, metrics_off_loopback: bool,
               **options: Any) -> None:
        try:
            where = listen_at(listen, tlscacert, tlscert, tlskey, OPTIONS, insecure_loopback=insecure_loopback)
            exporter = metrics_address(metrics, off_loopback=metrics_off_loopback) if metrics else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        if isinstance(where, TcpAddress) and where.tls is None:
            self.stderr.write(plain_tcp_warning(where))
        tap = Tap(where, unix_path(upstream or docker_host(), "--upstream"))
        if not tap.upstream.exists():
            raise CommandError(f"no daemon socket at {tap.upstream}: start Docker, or point --upstream at one")
        PUBLISHER.may_lead = False
        try:
            stop_exporting = start_exporter(exporter, PUBLISHER.leadership.holding)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if exporter is not None:
            self.stdout.write(f"metrics at {exporter.url}")
        try:
            asyncio.run(self._serve(tap))
        finally:
            stop_exporting()

    async def _serve(self, tap: Tap) -> None:
        try:
            server = await tap.start()
        except OSError as error:
            raise CommandError(f"--listen {url(tap.listen)}: {error.strerror or error}") from None
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        self.stdout.write(f"tapping {tap.upstream}; point clients at {how_to_connect(tap.listen)}")
        self.stdout.flush()
        await stopping.wait()
        await tap.stop(server)


def how_to_connect(listen: Listen) -> str:
    if isinstance(listen, TcpAddress) and listen.tls is not None:
        return f"DOCKER_HOST={url(listen)} with DOCKER_TLS_VERIFY=1 and a client certificate from the CA"
    return f"DOCKER_HOST={url(listen)}"
