from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archviz.sources.registry import (
    EVENTS_MEDIA_TYPE,
    MAX_BODY,
    EnvelopeError,
    client_address,
    observation_from_event,
    parse_envelope,
)

DATA = Path(__file__).parent / "data" / "registry"


def recorded(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text())


def parse(envelope: object) -> list:
    return parse_envelope(json.dumps(envelope).encode(), EVENTS_MEDIA_TYPE)


def test_a_recorded_push_is_blobs_then_the_manifest_with_existence_checks_marked() -> None:
    events = [event for envelope in recorded("push") for event in parse(envelope)]
    assert [(e.action, e.target_kind, e.request_method) for e in events[:2]] == [("push", "blob", "PUT"),
                                                                                ("pull", "blob", "HEAD")]
    manifest = events[-1]
    assert (manifest.action, manifest.target_kind, manifest.tag, manifest.size) == ("push", "manifest", "1", 942)
    assert manifest.request_addr == "127.0.0.1" and manifest.request_host == "127.0.0.1:5997"
    assert manifest.request_useragent.startswith("docker/20.10.24")
    assert sum(e.existence_check for e in events) == 4
    assert manifest.time_ns % 1_000_000_000 == 244267742


def test_a_recorded_pull_mount_and_delete_parse() -> None:
    pulls = [event for envelope in recorded("pull") for event in parse(envelope)]
    assert [e.request_method for e in pulls] == ["HEAD", "GET", "GET", "GET", "GET"]
    mounts = [event for envelope in recorded("mount") for event in parse(envelope) if event.action == "mount"]
    assert {(e.from_repository, e.repository, e.target_kind) for e in mounts} == {("lab/app", "other/app", "blob")}
    deletes = [event for envelope in recorded("delete") for event in parse(envelope) if event.action == "delete"]
    assert [(e.target_kind, bool(e.digest), e.tag) for e in deletes] == [("manifest", True, ""), ("tag", False, "1")]


def test_an_event_becomes_an_observation_named_by_its_action() -> None:
    (event,) = parse(recorded("push")[-1])
    observation = observation_from_event(event)
    assert (observation.kind, observation.subject, observation.host) == ("registry-push", "lab/app:1", "127.0.0.1:5997")
    assert observation.attributes["method"] == "PUT"
    assert observation_from_event(event).key == observation.key


@pytest.mark.parametrize(
    ("mutate", "status", "message"),
    [
        (lambda e: e.pop("id"), 422, "events[0].id is missing"),
        (lambda e: e.update(action="teleport"), 422, "action 'teleport' is unknown"),
        (lambda e: e.update(timestamp="yesterday"), 422, "is not an RFC 3339 time"),
        (lambda e: e.update(timestamp="2026-02-30T00:00:00Z"), 422, "is not a real time"),
        (lambda e: e.update(timestamp=5), 422, "timestamp is not a string"),
        (lambda e: e.pop("target"), 422, "events[0].target is missing"),
        (lambda e: e["target"].update(size=-1), 422, "size must be a non-negative integer"),
        (lambda e: e["target"].update(size="942"), 422, "size must be a non-negative integer"),
        (lambda e: e["target"].update(size=True), 422, "size must be a non-negative integer"),
        (lambda e: e["target"].update(repository="Lab/App"), 422, "is not a valid repository"),
        (lambda e: e["target"].update(repository="../../etc"), 422, "is not a valid repository"),
        (lambda e: e["target"].update(digest="md5:x"), 422, "is not a valid digest"),
        (lambda e: e["target"].update(tag="<script>"), 422, "is not a valid tag"),
        (lambda e: e["target"].update(tag=None, digest=None), 422, "names neither a tag nor a digest"),
        (lambda e: e["request"].update(method="get; DROP"), 422, "is not a valid method"),
        (lambda e: e["request"].update(useragent=["x"]), 422, "useragent must be a string"),
        (lambda e: e.update(request="x"), 422, "request is not an object"),
        (lambda e: e["target"].update(mediaType="x" * 300), 422, "mediaType is longer than 255"),
    ],
)
def test_broken_and_hostile_events_name_the_field(mutate, status: int, message: str) -> None:  # noqa: ANN001
    envelope = recorded("push")[-1]
    mutate(envelope["events"][0])
    with pytest.raises(EnvelopeError, match=re.escape(message)) as error:
        parse(envelope)
    assert error.value.status == status


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{}", "application/json", 415, "is not application/vnd.docker.distribution.events.v1+json"),
        (b"{}", "", 415, "(none)"),
        (b"not json", EVENTS_MEDIA_TYPE, 400, "body is not JSON"),
        (b"\xff\xfe", EVENTS_MEDIA_TYPE, 400, "body is not JSON"),
        (b"[" * 100_000, EVENTS_MEDIA_TYPE, 400, "body is not JSON"),
        (b"[]", EVENTS_MEDIA_TYPE, 422, 'an "events" list'),
        (b'{"events": {}}', EVENTS_MEDIA_TYPE, 422, 'an "events" list'),
        (b'{"events": [1]}', EVENTS_MEDIA_TYPE, 422, "events[0] is not an object"),
        (b" " * (MAX_BODY + 1), EVENTS_MEDIA_TYPE, 413, "over the"),
    ],
    ids=["json-media-type", "no-media-type", "not-json", "not-utf8", "deep", "array", "events-object",
         "event-not-object", "huge"],
)
def test_broken_envelopes_are_refused(body: bytes, content_type: str, status: int, message: str) -> None:
    with pytest.raises(EnvelopeError, match=re.escape(message)) as error:
        parse_envelope(body, content_type)
    assert error.value.status == status


