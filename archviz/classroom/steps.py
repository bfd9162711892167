"""The lessons' process table, from real traffic: each arrow of a command belongs to one of the lessons' steps
(the user runs the command → the client sends the API request → the daemon asks the registry → the registry sends
the layers → the daemon stores them and the runtime runs the container → the client reports), and each command's
table lists the steps it really went through, numbered in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

from archviz.sequence.model import CLIENT, DAEMON, REGISTRY, RUNTIME, USER, Message

# The lessons' steps, in their order: (key, component, action).
RUNS, ASKS, REGISTRY_ASKED, REGISTRY_SENDS, DAEMON_WORKS, REPORTS = (
    "runs", "asks", "registry-asked", "registry-sends", "daemon-works", "reports")
LESSON = (
    (RUNS, "User", "runs {title}"),
    (ASKS, "Client", "sends the API request{s}: {first}"),
    (REGISTRY_ASKED, "Daemon", "asks the registry: {first}"),
    (REGISTRY_SENDS, "Registry", "sends what was asked: {first}"),
    (DAEMON_WORKS, "Daemon", "does the work: {first}"),
    (REPORTS, "Client", "reports to you: {last}"),
)
ORDER = {key: index for index, (key, _, _) in enumerate(LESSON)}


@dataclass(frozen=True)
class Step:
    number: int
    key: str
    component: str
    action: str
    result: str

    def to_wire(self) -> dict[str, object]:
        return {"number": self.number, "key": self.key, "component": self.component, "action": self.action,
                "result": self.result}


def step_key(message: Message, roles: dict[str, str], closing: bool) -> str:
    """Which of the lessons' steps an arrow is. `closing`: the daemon's last answer before the client reports."""
    sender, receiver = roles.get(message.sender, ""), roles.get(message.receiver, "")
    if sender == USER:
        return RUNS
    if receiver == USER or closing:
        return REPORTS
    if receiver == REGISTRY:
        return REGISTRY_ASKED
    if sender == REGISTRY:
        return REGISTRY_SENDS
    if CLIENT in (sender, receiver):
        return ASKS
    if RUNTIME in (sender, receiver) or sender == receiver == DAEMON:
        return DAEMON_WORKS
    return ASKS


def command_steps(title: str, messages: list[Message], roles: dict[str, str]) -> tuple[list[Step], list[str]]:
    """The step table of one command (its messages in drawing order), and which step each message is (its key
    in LESSON; `Step.key`)."""
    keys = []
    for index, message in enumerate(messages):
        following = messages[index + 1] if index + 1 < len(messages) else None
        closing = (following is not None and roles.get(following.receiver) == USER
                   and roles.get(message.receiver) == CLIENT and roles.get(message.sender) == DAEMON)
        keys.append(step_key(message, roles, closing))
    present = sorted(set(keys), key=ORDER.__getitem__)
    number = {key: position + 1 for position, key in enumerate(present)}
    steps = []
    for key in present:
        mine = [m for m, k in zip(messages, keys, strict=True) if k == key]
        _, component, action = LESSON[ORDER[key]]
        if key == DAEMON_WORKS and any(roles.get(m.sender) == RUNTIME or roles.get(m.receiver) == RUNTIME
                                       for m in mine):
            component = "Daemon and runtime"
        steps.append(Step(number[key], key, component,
                          action.format(title=f"`{title}`", first=mine[0].label, last=mine[-1].label,
                                        s="s" if len(mine) > 1 else ""),
                          _result(key, mine)))
    return steps, keys


def _result(key: str, mine: list[Message]) -> str:
    count = len(mine)
    if key == RUNS:
        return "the docker client starts"
    if key == ASKS:
        return f"{count} request{'s' if count > 1 else ''} and answer{'s' if count > 1 else ''} over the API"
    if key == REGISTRY_ASKED:
        return f"{count} request{'s' if count > 1 else ''} to the registry"
    if key == REGISTRY_SENDS:
        return f"{count} answer{'s' if count > 1 else ''} from the registry"
    if key == DAEMON_WORKS:
        return mine[-1].label
    return "the command is over"
