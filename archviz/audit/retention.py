"""Forgetting the audit trail: events past the retention period, a batch per transaction."""

from __future__ import annotations

from django.db import transaction

from archviz.models import AuditEvent, StoredObservation
from archviz.observation import Source


def prune(older_than_ns: int, batch: int = 5000, dry_run: bool = False) -> int:
    """Delete audit events (and registry observations) older than the cut-off, a batch per transaction."""
    old_events = AuditEvent.objects.filter(time_ns__lt=older_than_ns)
    old_observations = StoredObservation.objects.filter(source=Source.REGISTRY.value, time_ns__lt=older_than_ns)
    if dry_run:
        return old_events.count()
    deleted = 0
    for rows in (old_events, old_observations):
        while ids := list(rows.values_list("id", flat=True)[:batch]):
            with transaction.atomic():
                count, _ = rows.model.objects.filter(id__in=ids).delete()
            if rows.model is AuditEvent:
                deleted += count
    return deleted
