"""What a pull's progress stream says, folded into one state a progress display can draw. Pure.

The daemon streams JSON lines: an overall line ("Pulling from lab/app"), then per layer the same stages the
docker CLI shows (Pulling fs layer, Waiting, Downloading x of y, Verifying Checksum, Download complete,
Extracting, Pull complete, or Already exists), then a digest and a status line, or an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# How far along each stage puts a layer (downloading and extracting move within their span).
STAGES = {
    "Pulling fs layer": 0.0, "Waiting": 0.0, "Downloading": 0.0, "Verifying Checksum": 0.7,
    "Download complete": 0.7, "Extracting": 0.7, "Pull complete": 1.0, "Already exists": 1.0,
}
SPANS = {"Downloading": (0.0, 0.7), "Extracting": (0.7, 1.0)}


@dataclass(frozen=True)
class Layer:
    id: str
    stage: str
    current: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        start, end = SPANS.get(self.stage, (STAGES.get(self.stage, 0.0), STAGES.get(self.stage, 0.0)))
        if self.total > 0 and self.stage in SPANS:
            return start + (end - start) * min(self.current / self.total, 1.0)
        return start


@dataclass(frozen=True)
class PullState:
    reference: str
    status: str = "starting"  # starting, pulling, done, failed, cancelled
    message: str = ""
    layers: tuple[Layer, ...] = field(default_factory=tuple)
    # The overall bar never moves back: layers are announced one by one, and a new one would lower the mean.
    peak: float = 0.0

    @property
    def fraction(self) -> float:
        if self.status == "done":
            return 1.0
        mean = sum(layer.fraction for layer in self.layers) / len(self.layers) if self.layers else 0.0
        return max(mean, self.peak)

    def to_wire(self) -> dict[str, Any]:
        return {
            "reference": self.reference, "status": self.status, "message": self.message,
            "fraction": round(self.fraction, 4),
            "layers": [{"id": layer.id, "stage": layer.stage, "current": layer.current, "total": layer.total,
                        "fraction": round(layer.fraction, 4)} for layer in self.layers],
        }


def apply_line(state: PullState, line: dict[str, Any]) -> PullState:
    """Fold one line of the daemon's pull stream into the state."""
    if "error" in line:
        detail = line.get("errorDetail") or {}
        return replace(state, status="failed", message=plain_error(str(detail.get("message") or line["error"])))
    status = str(line.get("status", ""))
    layer_id = str(line.get("id", ""))
    if layer_id and status in STAGES:
        detail = line.get("progressDetail") or {}
        current, total = int(detail.get("current") or 0), int(detail.get("total") or 0)
        layers = list(state.layers)
        index = next((i for i, layer in enumerate(layers) if layer.id == layer_id), None)
        updated = Layer(layer_id, status, current, total)
        if index is None:
            layers.append(updated)
        else:
            layers[index] = updated
        return replace(state, status="pulling", layers=tuple(layers), peak=state.fraction)
    if status.startswith("Status: "):
        return replace(state, status="done", message=status.removeprefix("Status: "))
    return replace(state, status="pulling" if state.status == "starting" else state.status,
                   message=status or state.message)


def plain_error(message: str) -> str:
    """The daemon's error, said plainly with what to do about it."""
    lowered = message.lower()
    if "manifest unknown" in lowered or "not found" in lowered:
        return f"No such image in that registry: {message}. Check the name and the tag."
    if "connection refused" in lowered or "no such host" in lowered or "dial tcp" in lowered or "timeout" in lowered:
        return f"The registry cannot be reached: {message}. Check its address and that it runs."
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        return f"The registry wants a login: {message}. Give a user name and password for it."
    return message
