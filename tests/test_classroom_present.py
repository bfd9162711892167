"""What the classroom view is given for each arrow of real recorded sessions: a sentence a class can follow, its
row in the lessons' numbered process table, and a fair "who acts next?" question."""

from __future__ import annotations

import re

import pytest

from archviz.classroom.present import present
from archviz.classroom.steps import LESSON
from archviz.sequence import sequence
from tests.recorded import SCENARIOS, scenario

NAMES = sorted(path.stem for path in SCENARIOS.glob("*.jsonl"))


@pytest.mark.parametrize("name", NAMES)
def test_every_arrow_of_every_recorded_command_has_a_plain_sentence(name: str) -> None:
    shown = present(scenario(name))
    assert [m["id"] for m in shown["messages"]] == [m.id for m in sequence(scenario(name)).messages]
    for message in shown["messages"]:
        sentence = message["narration"]
        assert sentence[:1].isupper() and sentence.endswith((".", "?", "!")), sentence
        assert not re.search(r"\{|\}|None| :|\s\s", sentence), sentence


@pytest.mark.parametrize("name", NAMES)
def test_each_command_is_the_lessons_numbered_steps_in_their_order(name: str) -> None:
    shown = present(scenario(name))
    for interaction in shown["interactions"]:
        numbers = [step["number"] for step in interaction["steps"]]
        assert numbers == list(range(1, len(numbers) + 1))
        mine = shown["messages"][interaction["first"]:interaction["last"] + 1]
        assert {m["step"] for m in mine if m["interaction"] == interaction["id"]} == set(numbers)
        keys = [step["key"] for step in interaction["steps"]]
        assert keys == sorted(keys, key=[key for key, _, _ in LESSON].index)
        if not interaction["inferred"]:
            assert keys[0] == "runs" and keys[-1] == "reports"


def test_a_pull_is_told_as_the_lessons_tell_it() -> None:
    shown = present(scenario("pull"))
    (interaction,) = shown["interactions"]
    assert [s["component"] for s in interaction["steps"]] == ["User", "Client", "Daemon", "Registry", "Daemon",
                                                               "Client"]
    sentences = [m["narration"] for m in shown["messages"]]
    assert sentences[0].startswith("You type `docker pull 127.0.0.1:5000/lab/app:1`")
    assert "The daemon asks the registry for lab/app's manifest: the list of layers it needs." in sentences
    assert any(s.startswith("The daemon already has layer") for s in sentences)
    assert sentences[-1] == "The client tells you how it went: prints the result, exit 0."


@pytest.mark.parametrize("name", NAMES)
def test_the_quiz_asks_who_acts_next_and_its_answer_is_what_happened(name: str) -> None:
    messages = present(scenario(name))["messages"]
    assert messages[-1]["quiz"] is None
    for current, following in zip(messages, messages[1:], strict=False):
        question = current["quiz"]
        if question is None:
            continue
        assert question["answer"] == following["actor"] != "user"
        assert question["answer"] in question["choices"] and 3 <= len(question["choices"]) <= 4
        assert following["interaction"] == current["interaction"]
        assert question["hint"]


def test_a_run_asks_at_least_one_question_at_each_party_boundary() -> None:
    messages = present(scenario("run-missing-image"))["messages"]
    answers = {m["quiz"]["answer"] for m in messages if m["quiz"]}
    assert {"client", "daemon", "registry", "runtime"} == answers
