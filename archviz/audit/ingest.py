"""Writing the audit trail: each notification event stored once, with its Observation, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from archviz.models import AuditEvent
from archviz.publish import publish
from archviz.sources.registry import RegistryEvent, observation_from_event


def ingest(events: Sequence[RegistryEvent]) -> int:
    """Store the events not stored yet, with their Observations, in one transaction; return how many were new."""
    with transaction.atomic():
        known = set(AuditEvent.objects.filter(event_id__in=[e.event_id for e in events])
                    .values_list("event_id", flat=True))
        fresh = [event for event in events if event.event_id not in known]
        AuditEvent.objects.bulk_create([AuditEvent(**event.as_dict()) for event in fresh], ignore_conflicts=True)
        publish([observation_from_event(event) for event in fresh])
    return len(fresh)
