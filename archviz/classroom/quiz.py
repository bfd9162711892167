""""Predict the next arrow": before an arrow is shown, ask which party acts next, with the lessons' three or four
choices and a hint. Made from the real data: the answer is the next arrow's sender."""

from __future__ import annotations

from typing import Any

from archviz.classroom.steps import ASKS, DAEMON_WORKS, REGISTRY_ASKED, REGISTRY_SENDS, REPORTS
from archviz.sequence.model import CLIENT, DAEMON, REGISTRY, RUNTIME, USER, Message

CHOICES = (CLIENT, DAEMON, REGISTRY, RUNTIME)
QUESTION = "Who acts next?"
HINTS = {
    ASKS: "The docker client talks to the daemon only through its API.",
    REGISTRY_ASKED: "The daemon does not have every layer it needs yet: where are images kept?",
    REGISTRY_SENDS: "Someone has just been asked for a manifest or a layer.",
    DAEMON_WORKS: "The daemon has what it needs; containers are run by a part below it.",
    REPORTS: "The work is done: someone has to tell you how it went.",
}


def quiz(current: Message, following: Message | None, roles: dict[str, str], step: str) -> dict[str, Any] | None:
    """The question to ask before `following` is shown (`step`: the lessons' step it belongs to); None where
    there is nothing to predict: the end, or a new command (you type it)."""
    if following is None or following.interaction != current.interaction or following.interaction is None:
        return None
    actor = roles.get(following.sender, "")
    if actor == USER or actor not in CHOICES:
        return None
    return {"question": QUESTION, "choices": list(CHOICES), "answer": actor, "hint": HINTS.get(step, "")}
