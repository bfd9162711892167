"""The lessons' status tracker, as pure functions of the observations so far: the command being run, the local
storage of the image it is about (Empty → k of n layers → Complete, with bytes; or Failed, or Removed) and the
state of the container it is about (created → running → exited with its code; paused; removed).

`Tracker.after(observation, command)` is one step of the fold; every observation the diagram draws goes
through it once, in drawing order, so the tracker beside each arrow says what was true right after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from archviz.sequence.names import human_size, normalize_reference
from archviz.sequence.rules import query_of

EMPTY, PARTIAL, COMPLETE, FAILED, REMOVED = "empty", "partial", "complete", "failed", "removed"
CREATED, RUNNING, PAUSED, EXITED, GONE = "created", "running", "paused", "exited", "removed"


@dataclass(frozen=True)
class ImageStorage:
    reference: str
    state: str = EMPTY
    layers_done: int = 0
    layers_total: int | None = None
    bytes: int = 0
    message: str = ""

    @property
    def text(self) -> str:
        total = self.layers_total
        if self.state == EMPTY:
            return "Empty"
        if self.state == PARTIAL:
            return f"{self.layers_done} of {total if total is not None else '?'} layers"
        if self.state == COMPLETE:
            parts = [f"{total} layer{'s' if total > 1 else ''}"] if total else []
            parts += [f"{human_size(self.bytes)} downloaded"] if self.bytes else []
            return "Complete" + (f" ({', '.join(parts)})" if parts else "")
        if self.state == FAILED:
            return f"Failed: {self.message}" if self.message else "Failed"
        return "Removed"

    def to_wire(self) -> dict[str, Any]:
        return {"reference": self.reference, "state": self.state, "layers_done": self.layers_done,
                "layers_total": self.layers_total, "bytes": self.bytes, "text": self.text}


@dataclass(frozen=True)
class ContainerState:
    name: str
    state: str = CREATED
    exit_code: int | None = None

    @property
    def text(self) -> str:
        return f"exited with code {self.exit_code}" if self.state == EXITED else self.state

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "exit_code": self.exit_code, "text": self.text}


@dataclass(frozen=True)
class Tracker:
    command: str = ""
    image: ImageStorage | None = None
    container: ContainerState | None = None
    # Everything known so far, whichever command it came from.
    images: dict[str, ImageStorage] = field(default_factory=dict)
    containers: dict[str, ContainerState] = field(default_factory=dict)
    # The container id -> name the daemon's events told.
    names: dict[str, str] = field(default_factory=dict)
    building: str = ""  # the image a build of this command makes

    def to_wire(self) -> dict[str, Any]:
        return {"command": self.command, "image": self.image.to_wire() if self.image else None,
                "container": self.container.to_wire() if self.container else None}

    def after(self, o: dict[str, Any], command: str) -> Tracker:
        """The tracker once `o` (an observation of the command titled `command`) has happened."""
        tracker = self if command == self.command else replace(self, command=command, image=None, container=None,
                                                               building="")
        for rule_kinds, rule in _RULES:
            if o["kind"] in rule_kinds:
                return rule(tracker, o)
        return tracker

    def _image(self, image: ImageStorage) -> Tracker:
        return replace(self, image=image, images={**self.images, image.reference: image})

    def _container(self, container: ContainerState, container_id: str = "") -> Tracker:
        names = {**self.names, container_id: container.name} if container_id else self.names
        return replace(self, container=container, containers={**self.containers, container.name: container},
                       names=names)


def _reference(o: dict[str, Any]) -> str:
    return normalize_reference(str(o.get("subject") or ""))


def _pull_asked(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    attributes = o["attributes"]
    if attributes.get("path") != "/images/create" and o["kind"] != "action-pull":
        return _answer(tracker, o)
    if o["kind"] == "action-pull":
        reference = _reference(o)
    else:
        query = query_of(attributes)
        if not query.get("fromImage"):
            return tracker
        image = query["fromImage"]
        reference = normalize_reference(image if "@" in image else f"{image}:{query.get('tag') or 'latest'}")
    known = tracker.images.get(reference)
    if o["kind"] == "api-call" and (attributes.get("error") or int(attributes.get("status") or 0) >= 400):
        return tracker._image(ImageStorage(reference, FAILED, message=str(attributes.get("error") or "")))
    if known is not None and known.state in (PARTIAL, COMPLETE):
        return tracker._image(known)
    return tracker._image(ImageStorage(reference))


def _answer(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    """The end of a pull's answer: an error in its stream fails the pull."""
    attributes = o["attributes"]
    image = tracker.image
    if image is None or attributes.get("path") != "/images/create" or image.state == COMPLETE:
        return tracker
    if attributes.get("error") or int(attributes.get("status") or 0) >= 400:
        return tracker._image(replace(image, state=FAILED, message=str(attributes.get("error") or "")))
    return tracker


