"""Forgetting the audit trail: events past the retention period, a batch per transaction.

A manifest's references (ManifestReference) stay: they describe a digest's content, which never changes."""

from __future__ import annotations

from django.db import transaction

from archviz.models import AuditEvent, RefusedDelivery, StoredObservation, UnknownEvent
from archviz.observation import Source


def prune(older_than_ns: int, batch: int = 5000, dry_run: bool = False) -> int:
    """Delete audit events older than the cut-off (with the registry's observations, the events of unknown shape
    received and the refusals last counted before it), a batch per transaction; return how many audit events."""
    old_events = AuditEvent.objects.filter(time_ns__lt=older_than_ns)
    if dry_run:
        return old_events.count()
    deleted = 0
    for rows in (old_events,
                 StoredObservation.objects.filter(source=Source.REGISTRY.value, time_ns__lt=older_than_ns),
                 UnknownEvent.objects.filter(received_ns__lt=older_than_ns),
                 RefusedDelivery.objects.filter(last_ns__lt=older_than_ns)):
        while ids := list(rows.values_list("id", flat=True)[:batch]):
            with transaction.atomic():
                count, _ = rows.model.objects.filter(id__in=ids).delete()
            if rows.model is AuditEvent:
                deleted += count
    return deleted
