"""The classroom view's data (`/api/present/`): the diagram of some observations, and for each arrow its
sentence, its place in its command's step table, the status tracker right after it, and the question to ask
before the next one. One mapping on the server; the page only shows it.

The answer: `{"schema": 1, "session": {name, title, since, until} | null, "participants": [{id, role, label}],
"interactions": [{id, title, blocks, inferred, first, last, steps: [{number, key, component, action, result}]}],
"messages": [{…a Message's wire fields…, narration, step, actor, tracker: {command, image: {reference, state,
layers_done, layers_total, bytes, text} | null, container: {name, state, exit_code, text} | null},
quiz: {question, choices, answer, hint} | null}]}`. `first`/`last` index `messages`; `step` is the number of
the row of its interaction's `steps`; `quiz` on an arrow asks about the next one before it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archviz.classroom.narration import narrate
from archviz.classroom.quiz import quiz
from archviz.classroom.steps import command_steps
from archviz.classroom.tracker import Tracker
from archviz.sequence import sequence
from archviz.sequence.collector import collector_paused

SCHEMA = 1


def present(observations: Iterable[dict[str, Any]], session: dict[str, Any] | None = None) -> dict[str, Any]:
    with collector_paused():
        return _present(list(observations), session)


def _present(observations: list[dict[str, Any]], session: dict[str, Any] | None) -> dict[str, Any]:
    diagram = sequence(observations)
    roles = {participant.id: participant.role for participant in diagram.participants}
    by_id = {observation["id"]: observation for observation in observations}
    messages = diagram.messages

    positions: dict[str, list[int]] = {}
    for index, message in enumerate(messages):
        if message.interaction is not None:
            positions.setdefault(message.interaction, []).append(index)
    step_of: dict[int, int] = {}
    step_key_of: dict[int, str] = {}
    interactions = []
    for interaction_id, indexes in positions.items():
        interaction = diagram.interactions[interaction_id]
        steps, keys = command_steps(interaction.title, [messages[i] for i in indexes], roles)
        number = {step.key: step.number for step in steps}
        for index, key in zip(indexes, keys, strict=True):
            step_of[index], step_key_of[index] = number[key], key
        interactions.append({**interaction.to_wire(), "first": indexes[0], "last": indexes[-1],
                             "steps": [step.to_wire() for step in steps]})

    tracker = Tracker()
    tracked = tracker.to_wire()  # most arrows leave the tracker as it was: its wire form is made once per change
    applied: set[int] = set()
    wire = []
    for index, message in enumerate(messages):
        observation = by_id.get(message.observation)
        title = diagram.interactions[message.interaction].title if message.interaction else ""
        if observation is not None and message.observation not in applied:
            applied.add(message.observation)
            after = tracker.after(observation, title)
            if after is not tracker:
                tracker, tracked = after, after.to_wire()
        following = messages[index + 1] if index + 1 < len(messages) else None
        wire.append({
            **message.to_wire(),
            "narration": narrate(message, observation, roles),
            "step": step_of.get(index),
            "actor": roles.get(message.sender, ""),
            "tracker": tracked,
            "quiz": quiz(message, following, roles, step_key_of.get(index + 1, "")),
        })
    return {
        "schema": SCHEMA,
        "session": session,
        "participants": [{"id": p.id, "role": p.role, "label": p.label} for p in diagram.participants],
        "interactions": interactions,
        "messages": wire,
    }

