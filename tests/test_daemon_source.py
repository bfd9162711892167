from __future__ import annotations

import json
from pathlib import Path

import pytest

from archviz.kinds import ALL_KINDS, DAEMON_OTHER
from archviz.observation import Source
from archviz.sources.daemon import MalformedEvent, event_key, observation_from_event, since_parameter

HOST = "unix:///run/lab/docker.sock"
RECORDED = [json.loads(line) for line in (Path(__file__).parent / "data" / "lab_session_events.jsonl").open()]


def test_a_recorded_lab_session_maps_to_known_kinds_in_order() -> None:
    observations = [observation_from_event(event, HOST) for event in RECORDED]
    assert [o.kind for o in observations[:5]] == [
        "container-create", "container-attach", "container-start", "container-die", "container-destroy",
    ]
    assert all(o.kind in ALL_KINDS and o.kind != DAEMON_OTHER for o in observations)
    assert all(o.source is Source.DAEMON and o.host == HOST for o in observations)


def test_a_failing_container_keeps_its_name_and_exit_code() -> None:
    die = observation_from_event(RECORDED[3], HOST)
    assert (die.subject, die.attributes["exitCode"]) == ("web-1", "3")
    assert die.correlation == RECORDED[3]["Actor"]["ID"]


def test_an_exec_action_keeps_its_command_as_detail() -> None:
    exec_create = next(e for e in RECORDED if e["Action"].startswith("exec_create"))
    observation = observation_from_event(exec_create, HOST)
    assert (observation.kind, observation.attributes["detail"]) == ("container-exec-create", "echo hi")


def test_a_password_in_an_exec_command_is_masked_in_its_detail_and_its_key() -> None:
    exec_create = next(e for e in RECORDED if e["Action"].startswith("exec_create"))
    event = {**exec_create, "Action": "exec_create: sh -c mysql -psecret"}
    observation = observation_from_event(event, HOST)
    assert observation.attributes["detail"] == "sh -c mysql -p***"
    assert "secret" not in repr(observation)
    masked = "exec_create: sh -c mysql -p***"
    assert observation.key == event_key(HOST, event["timeNano"], "container", masked, event["Actor"]["ID"])


def test_a_secret_in_an_unknown_action_is_masked_too() -> None:
    observation = observation_from_event({**RECORDED[0], "Action": "teleport: --token=abc"}, HOST)
    assert (observation.kind, observation.attributes["action"]) == (DAEMON_OTHER, "teleport: --token=***")


def test_keys_of_events_without_secrets_are_the_hash_of_their_raw_action_as_before() -> None:
    for event in RECORDED:
        expected = event_key(HOST, event["timeNano"], event["Type"], event["Action"], event["Actor"]["ID"])
        assert observation_from_event(event, HOST).key == expected


def test_images_are_named_by_reference_even_when_the_daemon_gives_an_id() -> None:
    tag = next(e for e in RECORDED if e["Action"] == "tag")
    assert observation_from_event(tag, HOST).subject == "127.0.0.1:5000/lab/copy:2"


def test_each_event_has_its_own_key_and_a_replayed_event_has_the_same_one() -> None:
    keys = [observation_from_event(event, HOST).key for event in RECORDED]
    assert len(set(keys)) == len(keys)
    assert observation_from_event(dict(RECORDED[0]), HOST).key == keys[0]
    assert observation_from_event(RECORDED[0], "tcp://other:2375").key != keys[0]


def test_an_unknown_action_from_a_newer_daemon_is_kept_not_dropped() -> None:
    event = {**RECORDED[0], "Action": "teleport"}
    observation = observation_from_event(event, HOST)
    assert observation.kind == DAEMON_OTHER
    assert (observation.attributes["type"], observation.attributes["action"]) == ("container", "teleport")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ("container start", "must be a JSON object"),
        ({}, "no Type"),
        ({"Type": "container", "timeNano": 5}, "no Action"),
        ({"Type": "container", "Action": "start", "timeNano": "5"}, "timeNano"),
        ({"Type": "container", "Action": "start", "timeNano": True}, "timeNano"),
        ({"Type": "container", "Action": "start", "timeNano": -1}, "timeNano"),
        ({"Type": "container", "Action": "start", "timeNano": 5, "Actor": "x"}, "Actor"),
    ],
)
def test_malformed_events_are_refused_with_a_reason(event: object, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        observation_from_event(event, HOST)


def test_hostile_attribute_values_are_kept_as_plain_text() -> None:
    event = {**RECORDED[0], "Actor": {"ID": "abc", "Attributes": {"name": "<script>alert(1)</script>", "n": 5}}}
    observation = observation_from_event(event, HOST)
    assert observation.subject == "<script>alert(1)</script>"
    assert observation.attributes["n"] == "5"


def test_since_is_written_as_seconds_dot_nanoseconds() -> None:
    assert since_parameter(1795347811783977002) == "1795347811.783977002"
    assert since_parameter(1795347811000000007) == "1795347811.000000007"
