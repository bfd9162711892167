"""`manage.py watch`: the daemon watcher alone, for deployments that run web and watchers apart.

1. Start the watcher on DOCKER_HOST (or the local socket).
2. On SIGTERM or SIGINT, stop it: the events already read are stored before the process exits.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from archviz.watcher import DaemonWatcher


class Command(BaseCommand):
    help = "Stream the Docker daemon's events into the store and publish them, until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        if "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
            self.stderr.write("Note: no REDIS_URL is set, so events are stored but web processes are not told "
                              "live; browsers see them on their next snapshot. Set REDIS_URL to push them live.")
        asyncio.run(self._watch())

    async def _watch(self) -> None:
        watcher = DaemonWatcher()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, watcher.stop)
        self.stdout.write(f"watching {watcher.address}")
        self.stdout.flush()
        await watcher.run()
