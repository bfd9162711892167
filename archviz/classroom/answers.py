"""`/api/present/` answers kept ready. A saved session never changes, nor does a range of the store that nothing new
has fallen into; mapping, narrating and tracking 5,000 arrows costs more than a class should wait for twice. Each
answer is kept under a key that changes whenever what it was made from could have (see `archviz.classroom.views`).

An answer is kept gzip-compressed, as it is sent to a browser: a 5,000-arrow answer is about 5 MB of JSON and
0.3 MB compressed, so that the browser has it sooner and eight kept answers take little memory. The rare client
that does not take gzip is sent it decompressed.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

KEEP = 8  # answers, newest used last

_answers: OrderedDict[Hashable, bytes] = OrderedDict()
_lock = threading.Lock()


def answer(key: Hashable, build: Callable[[], dict[str, Any]]) -> bytes:
    """The gzip-compressed JSON answer kept under `key`, built (outside the lock) and kept when there is none."""
    with _lock:
        if key in _answers:
            _answers.move_to_end(key)
            return _answers[key]
    body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()
    # Level 1: 5 MB in about 10 ms (level 6 takes twice as long for half the size, which a loopback or a classroom's
    # network sends in no time either way); mtime 0: the same answer is the same bytes.
    compressed = gzip.compress(body, compresslevel=1, mtime=0)
    with _lock:
        _answers[key] = compressed
        while len(_answers) > KEEP:
            _answers.popitem(last=False)
    return compressed


def forget() -> None:
    """Drop every kept answer (a session was deleted, or tests start again)."""
    with _lock:
        _answers.clear()
