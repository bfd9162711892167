"""Websocket frames of /ws/live/: what the server sends, and the checking of what a browser sends.

Server -> browser (JSON text frames; `seq` numbers the publications (archviz.publisher) densely: a snapshot
holds everything up to its `seq`, and a delta whose `seq` is not one more than the last one the browser applied
means a frame went missing (a channel layer drops frames for a full consumer), so the browser asks for a fresh
snapshot):
  {"type": "snapshot", "seq": N, "observations": [...], "watchers": [...], "sequence": {...}}
  {"type": "observations", "seq": N, "observations": [...], "sequence": {...}}
`sequence` holds {"participants", "messages", "interactions"}: the diagram the snapshot's observations were
published with, or what one publication adds to it (see archviz.sequence).
  {"type": "error", "error": "what was wrong with the frame the browser sent"}
Browser -> server:
  {"type": "resync"}          send me a fresh snapshot
  {"type": "ack", "seq": N}   I have applied everything up to publication N (the live page says so every
                              ACK_EVERY frames): a socket whose browser falls more than ARCHVIZ_SOCKET_LAG_LIMIT
                              publications behind is closed with RESYNC_CLOSE, and the page reconnects to a fresh
                              snapshot, rather than the server keeping an ever longer queue for a browser that does
                              not read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_CLIENT_FRAME = 4096
# What each type of browser frame carries besides its type.
CLIENT_FIELDS: dict[str, frozenset[str]] = {"resync": frozenset(), "ack": frozenset({"seq"})}
ACK_EVERY = 50
# The close code (in the range kept for applications) of a socket whose browser fell too far behind.
RESYNC_CLOSE = 4001


@dataclass(frozen=True, slots=True)
class ClientFrame:
    type: str
    seq: int = 0


class FrameError(ValueError):
    """A frame from a browser that archviz cannot act on; the message says why."""


def parse_client_frame(text: str | None, data: bytes | None) -> ClientFrame:
    """Check a frame from a browser and return it, or raise FrameError."""
    if text is None:
        raise FrameError("binary frames are not accepted: send JSON text such as {\"type\": \"resync\"}")
    if len(text) > MAX_CLIENT_FRAME:
        raise FrameError(f"frame too large: {len(text)} characters, at most {MAX_CLIENT_FRAME}")
    try:
        frame = json.loads(text)
    except json.JSONDecodeError:
        raise FrameError("frame is not JSON: send {\"type\": \"resync\"}") from None
    except RecursionError:
        raise FrameError("frame is nested too deeply: send {\"type\": \"resync\"}") from None
    if not isinstance(frame, dict):
        raise FrameError("frame must be a JSON object with a \"type\"")
    kind = frame.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_FIELDS:
        raise FrameError(f"unknown frame type {str(kind)[:40]!r}: send \"resync\" or \"ack\"")
    if unexpected := set(frame) - {"type"} - CLIENT_FIELDS[kind]:
        raise FrameError(f"unexpected fields in {kind} frame: {', '.join(sorted(map(str, unexpected)))[:200]}")
    if missing := CLIENT_FIELDS[kind] - set(frame):
        raise FrameError(f"{kind} frame lacks {', '.join(sorted(missing))}")
    seq = frame.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 1 << 63:
        raise FrameError("seq must be a publication number: a whole number from 0")
    return ClientFrame(kind, seq)


def snapshot_frame(observations: list[dict[str, Any]], watchers: list[dict[str, Any]], seq: int,
                   sequence: dict[str, Any]) -> str:
    return json.dumps({"type": "snapshot", "seq": seq, "observations": observations, "watchers": watchers,
                       "sequence": sequence})


def observations_frame(seq: int, observations: list[dict[str, Any]], sequence: dict[str, Any]) -> str:
    return json.dumps({"type": "observations", "seq": seq, "observations": observations, "sequence": sequence})


# Where a publication's frame is kept in the channel layer's message, once made.
_FRAME = "archviz.frame"


def publication_frame(message: dict[str, Any]) -> str:
    """The live frame of a publication as the channel layer delivered it, encoded once per message: channels_redis
    hands every page of a process the same message, so a hundred pages cost one encoding, not a hundred (it was
    61 % of a web process's page work; bench/scaleout.py)."""
    seq, frame = message.get(_FRAME, (None, ""))
    if seq != message["seq"]:  # not made yet (or copied into another publication's message)
        frame = observations_frame(message["seq"], message["observations"], message["sequence"])
        message[_FRAME] = (message["seq"], frame)
    return frame


def error_frame(message: str) -> str:
    return json.dumps({"type": "error", "error": message})
