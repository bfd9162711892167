"""The sequence state of this process's live broadcast: one Sequencer, fed every published observation.

It starts from the store's newest observations the first time something is published, so interactions
already under way when the process starts are continued, not cut in two.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

from archviz.models import StoredObservation
from archviz.sequence import Delta, Sequencer

_lock = threading.Lock()
_sequencer: Sequencer | None = None


def sequence_delta(observations: list[dict[str, Any]]) -> Delta:
    """The Messages, new participants and changed interactions that these new observations make."""
    global _sequencer
    with _lock:
        if _sequencer is None:
            _sequencer = Sequencer()
            earlier = StoredObservation.objects.filter(id__lt=observations[0]["id"]).order_by("-id")
            for row in reversed(earlier[: settings.ARCHVIZ_SNAPSHOT_SIZE]):
                _sequencer.add(row.to_wire())
        merged = Delta()
        for observation in observations:
            delta = _sequencer.add(observation)
            merged.participants += delta.participants
            merged.messages += delta.messages
            merged.interactions += [i for i in delta.interactions if i not in merged.interactions]
        return merged


def roles() -> dict[str, str]:
    """Every participant the live diagram has drawn so far, by id, with its role."""
    with _lock:
        return {p.id: p.role for p in _sequencer.participants.values()} if _sequencer is not None else {}


def reset() -> None:
    """Forget the live state (tests start each from an empty store)."""
    global _sequencer
    with _lock:
        _sequencer = None
