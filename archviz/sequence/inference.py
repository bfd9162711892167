"""Boxes read off daemon events and registry notifications alone, where no tapped request explains them.

The daemon cannot say which client asked, so these boxes are guesses from what the events name (one container's
create, start and die together; a registry transfer with the daemon's pull of the same repository) and from time
(a command's events come in a burst). Every box made here is marked inferred, and so is every arrow in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archviz.sequence.model import IMAGE_NOT_FOUND, INFERRED, Interaction
from archviz.sequence.names import normalize_reference, registry_host, repository_of, short_id

# A gap this long closes a guessed box, unless a client is still attached to a running container.
BURST_NS = 10_000_000_000
# A create that follows a pull of its image this soon is the same `docker run`: the image was missing.
PULL_THEN_CREATE_NS = 30_000_000_000


@dataclass(slots=True)
class Guess:
    interaction: Interaction
    last_ns: int
    image: str = ""
    block: str = ""
    kinds: set[str] = field(default_factory=set)
    heard_registry: bool = False  # the registry's own notifications are in it: the daemon's need not guess them


class Inference:
    def __init__(self, interactions: dict[str, Interaction]) -> None:
        self.interactions = interactions
        self._guesses: dict[str, Guess] = {}  # interaction id -> guess
        self._open: dict[str, str] = {}  # grouping key -> interaction id
        self._pulls: dict[str, tuple[str, str, int]] = {}  # image ref -> (interaction, block, time)
        self._transfers: dict[tuple[str, str], tuple[str, str, int]] = {}  # (registry, repository) -> …

    def place(self, o: dict[str, Any]) -> tuple[Interaction, str | None, bool]:
        """The guessed box (and `alt` block) of an effect no span owns, and whether the registry was heard in it."""
        kind, now, attributes = o["kind"], int(o["time_ns"]), o["attributes"]
        self._forget_before(now)
        block = None
        if kind.startswith("container-"):
            key = f"container:{o['host']}:{attributes.get('id', '')}"
            guess = self._open_guess(key, now)
            if guess is None and kind == "container-create":
                guess = self._adopt_pull(normalize_reference(attributes.get("image", "")), now)
            if guess is None:
                guess = self._new(key, o, now)
            guess.image = guess.image or attributes.get("image", "")
            self._open[key] = guess.interaction.id
            guess.kinds.add(kind)
            if kind == "container-start" and "container-create" in guess.kinds:
                guess.interaction.title = f"docker run {guess.image} {INFERRED}"
        elif kind in {"network-connect", "network-disconnect"} and attributes.get("container"):
            key = f"container:{o['host']}:{attributes['container']}"
            guess = self._open_guess(key, now) or self._new(key, o, now)
        elif kind.startswith("registry-"):
            registry, repository = o["host"], attributes.get("repository", "")
            key = f"registry:{registry}:{repository}:{attributes.get('client', '')}"
            guess = self._open_guess(key, now)
            if guess is None:
                guess = self._new(key, o, now)
                guess.block = f"b{o['id']}"
            block = guess.block
            guess.heard_registry = True
            self._transfers[(registry, repository)] = (guess.interaction.id, block, now)
        elif kind in {"image-pull", "image-push"}:
            reference = o["subject"]
            transfer = self._transfers.get((registry_host(reference), repository_of(reference)))
            if transfer is not None and now - transfer[2] <= PULL_THEN_CREATE_NS and transfer[0] in self._guesses:
                guess, block = self._guesses[transfer[0]], transfer[1]
                guess.interaction.title = guessed_title(o)
            else:
                guess = self._new(f"{kind}:{o['id']}", o, now)
                block = f"b{o['id']}"
            if kind == "image-pull":
                self._pulls[normalize_reference(reference)] = (guess.interaction.id, block, now)
        else:
            key = f"{kind.partition('-')[0]}:{o['host']}:{o['correlation'] or o['subject']}"
            guess = self._open_guess(key, now) or self._new(key, o, now)
        guess.last_ns = now
        return guess.interaction, block, guess.heard_registry

    def _open_guess(self, key: str, now: int) -> Guess | None:
        guess = self._guesses.get(self._open.get(key, ""))
        if guess is None or "container-destroy" in guess.kinds:
            return None
        attached_and_running = "container-attach" in guess.kinds and "container-die" not in guess.kinds
        if now - guess.last_ns > BURST_NS and not attached_and_running:
            return None
        return guess

    def _adopt_pull(self, image: str, now: int) -> Guess | None:
        found = self._pulls.pop(image, None)
        if found is None or now - found[2] > PULL_THEN_CREATE_NS or found[0] not in self._guesses:
            return None
        guess = self._guesses[found[0]]
        guess.interaction.blocks[found[1]] = IMAGE_NOT_FOUND
        return guess

    def _new(self, key: str, o: dict[str, Any], now: int) -> Guess:
        interaction = Interaction(f"i{o['id']}", guessed_title(o), inferred=True)
        self.interactions[interaction.id] = interaction
        guess = Guess(interaction, now)
        self._guesses[interaction.id] = guess
        self._open[key] = interaction.id
        return guess

    def boxes(self) -> set[str]:
        """The interactions of the guesses still remembered."""
        return set(self._guesses)

    def _forget_before(self, now: int) -> None:
        # Keep memory bounded on a long-running watcher: closed, quiet guesses are done.
        if len(self._guesses) < 512:
            return
        horizon = now - 6 * BURST_NS
        stale = {i for i, g in self._guesses.items() if g.last_ns < horizon and (
            "container-attach" not in g.kinds or "container-die" in g.kinds)}
        self._guesses = {i: g for i, g in self._guesses.items() if i not in stale}
        self._open = {k: i for k, i in self._open.items() if i not in stale}


def guessed_title(o: dict[str, Any]) -> str:
    kind, subject, attributes = o["kind"], o["subject"], o["attributes"]
    titles = {
        "container-create": f"docker create {attributes.get('image', subject)}",
        "container-start": f"docker start {subject}",
        "container-kill": f"docker kill {subject}",
        "container-stop": f"docker stop {subject}",
        "container-destroy": f"docker rm {subject}",
        "container-die": f"{subject} exited",
        "container-exec-create": f"docker exec {subject}",
        "image-pull": f"docker pull {subject}",
        "image-push": f"docker push {subject}",
        "registry-push": f"push to {o['host']}/{attributes.get('repository', '')}",
        "registry-pull": f"pull from {o['host']}/{attributes.get('repository', '')}",
        "registry-mount": f"push to {o['host']}/{attributes.get('repository', '')}",
        "registry-delete": f"delete in {o['host']}/{attributes.get('repository', '')}",
        "image-tag": f"docker tag {subject}",
        "image-untag": f"docker rmi {short_id(subject)}",
        "image-delete": f"docker rmi {short_id(subject)}",
    }
    if kind in titles:
        title = titles[kind]
    else:
        object_type, _, action = kind.partition("-")
        title = f"docker {object_type} {action.replace('-', ' ')} {subject}".strip()
    return f"{title} {INFERRED}"
