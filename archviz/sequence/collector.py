"""CPython's cyclic garbage collector, paused while one whole answer is built.

A whole diagram of 100,000 observations (or the present view's 5,000 arrows) makes hundreds of thousands of objects
that all live until the answer is returned, beside the observations it is made from. While they pile up, the
collector walks all of them again and again and finds nothing to free: about a sixth of the fold's time. Nothing
built here makes a reference cycle that must be freed before the answer is done; reference counting frees the rest
as usual, and whatever cycles anything else made meanwhile are collected once the collector runs again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block; restart it after only if this pause is what stopped it (a pause
    inside another, or in another thread meanwhile, leaves that to the one that did)."""
    stopped = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if stopped:
            gc.enable()
