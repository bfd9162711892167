"""Streamed answers the tap reads on the side: the JSON progress lines of a pull, a push and a classic build,
from any client. Each turns what the daemon reports into Observations (one per layer that lands or is pushed,
one per build step); a pull's state is also broadcast, so the inventory page draws the same layer bars as for a
pull started from the dashboard.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from archviz.observation import Observation, Source
from archviz.pull_progress import PullState, apply_line
from archviz.secrets import mask_command
from archviz.sources.tap import Ending, Exchange, split_target, transfer
from archviz.tap.reading import Request, StreamDecoder

Emit = Callable[[Observation], None]
Broadcast = Callable[[dict[str, Any]], None]
LINE_LIMIT = 1024 * 1024
_STEP = re.compile(r"^Step (?P<step>\d+)/(?P<steps>\d+) : (?P<instruction>.*)$", re.DOTALL)
BROADCAST_EVERY = 0.1
_ANNOUNCEMENTS = frozenset({"Already exists", "Pulling fs layer"})


class JsonLines:
    """Splits a body into JSON lines and hands each object to `line`; an over-long line is dropped, not kept.
    An error the daemon reports inside the stream (the status was 200 long before) becomes the exchange's."""

    def __init__(self, exchange: Exchange, host: str, emit: Emit) -> None:
        self.exchange, self.host, self.emit = exchange, host, emit
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > LINE_LIMIT:
            self.buffer = b""
        for raw in lines:
            try:
                decoded = json.loads(raw)
            except ValueError:
                continue
            if isinstance(decoded, dict):
                if "error" in decoded:
                    self.exchange.error_message = str(decoded["error"])
                self.line(decoded)
        self.fed()

    def line(self, line: dict[str, Any]) -> None:
        """One JSON object of the stream."""

    def fed(self) -> None:
        """Called after each piece of the body."""

    def finish(self, ending: Ending) -> None:
        """Called once when the answer is over."""

    def observe(self, kind: str, subject: str, attributes: dict[str, object]) -> None:
        self.emit(Observation(
            time_ns=time.time_ns(), source=Source.TAP, host=self.host, kind=kind, subject=subject,
            attributes={**attributes, "user_agent": self.exchange.user_agent, "span": self.exchange.span,
                        **({"peer": self.exchange.peer} if self.exchange.peer else {})},
            correlation=f"{self.exchange.pid or ''}:{self.exchange.connection}",  # the client's box
        ))


class PullProgress(JsonLines):
    """`POST /images/create?fromImage=…`: one `api-pull-layer` per layer that lands, and the pull's state
    broadcast as it changes (at most every 0.1 s, and at the end)."""

    def __init__(self, exchange: Exchange, host: str, emit: Emit, broadcast: Broadcast, reference: str) -> None:
        super().__init__(exchange, host, emit)
        self.broadcast = broadcast
        self.state = PullState(reference)
        user = exchange.user_agent.split(" ", 1)[0] or "a client"
        self.job = f"tap-{exchange.connection}-{exchange.sequence}"
        self.user = f"{user} (process {exchange.pid or '?'})"
        self.landed: set[str] = set()
        self.sizes: dict[str, int] = {}
        self.last_sent = 0.0
        self.announcing = True

    def line(self, line: dict[str, Any]) -> None:
        self.state = apply_line(self.state, line)
        status = str(line.get("status", ""))
        # The daemon first names every layer ("Already exists" or "Pulling fs layer"), then works on them: a layer
        # found here is told once all are named, so that each observation can say how many the image has.
        self.announcing = self.announcing and (status in _ANNOUNCEMENTS or status.startswith("Pulling from "))
        if not self.announcing:
            self._landed()

    def _landed(self) -> None:
        for layer in self.state.layers:
            if layer.stage == "Downloading" and layer.total:
                self.sizes[layer.id] = layer.total
            if layer.stage in ("Pull complete", "Already exists") and layer.id not in self.landed:
                self.landed.add(layer.id)
                self.observe("api-pull-layer", self.state.reference,
                             {"layer": layer.id, "message": layer.stage, "size": self.sizes.get(layer.id, 0),
                              "layers": len(self.state.layers)})

    def fed(self) -> None:
        if time.monotonic() - self.last_sent >= BROADCAST_EVERY:
            self._send()

    def finish(self, ending: Ending) -> None:
        self._landed()
        if self.state.status not in ("done", "failed"):
            status = "done" if ending is Ending.COMPLETE else "failed"
            self.state = PullState(self.state.reference, status, self.state.message, self.state.layers)
        self._send()

    def _send(self) -> None:
        self.last_sent = time.monotonic()
        self.broadcast({"id": self.job, "host": self.host, "user": self.user, **self.state.to_wire()})


class PushProgress(JsonLines):
    """`POST /images/NAME/push`: one `api-push-layer` per layer the registry stored, already had, or mounted."""

    def __init__(self, exchange: Exchange, host: str, emit: Emit, reference: str) -> None:
        super().__init__(exchange, host, emit)
        self.reference = reference
        self.sizes: dict[str, int] = {}
        self.done: set[str] = set()

    def line(self, line: dict[str, Any]) -> None:
        layer, status = str(line.get("id", "")), str(line.get("status", ""))
        detail = line.get("progressDetail") or {}
        if layer and status == "Pushing" and isinstance(detail, dict) and detail.get("total"):
            self.sizes[layer] = int(detail["total"])
        if layer and layer not in self.done and (status in ("Pushed", "Layer already exists")
                                                 or status.startswith("Mounted from ")):
            self.done.add(layer)
            self.observe("api-push-layer", self.reference,
                          {"layer": layer, "message": status, "size": self.sizes.get(layer, 0)})
        if "error" in line:
            self.observe("api-push-layer", self.reference, {"layer": "", "message": "", "error": str(line["error"])})


class BuildProgress(JsonLines):
    """`POST /build` with the classic builder: one `api-build-step` per Dockerfile step, and its error if any."""

    def line(self, line: dict[str, Any]) -> None:
        stream = line.get("stream")
        if isinstance(stream, str) and (step := _STEP.match(stream.strip())):
            self.observe("api-build-step", f"step {step['step']}/{step['steps']}",
                         {"step": int(step["step"]), "steps": int(step["steps"]),
                          "instruction": mask_command(step["instruction"])[:500]})
        elif "error" in line:
            self.observe("api-build-step", "failed", {"error": mask_command(str(line["error"]))[:500]})


def decoder_for(request: Request, exchange: Exchange, host: str, emit: Emit, broadcast: Broadcast
                ) -> StreamDecoder | None:
    """The reader for a streamed answer worth reading, by what was asked."""
    if request.method != "POST":
        return None
    _version, path, query = split_target(request.target)
    match transfer(request.method, path, query):
        case ("pull", reference):
            return PullProgress(exchange, host, emit, broadcast, reference)
        case ("push", reference):
            return PushProgress(exchange, host, emit, reference)
    if path == "/build":
        return BuildProgress(exchange, host, emit)
    if path == "/images/load":
        return JsonLines(exchange, host, emit)
    return None
