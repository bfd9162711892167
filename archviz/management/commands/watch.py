"""`manage.py watch`: the daemon watcher alone, for deployments that run web and watchers apart.

1. Start a watcher per daemon (ARCHVIZ_DOCKER_HOSTS, or DOCKER_HOST, or the local socket), and the publisher's
   loop (archviz.publisher): with REDIS_URL this process may be the one that publishes what every process stores.
   Without it, browsers can only hear a process that serves them, so `serve` publishes what this one stores.
2. With --metrics [HOST:]PORT, serve what this process counts (events stored, by source; publications while it
   leads) for Prometheus there (archviz.exporter): on loopback unless --metrics-off-loopback says otherwise.
3. On SIGTERM or SIGINT, stop the watchers, then the publisher: the events already read are stored first.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from archviz.daemons import checked_watched_hosts
from archviz.docker_hosts import DockerHost
from archviz.exporter import add_metrics_arguments, metrics_address, start_exporter
from archviz.publisher import PUBLISHER
from archviz.watcher import DaemonWatcher


class Command(BaseCommand):
    help = "Stream the Docker daemon's events into the store and publish them, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        add_metrics_arguments(parser)

    def handle(self, *args: Any, metrics: str | None, metrics_off_loopback: bool, **options: Any) -> None:
        try:
            hosts = checked_watched_hosts()
            exporter = metrics_address(metrics, off_loopback=metrics_off_loopback) if metrics else None
            stop_exporting = start_exporter(exporter, PUBLISHER.leadership.holding)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if exporter is not None:
            self.stdout.write(f"metrics at {exporter.url}")
        if not crosses_processes():
            PUBLISHER.may_lead = False
            self.stderr.write("Note: no REDIS_URL is set, so this process only stores events: a `serve` on the "
                              "same database publishes them. Set REDIS_URL to run several web processes.")
        try:
            asyncio.run(self._watch(hosts))
        finally:
            stop_exporting()

    async def _watch(self, hosts: list[DockerHost]) -> None:
        watchers = [DaemonWatcher(host.address) for host in hosts]
        loop = asyncio.get_running_loop()

        def stop() -> None:
            for watcher in watchers:
                watcher.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        for watcher in watchers:
            self.stdout.write(f"watching {watcher.address}")
        self.stdout.flush()
        publishing = loop.create_task(PUBLISHER.run())
        try:
            await asyncio.gather(*(watcher.run() for watcher in watchers))
        finally:  # the watchers' last events are stored (and published, when this process leads) first
            PUBLISHER.stop()
            await publishing


def crosses_processes() -> bool:
    """Whether the channel layer reaches other processes' browsers (Redis), or only this process's (in-memory)."""
    return "InMemory" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]
