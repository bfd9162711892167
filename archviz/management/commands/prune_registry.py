"""`manage.py prune_registry [--dry-run]`: delete registry audit events past ARCHVIZ_REGISTRY_RETENTION_DAYS.

1. Work out the cut-off from the retention setting (or --days); 0 days keeps everything.
2. With --dry-run, say how many events would go and stop.
3. Otherwise delete them (and the registry's observations of the same age) in batches, one transaction each,
   so a large prune never holds the database for long.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from archviz.audit.retention import prune


class Command(BaseCommand):
    help = "Delete registry audit events older than the retention period, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="only say how many events would be deleted")
        parser.add_argument("--days", type=int, default=None, help="override ARCHVIZ_REGISTRY_RETENTION_DAYS")
        parser.add_argument("--batch", type=int, default=5000, help="rows per transaction (default 5000)")

    def handle(self, *args: Any, dry_run: bool, days: int | None, batch: int, **options: Any) -> None:
        days = settings.ARCHVIZ_REGISTRY_RETENTION_DAYS if days is None else days
        if days <= 0:
            self.stdout.write("Retention is 0 days: registry events are kept forever; nothing to prune.")
            return
        cutoff = time.time_ns() - days * 86_400 * 1_000_000_000
        count = prune(cutoff, batch=max(batch, 1), dry_run=dry_run)
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(f"{count} registry events older than {days} days {verb}.")