def _layer(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    attributes = o["attributes"]
    reference = _reference(o)
    image = tracker.images.get(reference) or ImageStorage(reference)
    announced = int(attributes.get("layers") or 0) or image.layers_total
    done = image.layers_done + 1
    total = max(announced, done) if announced is not None or image.state == COMPLETE else None
    landed = replace(image, layers_done=done, layers_total=total, bytes=image.bytes + int(attributes.get("size") or 0))
    complete = image.state == COMPLETE or (total is not None and done >= total)
    return tracker._image(replace(landed, state=COMPLETE if complete else PARTIAL))


def _pulled(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    reference = _reference(o)
    image = tracker.images.get(reference) or ImageStorage(reference)
    return tracker._image(replace(image, state=COMPLETE, layers_total=max(image.layers_done, image.layers_total or 0)
                                  or None))


def _pull_ended(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    image = tracker.images.get(_reference(o))
    if image is None:
        return tracker
    if o["kind"] == "action-pull-done":
        return _pulled(tracker, o)
    return tracker._image(replace(image, state=FAILED, message=str(o["attributes"].get("message", ""))))


def _untagged(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    reference = _reference(o)
    if reference not in tracker.images and o["kind"] == "image-delete":
        return tracker
    return tracker._image(ImageStorage(reference, REMOVED))


def _build_step(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    attributes = o["attributes"]
    reference = tracker.building or "the image being built"
    if attributes.get("error"):
        return tracker._image(ImageStorage(reference, FAILED, message=str(attributes["error"])))
    step, steps = int(attributes.get("step") or 0), int(attributes.get("steps") or 0)
    return tracker._image(ImageStorage(reference, PARTIAL, max(step - 1, 0), steps or None))


def _build_asked(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    if o["attributes"].get("path") != "/build":
        return _pull_asked(tracker, o)
    tag = query_of(o["attributes"]).get("t", "")
    building = normalize_reference(tag) if tag else "the image being built"
    known = tracker.images.get(building)
    image = known if known is not None and o["kind"] == "api-call" else ImageStorage(building)
    return replace(tracker._image(image), building=building)


def _tagged(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    reference = _reference(o)
    building = tracker.images.get(tracker.building)
    if building is not None and building.reference == reference and building.state == PARTIAL:
        total = building.layers_total
        return tracker._image(replace(building, state=COMPLETE, layers_done=total or building.layers_done))
    known = tracker.images.get(reference)
    return tracker._image(replace(known, state=COMPLETE) if known else ImageStorage(reference, COMPLETE))


def _container_event(state: str) -> Any:
    def rule(tracker: Tracker, o: dict[str, Any]) -> Tracker:
        attributes = o["attributes"]
        name = str(o.get("subject") or attributes.get("name") or "")
        container_id = str(attributes.get("id", ""))
        name = name or tracker.names.get(container_id, container_id[:12])
        exit_code = None
        if state == EXITED:
            code = attributes.get("exitCode")
            exit_code = int(code) if str(code).lstrip("-").isdigit() else None
        elif state in (RUNNING, PAUSED, GONE):
            known = tracker.containers.get(name)
            exit_code = known.exit_code if known is not None and state == GONE else None
        return tracker._container(ContainerState(name, state, exit_code), container_id)
    return rule


def _exec_touches(tracker: Tracker, o: dict[str, Any]) -> Tracker:
    name = str(o.get("subject") or "")
    known = tracker.containers.get(name)
    return tracker._container(known or ContainerState(name, RUNNING))


_RULES: tuple[tuple[frozenset[str], Any], ...] = (
    (frozenset({"api-request", "api-call", "action-pull"}), _build_asked),
    (frozenset({"api-stream-end"}), _answer),
    (frozenset({"api-pull-layer", "action-pull-layer"}), _layer),
    (frozenset({"image-pull"}), _pulled),
    (frozenset({"action-pull-done", "action-pull-failed", "action-pull-cancelled"}), _pull_ended),
    (frozenset({"image-untag", "image-delete"}), _untagged),
    (frozenset({"api-build-step"}), _build_step),
    (frozenset({"image-tag"}), _tagged),
    (frozenset({"container-create"}), _container_event(CREATED)),
    (frozenset({"container-start", "container-unpause", "container-restart"}), _container_event(RUNNING)),
    (frozenset({"container-pause"}), _container_event(PAUSED)),
    (frozenset({"container-die"}), _container_event(EXITED)),
    (frozenset({"container-destroy"}), _container_event(GONE)),
    (frozenset({"container-exec-create", "container-exec-start", "container-exec-die"}), _exec_touches),
)
