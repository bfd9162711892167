"""`/api/present/` answers kept ready. A saved session never changes, nor does a range of the store that nothing new
has fallen into; mapping, narrating and tracking 5,000 arrows costs more than a class should wait for twice. Each
answer is kept under a key that changes whenever what it was made from could have (see `archviz.classroom.views`).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

KEEP = 8  # answers, newest used last; a 5,000-arrow answer is about 5 MB

_answers: OrderedDict[Hashable, bytes] = OrderedDict()
_lock = threading.Lock()


def answer(key: Hashable, build: Callable[[], dict[str, Any]]) -> bytes:
    """The JSON answer kept under `key`, built (outside the lock) and kept when there is none."""
    with _lock:
        if key in _answers:
            _answers.move_to_end(key)
            return _answers[key]
    body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()
    with _lock:
        _answers[key] = body
        while len(_answers) > KEEP:
            _answers.popitem(last=False)
    return body


def forget() -> None:
    """Drop every kept answer (a session was deleted, or tests start again)."""
    with _lock:
        _answers.clear()