def test_the_media_type_may_carry_parameters_and_an_empty_envelope_is_fine() -> None:
    assert parse_envelope(b'{"events": []}', f"{EVENTS_MEDIA_TYPE}; charset=utf-8") == []


def test_the_same_event_twice_in_one_envelope_is_refused() -> None:
    envelope = recorded("push")[-1]
    envelope["events"] *= 2
    with pytest.raises(EnvelopeError, match="same event id twice"):
        parse(envelope)


@pytest.mark.parametrize(("addr", "host"), [("127.0.0.1:51054", "127.0.0.1"), ("[::1]:443", "::1"),
                                            ("client.local", "client.local"), ("::1", "::1")])
def test_client_addresses_lose_their_port(addr: str, host: str) -> None:
    assert client_address(addr) == host


names = st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}", fullmatch=True)
valid_events = st.fixed_dictionaries({
    "id": st.text(min_size=1, max_size=40).filter(str.strip),
    "timestamp": st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    "action": st.sampled_from(["push", "pull", "mount", "delete"]),
    "target": st.fixed_dictionaries({
        "repository": names, "digest": st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
        "size": st.integers(min_value=0, max_value=2**40),
        "mediaType": st.sampled_from(["application/octet-stream",
                                      "application/vnd.docker.distribution.manifest.v2+json"]),
    }),
    "request": st.fixed_dictionaries({"method": st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]),
                                      "addr": st.just("10.1.2.3:4567"), "useragent": st.text(max_size=60)}),
})


@settings(max_examples=150, deadline=None)
@given(st.lists(valid_events, max_size=5, unique_by=lambda e: e["id"]))
def test_every_valid_envelope_parses_to_its_events(events: list[dict]) -> None:
    parsed = parse({"events": events})
    assert [(p.event_id, p.action, p.repository, p.size) for p in parsed] == [
        (e["id"], e["action"], e["target"]["repository"], e["target"]["size"]) for e in events
    ]
    assert all(p.request_addr == "10.1.2.3" for p in parsed)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"events": st.lists(json_values, max_size=3)}),
                 st.fixed_dictionaries({"events": st.lists(valid_events.flatmap(
                     lambda e: st.just(e) | st.dictionaries(st.sampled_from(list(e)), json_values).map(
                         lambda changes: {**e, **changes})), max_size=3)})))
def test_any_json_either_parses_or_is_refused_with_a_reason(envelope: object) -> None:
    try:
        parse(envelope)
    except EnvelopeError as error:
        assert 400 <= error.status < 500 and str(error)
