"""The one way an Observation reaches anyone: store it, then broadcast it once the transaction commits.

`publish` is the only caller of `group_send` in archviz. Keep it that way: a browser that reconnects
resyncs from the store, which is only sound if nothing is ever shown that was not stored first.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from archviz.live_sequence import sequence_delta
from archviz.models import StoredObservation
from archviz.observation import Observation

LIVE_GROUP = "live"


def publish(observations: Sequence[Observation]) -> list[StoredObservation]:
    """Store the observations not already stored (by key), then broadcast those after commit."""
    rows: dict[str | None, StoredObservation] = {}
    unkeyed: list[StoredObservation] = []
    for observation in observations:
        row = StoredObservation.from_observation(observation)
        if row.key is None:
            unkeyed.append(row)
        else:
            rows.setdefault(row.key, row)
    with transaction.atomic():
        if rows:
            stored = StoredObservation.objects.filter(key__in=list(rows)).values_list("key", flat=True)
            for key in stored:
                del rows[key]
        fresh = sorted([*rows.values(), *unkeyed], key=lambda row: row.time_ns)
        if fresh:
            StoredObservation.objects.bulk_create(fresh)
            transaction.on_commit(partial(_broadcast, fresh))
    return fresh


def _broadcast(rows: list[StoredObservation]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    observations = [row.to_wire() for row in rows]
    message = {
        "type": "observations.added",
        "observations": observations,
        "sequence": sequence_delta(observations).to_wire(),
    }
    async_to_sync(layer.group_send)(LIVE_GROUP, message)
