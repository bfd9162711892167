"""One plain sentence per arrow, for a class: what the arrow means, in the words the lessons use.

`NARRATION` is a table keyed by the observation's kind (and, where one observation draws several arrows, by who
sends to whom); each entry turns the arrow's own label and the observation into a sentence. An arrow no entry
knows is told from its lanes and label alone, so every arrow of every command has a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from archviz.sequence.model import CLIENT, DAEMON, REGISTRY, RUNTIME, USER, Message
from archviz.sequence.names import human_size, short_id

Tell = Callable[[Message, dict[str, Any]], str]

# How each party is named in a sentence.
WHO = {USER: "you", CLIENT: "the docker client", DAEMON: "the daemon", RUNTIME: "the runtime (containerd and runc)",
       REGISTRY: "the registry"}


def _sentence(text: str) -> str:
    text = " ".join(text.split()).replace(" :", ":")
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def _name(o: dict[str, Any]) -> str:
    return str(o.get("subject") or short_id(str(o["attributes"].get("id", ""))))


def _image(o: dict[str, Any]) -> str:
    image = str(o["attributes"].get("image") or "its image")
    return short_id(image) if image.startswith("sha256:") else image


def _request(message: Message, o: dict[str, Any]) -> str:
    label = message.label
    if label == "ping the daemon":
        return "the client first checks that the daemon answers (a ping)"
    for prefix, sentence in _REQUESTS:
        if label.startswith(prefix):
            return sentence.format(rest=label.removeprefix(prefix).strip(), label=label)
    return f"the client sends the daemon an API request: {label}"


# What a request asks, by the start of its label (archviz.sequence.rules says the labels).
_REQUESTS: tuple[tuple[str, str], ...] = (
    ("pull ", "the client asks the daemon to pull {rest}: the daemon, not the client, talks to the registry"),
    ("push ", "the client asks the daemon to push {rest} to its registry"),
    ("create container", "the client asks the daemon to create a container {rest}: its settings and file system, "
                         "not yet running"),
    ("start ", "the client asks the daemon to start {rest}"),
    ("attach to ", "the client attaches to {rest}, so that what the container prints streams back to you"),
    ("wait for ", "the client waits, on a request the daemon holds open, for {rest}"),
    ("build ", "the client sends the build context (the folder's files) and asks the daemon to build {rest}"),
    ("stop ", "the client asks the daemon to stop {rest}"),
    ("remove container ", "the client asks the daemon to remove the container {rest}"),
    ("remove image ", "the client asks the daemon to remove the image {rest}"),
    ("tag ", "the client asks the daemon to tag {rest}"),
    ("prepare a command", "the client asks the daemon to {label}"),
    ("run the prepared command", "the client asks the daemon to run the prepared command and stream its output"),
    ("list ", "the client asks the daemon to {label}"),
    ("inspect ", "the client asks the daemon to {label}"),
)


def _reply(message: Message, o: dict[str, Any]) -> str:
    attributes = o["attributes"]
    status = int(attributes.get("status") or 0)
    error = str(attributes.get("error") or "")
    if status == 404 and error.startswith("No such image"):
        return "the daemon answers 404: the image is not here yet, so it has to be pulled first"
    if attributes.get("upgraded"):
        return "the daemon switches the connection to a raw stream: the container's output will flow over it"
    if attributes.get("streamed"):
        return "the daemon answers at once and keeps the answer open, sending progress as it goes"
    if status >= 400 or error:
        return f"the daemon refuses: {message.label}"
    return f"the daemon answers: {message.label}"


def _stream_end(message: Message, o: dict[str, Any]) -> str:
    attributes = o["attributes"]
    if "exit_code" in attributes:
        return f"the daemon tells the client that the container ended with exit code {attributes['exit_code']}"
    return f"the daemon's answer is over: {message.label}"


def _registry(message: Message, o: dict[str, Any]) -> str:
    attributes = o["attributes"]
    repository = attributes.get("repository") or o.get("subject", "")
    size = attributes.get("size")
    sized = f" ({human_size(int(size))})" if size else ""
    blob = attributes.get("target") == "blob"
    if message.sender.startswith("registry:"):  # the registry's answer to the arrow before
        if attributes.get("method") == "HEAD":
            return "the registry has it: it need not be sent"
        if o["kind"] == "registry-push":
            return ("the registry has stored the layer" if blob else
                    "the registry has stored the manifest: the image is pushed")
        return (f"the registry sends the layer{sized}" if blob else
                f"the registry sends {repository}'s manifest{sized}")
    if o["kind"] == "registry-mount":
        return "the registry already has this layer in another repository: it links it instead of a new upload"
    if o["kind"] == "registry-push":
        return (f"the daemon uploads a layer to the registry{sized}" if blob else
                f"the daemon uploads {repository}'s manifest: the list of layers that makes the image")
    if attributes.get("method") == "HEAD":
        return (f"the daemon asks the registry whether it has this layer{sized}" if blob else
                f"the daemon asks the registry whether {o.get('subject', repository)} exists, and its digest")
    return (f"the daemon downloads a layer (a blob) of {repository} from the registry{sized}" if blob else
            f"the daemon asks the registry for {repository}'s manifest: the list of layers it needs")


def _pull_layer(message: Message, o: dict[str, Any]) -> str:
    attributes = o["attributes"]
    layer, size = attributes.get("layer", ""), attributes.get("size")
    if attributes.get("message") == "Already exists":
        return f"the daemon already has layer {layer}: it is not downloaded again"
    if message.sender.startswith("registry:"):
        return f"the registry sends layer {layer}" + (f" ({human_size(int(size))})" if size else "")
    if message.receiver.startswith("registry:"):
        return f"the daemon asks the registry for layer {layer}"
    return f"the daemon has stored layer {layer} and tells the client: pull complete"


def _push_layer(message: Message, o: dict[str, Any]) -> str:
    if message.sender.startswith("registry:"):
        return f"the registry answers: {message.label}"
    return f"the daemon asks the registry: {message.label}"


def _build_step(message: Message, o: dict[str, Any]) -> str:
    attributes = o["attributes"]
    if attributes.get("error"):
        return f"the build fails: {attributes['error']}"
    return (f"build step {attributes.get('step')} of {attributes.get('steps')}: "
            f"the daemon runs {attributes.get('instruction', '')}")


def _signal(message: Message, o: dict[str, Any]) -> str:
    signal = re.match(r"send (\S+) to", message.label)
    return f"the daemon has the runtime send {signal[1] if signal else 'a signal'} to {_name(o)}'s process"


NARRATION: dict[str, Tell] = {
    "api-request": _request,
    "api-call": lambda m, o: _request(m, o) if m.kind == "request" else _reply(m, o),
    "api-stream-end": _stream_end,
    "api-pull-layer": _pull_layer,
    "action-pull-layer": _pull_layer,
    "api-push-layer": _push_layer,
    "api-build-step": _build_step,
    "registry-pull": _registry,
    "registry-push": _registry,
    "registry-mount": _registry,
    "image-pull": lambda m, o: f"the daemon has pulled {o.get('subject', '')} and stored its layers",
    "image-push": lambda m, o: f"the daemon has pushed {o.get('subject', '')} to its registry",
    "image-tag": lambda m, o: f"the daemon gives the image the name {o.get('subject', '')}",
    "image-untag": lambda m, o: f"the daemon takes the name {o.get('subject', '')} off the image",
    "image-delete": lambda m, o: "the daemon deletes the image, and the layers no other image uses",
    "container-create": lambda m, o: f"the daemon creates the container {_name(o)} from "
                                     f"{_image(o)}: ready, not yet running",
    "container-attach": lambda m, o: f"the client is attached to {_name(o)}: its output will stream back",
    "container-start": lambda m, o: (f"the daemon asks the runtime to start {_name(o)}'s process"
                                     if m.receiver.startswith("runtime:") else f"the client asks to start {_name(o)}"),
    "container-die": lambda m, o: f"the process of {_name(o)} has ended with exit code "
                                  f"{o['attributes'].get('exitCode', '?')}; the runtime tells the daemon",
    "container-kill": _signal,
    "container-stop": lambda m, o: f"the daemon tells the client that {_name(o)} has stopped",
    "container-destroy": lambda m, o: f"the daemon removes the container {_name(o)} and its writable layer",
    "container-exec-create": lambda m, o: f"the daemon prepares a command to run inside {_name(o)}",
    "container-exec-start": lambda m, o: f"the runtime starts that command as a new process inside {_name(o)}",
    "container-exec-die": lambda m, o: f"the command inside {_name(o)} has ended with exit code "
                                       f"{o['attributes'].get('exitCode', '?')}",
    "container-pause": lambda m, o: f"the runtime freezes {_name(o)}'s processes",
    "container-unpause": lambda m, o: f"the runtime thaws {_name(o)}'s processes",
}


def narrate(message: Message, observation: dict[str, Any] | None, roles: dict[str, str]) -> str:
    """The sentence a class hears for this arrow. `roles` maps participant ids to their roles."""
    sender, receiver = roles.get(message.sender, ""), roles.get(message.receiver, "")
    if sender == USER:
        return _sentence(f"you type {message.label.removeprefix('types ')}: the docker client turns it into "
                         "requests to the daemon's API")
    if receiver == USER:
        return _sentence(f"the client tells you how it went: {message.label}")
    tell = NARRATION.get(observation["kind"]) if observation is not None else None
    if tell is not None:
        return _sentence(tell(message, observation))  # type: ignore[arg-type]
    if sender == receiver:
        return _sentence(f"{WHO.get(sender, sender)}: {message.label}")
    return _sentence(f"{WHO.get(sender, sender)} tells {WHO.get(receiver, receiver)}: {message.label}")
