"""Reading what registries deliver: recorded notifications of distribution 2.8.2 (tests/data/registry/*.json)
and 3.1.1 (v3_session.json: two users pushing, pulling and deleting with the docker CLI, as registry-v3 sent it)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archviz.sources.registry import (
    MAX_BODY,
    DeliveryError,
    RegistryEvent,
    UnknownEvent,
    client_address,
    observation_from_event,
    read_delivery,
)

DATA = Path(__file__).parent / "data" / "registry"


def recorded(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text())


def v3_session() -> list[RegistryEvent]:
    """The events registry-v3 sent, in order, each read from the exact bytes it posted."""
    deliveries = [read_delivery(delivery["body"].encode()) for delivery in recorded("v3_session")]
    assert not any(delivery.unknown for delivery in deliveries)
    return [event for delivery in deliveries for event in delivery.events]


def parse(envelope: object) -> list[RegistryEvent]:
    delivery = read_delivery(json.dumps(envelope).encode())
    assert not delivery.unknown, delivery.unknown
    return list(delivery.events)


def unreadable(envelope: object) -> list[UnknownEvent]:
    return list(read_delivery(json.dumps(envelope).encode()).unknown)


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
    assert manifest.references == ()  # distribution 2.8 does not list a manifest's blobs


def test_a_recorded_pull_mount_and_delete_parse() -> None:
    pulls = [event for envelope in recorded("pull") for event in parse(envelope)]
    assert [e.request_method for e in pulls] == ["HEAD", "GET", "GET", "GET", "GET"]
    mounts = [event for envelope in recorded("mount") for event in parse(envelope) if event.action == "mount"]
    assert {(e.from_repository, e.repository, e.target_kind) for e in mounts} == {("lab/app", "other/app", "blob")}
    deletes = [event for envelope in recorded("delete") for event in parse(envelope) if event.action == "delete"]
    assert [(e.target_kind, bool(e.digest), e.tag) for e in deletes] == [("manifest", True, ""), ("tag", False, "1")]


def test_distribution_3_names_its_users_and_lists_each_manifests_blobs() -> None:
    events = v3_session()
    assert {event.actor for event in events} == {"alice", "bob"}
    pushed = next(e for e in events if e.action == "push" and e.target_kind == "manifest" and e.tag == "1"
                  and e.repository == "lab/app")
    assert pushed.actor == "alice" and pushed.size == 942
    assert [r.media_type for r in pushed.references] == ["application/vnd.docker.container.image.v1+json",
                                                         *["application/vnd.docker.image.rootfs.diff.tar.gzip"] * 3]
    blobs = {e.digest for e in events if e.repository == "lab/app" and e.target_kind == "blob"}
    assert {r.digest for r in pushed.references} <= blobs
    pulled = [e for e in events if e.action == "pull" and e.target_kind == "manifest" and e.actor == "bob"]
    assert pulled and all(e.references == pushed.references for e in pulled)


def test_distribution_3_deletes_a_tag_and_a_manifest_without_the_placeholders_it_sends() -> None:
    deletes = [e for e in v3_session() if e.action == "delete"]
    # DELETE /v2/lab/app/manifests/2 (by tag), then lab/base's manifest by digest, which also deletes its tag.
    assert [(e.repository, e.target_kind, e.tag, bool(e.digest), e.media_type, e.size) for e in deletes] == [
        ("lab/app", "tag", "2", False, "", None),
        ("lab/base", "manifest", "", True, "", None),
        ("lab/base", "tag", "1", False, "", None),
    ]


def test_a_repository_delete_names_neither_tag_nor_digest_and_is_read() -> None:
    # The shape of bridge.go's RepoDeleted, as encoding/json writes it: the descriptor's fields as empty values.
    (event,) = parse({"events": [{
        "id": "01a2-repo-delete", "timestamp": "2026-11-29T13:04:33.7Z", "action": "delete",
        "target": {"mediaType": "", "digest": "", "size": 0, "repository": "lab/app"},
        "request": {"id": "r1", "addr": "10.0.0.7:5123", "host": "registry:5000", "method": "DELETE",
                    "useragent": "curl/8"},
        "actor": {"name": "carol"}, "source": {"addr": "vm:5000", "instanceID": "i1"},
    }]})
    assert (event.target_kind, event.repository, event.tag, event.digest, event.size) == (
        "repository", "lab/app", "", "", None)
    observation = observation_from_event(event)
    assert (observation.kind, observation.subject) == ("registry-delete", "lab/app")


def test_an_event_becomes_an_observation_named_by_its_action() -> None:
    (event,) = parse(recorded("push")[-1])
    observation = observation_from_event(event)
    assert (observation.kind, observation.subject, observation.host) == ("registry-push", "lab/app:1", "127.0.0.1:5997")
    assert observation.attributes["method"] == "PUT"
    assert observation_from_event(event).key == observation.key


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("id"), "id is missing"),
        (lambda e: e.update(action="teleport"), "action 'teleport' is not one of push, pull, mount, delete"),
        (lambda e: e.update(timestamp="yesterday"), "is not an RFC 3339 time"),
        (lambda e: e.update(timestamp="2026-02-30T00:00:00Z"), "is not a real time"),
        (lambda e: e.update(timestamp="9999-01-01T00:00:00Z"), "is outside 1970-2262"),
        (lambda e: e.update(timestamp=5), "timestamp is not a string"),
        (lambda e: e.pop("target"), "target is missing"),
        (lambda e: e["target"].update(size=-1), "target.size is not a non-negative integer"),
        (lambda e: e["target"].update(size="942"), "target.size is not a non-negative integer"),
        (lambda e: e["target"].update(size=True), "target.size is not a non-negative integer"),
        (lambda e: e["target"].update(repository="Lab/App"), "is not a valid repository"),
        (lambda e: e["target"].update(repository="../../etc"), "is not a valid repository"),
        (lambda e: e["target"].update(digest="md5:x"), "is not a valid digest"),
        (lambda e: e["target"].update(tag="<script>"), "is not a valid tag"),
        (lambda e: e["target"].update(tag=None, digest=None), "names neither a tag nor a digest, and a push needs"),
        (lambda e: e["target"].update(references=[{"digest": "nope"}]), "references[0].digest 'nope' is not"),
        (lambda e: e["target"].update(references={}), "target.references is not a list"),
        (lambda e: e["request"].update(method="get; DROP"), "is not a valid method"),
        (lambda e: e["request"].update(useragent=["x"]), "useragent is not a string"),
        (lambda e: e["request"].update(useragent="a\x00b"), "useragent holds control characters"),
        (lambda e: e["actor"].update(name="\ud800"), "actor.name holds control characters or lone surrogates"),
        (lambda e: e.update(request="x"), "request is not an object"),
        (lambda e: e["target"].update(mediaType="x" * 300), "mediaType is longer than 255"),
    ],
)
def test_an_event_archviz_cannot_read_is_kept_raw_with_the_reason(mutate, reason: str) -> None:  # noqa: ANN001
    envelope = recorded("push")[-1]
    envelope["events"][0]["actor"] = {"name": "alice"}
    mutate(envelope["events"][0])
    (kept,) = unreadable(envelope)
    assert reason in kept.reason
    assert json.loads(kept.raw) == envelope["events"][0]
    assert kept.raw.isascii()


def test_one_unreadable_event_leaves_the_others_of_its_envelope_readable() -> None:
    good = recorded("push")[-1]["events"][0]
    delivery = read_delivery(json.dumps({"events": [good, {**good, "id": "other", "action": "teleport"}]}).encode())
    assert [e.event_id for e in delivery.events] == [good["id"]]
    assert [(u.event_id, u.reason) for u in delivery.unknown] == [
        ("other", "action 'teleport' is not one of push, pull, mount, delete")]


@pytest.mark.parametrize("body", [b"[]", b'{"events": {}}', b'"hello"', b"42", b'{"Events": []}', b"null"])
def test_json_that_is_not_an_envelope_is_kept_whole(body: bytes) -> None:
    delivery = read_delivery(body)
    (kept,) = delivery.unknown
    assert delivery.events == () and "not an envelope" in kept.reason and json.loads(kept.raw) == json.loads(body)


def test_a_redelivered_unknown_event_has_the_same_key_by_its_id_or_else_its_content() -> None:
    twice = [unreadable({"events": [{"id": "x1", "action": "teleport"}]})[0] for _ in range(2)]
    assert twice[0].key == twice[1].key and twice[0].event_id == "x1"
    reordered = [read_delivery(body).unknown[0] for body in (b'{"a": 1, "b": 2}', b'{"b": 2, "a": 1}')]
    assert reordered[0].key == reordered[1].key
    assert read_delivery(b'{"a": 1}').unknown[0].key != reordered[0].key


@pytest.mark.parametrize(
    ("body", "cause", "message"),
    [
        (b"not json", "not-json", "body is not JSON"),
        (b"\xff\xfe\x00", "not-json", "body is not JSON"),
        (b"[" * 100_000, "not-json", "body is not JSON"),
        (b'{"events": [NaN]}', "not-json", "body is not JSON"),
        (b" " * (MAX_BODY + 1), "too-large", "over the"),
        (json.dumps({"events": [{}] * 1001}).encode(), "too-large", "1001 events in one envelope, at most 1000"),
    ],
    ids=["not-json", "not-utf8", "deep", "nan", "huge", "too-many-events"],
)
def test_only_bodies_that_are_not_json_or_too_large_are_refused(body: bytes, cause: str, message: str) -> None:
    with pytest.raises(DeliveryError, match=message) as error:
        read_delivery(body)
    assert error.value.cause == cause


def test_an_empty_envelope_is_fine() -> None:
    assert read_delivery(b'{"events": []}').events == ()


@pytest.mark.parametrize(("addr", "host"), [("127.0.0.1:51054", "127.0.0.1"), ("[::1]:443", "::1"),
                                            ("client.local", "client.local"), ("::1", "::1")])
def test_client_addresses_lose_their_port(addr: str, host: str) -> None:
    assert client_address(addr) == host


names = st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}", fullmatch=True)
digests = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)
valid_events = st.fixed_dictionaries({
    "id": st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=40),
    "timestamp": st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2262, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    "action": st.sampled_from(["push", "pull", "mount", "delete"]),
    "target": st.fixed_dictionaries({
        "repository": names, "digest": digests,
        "size": st.integers(min_value=0, max_value=2**40),
        "mediaType": st.sampled_from(["application/octet-stream",
                                      "application/vnd.docker.distribution.manifest.v2+json"]),
    }, optional={"references": st.lists(st.fixed_dictionaries({"digest": digests, "size": st.integers(0, 2**40)}),
                                        max_size=4)}),
    "request": st.fixed_dictionaries({"method": st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]),
                                      "addr": st.just("10.1.2.3:4567"),
                                      "useragent": st.text(st.characters(codec="utf-8", exclude_categories=("Cc",)),
                                                           max_size=60)}),
})


@settings(max_examples=150, deadline=None)
@given(st.lists(valid_events, max_size=5))
def test_every_valid_envelope_reads_to_its_events(events: list[dict]) -> None:
    parsed = parse({"events": events})
    assert [(p.event_id, p.action, p.repository, p.size if p.action != "delete" else None) for p in parsed] == [
        (e["id"], e["action"], e["target"]["repository"], e["target"]["size"] if e["action"] != "delete" else None)
        for e in events
    ]
    assert all(p.request_addr == "10.1.2.3" for p in parsed)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"events": st.lists(json_values, max_size=3)}),
                 st.fixed_dictionaries({"events": st.lists(valid_events.flatmap(
                     lambda e: st.just(e) | st.dictionaries(st.sampled_from(list(e)), json_values).map(
                         lambda changes: {**e, **changes})), max_size=3)})))
def test_any_json_is_read_event_by_event_and_what_cannot_be_read_is_kept(envelope: object) -> None:
    delivery = read_delivery(json.dumps(envelope).encode())
    events = envelope["events"] if isinstance(envelope, dict) and isinstance(envelope.get("events"), list) else None
    assert len(delivery.events) + len(delivery.unknown) == (len(events) if events is not None else 1)
    assert all(unknown.reason and unknown.raw.isascii() and len(unknown.key) == 64 for unknown in delivery.unknown)
