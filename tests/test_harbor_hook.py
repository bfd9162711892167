"""Harbor's webhook, `POST /hooks/harbor/`, through the real ASGI application, fed the payloads Harbor documents
(tests/data/harbor/README.md says where each came from): each is kept in the audit trail with Harbor named as
its source and its operator as the actor; what archviz cannot read is kept raw; only a wrong Authorization
header, non-JSON and oversized bodies are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archviz.kinds import HARBOR_KINDS
from archviz.models import AuditEvent, RefusedDelivery, StoredObservation, UnknownEvent
from archviz.sequence import Sequencer, sequence
from archviz.sources.harbor import ACTIONS as HARBOR_ACTIONS
from dashboard.asgi import application
from tests.hostile import HOSTILE_VALUES, counted, delivered_whole, with_changes

pytestmark = pytest.mark.django_db(transaction=True)
AUTH = "Basic aGFyYm9yOnNlY3JldA=="  # any value: Harbor sends its webhook's Auth Header verbatim
DATA = Path(__file__).parent / "data" / "harbor"
ALPINE = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"


def payloads(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text())


async def deliver(body: bytes | dict, *, auth: str | None = AUTH, path: str = "/hooks/harbor/") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [(b"content-length", str(len(data)).encode()), (b"content-type", b"application/json")]
    if auth is not None:
        headers.append((b"authorization", auth.encode()))
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 40123), "server": ("127.0.0.1", 8000)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": data})
    start = await communicator.receive_output(10)
    answer = await communicator.receive_output(10)
    return start["status"], json.loads(answer["body"])


@sync_to_async
def rows() -> list[tuple[str, str, str, str, str, str, str]]:
    """(source, action, repository, tag, digest, target, actor) of every audit event, oldest first."""
    return [(e.source, e.action, e.repository, e.tag, e.digest[:19], e.target_kind, e.actor)
            for e in AuditEvent.objects.order_by("time_ns", "id")]


@sync_to_async
def counts() -> tuple[int, int, int]:
    return counted("harbor")


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
async def test_every_documented_default_payload_is_kept_once_with_harbor_as_its_source_even_when_sent_twice() -> None:
    for payload in payloads("default_format"):
        assert await deliver(payload) == (200, {"stored": 1, "unknown": 0, "duplicates": 0})
        assert await deliver(payload) == (200, {"stored": 0, "unknown": 0, "duplicates": 1})
    alpine, robot = ALPINE[:19], "robot$harbor+wHSYCuGD-Trivy-8e2e7505-d1e6-11ed-9e71-0242ac130009"
    assert await rows() == [
        ("harbor", "push", "harbor/alpine", "", alpine, "manifest", "harbor-jobservice"),
        ("harbor", "replication", "", "", "", "repository", "MANUAL"),
        ("harbor", "scan-stopped", "harbor/alpine", "", "sha256:e802987f152d", "manifest", "auto"),
        ("harbor", "pull", "harbor/alpine", "", alpine, "manifest", robot),
        ("harbor", "scan", "harbor/alpine", "", alpine, "manifest", "auto"),
        ("harbor", "delete", "harbor/alpine", "3.8", "sha256:2bb501e6173d", "manifest", "harbor-jobservice"),
        ("harbor", "retention", "", "", "", "repository", "MANUAL"),
        ("harbor", "quota-exceed", "harbor/alpine", "", "sha256:402d21757a03", "repository", ""),
        ("harbor", "quota-warning", "harbor/alpine", "", "sha256:514ec80ffbe1", "repository", ""),
        ("harbor", "scan-failed", "harbor/alpine", "", "sha256:dabea2944dcc", "manifest", "auto"),
    ]
    # Each is stored with an observation of its own, which the publisher publishes (the audit page's live tail
    # rides it); Harbor names no client, so the diagram draws none of them.
    assert await counts() == (10, 10, 0)
    observations = await sync_to_async(lambda: [o.to_wire() for o in StoredObservation.objects.order_by("id")])()
    assert sorted(o["kind"] for o in observations) == sorted(f"harbor-{row[1]}" for row in await rows())
    assert {o["source"] for o in observations} == {"harbor"}
    live = Sequencer()
    assert [live.add(o).to_wire() for o in observations] == [{"participants": [], "messages": [], "interactions": []}
                                                              ] * len(observations)
    assert (sequence(observations).participants, sequence(observations).messages) == ([], [])


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
async def test_a_tagged_push_keeps_its_tag_and_harbors_host_and_a_pull_by_digest_keeps_no_tag() -> None:
    for payload in payloads("default_format_older"):
        assert (await deliver(payload))[0] == 200
    push, pull = await sync_to_async(list)(AuditEvent.objects.order_by("time_ns"))
    assert (push.action, push.repository, push.tag, push.request_host, push.actor) == (
        "push", "test-webhook/debian", "latest", "hub.harbor.com", "admin")
    assert push.time_ns == 1586922308 * 10**9
    assert (pull.action, pull.repository, pull.tag, pull.digest, pull.request_host) == (
        "pull", "library/busybox", "", "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c",
        "harbor.dev")


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
async def test_cloudevents_payloads_are_kept_once_by_their_own_id() -> None:
    for payload in payloads("cloudevents_format"):
        assert await deliver(payload) == (200, {"stored": 1, "unknown": 0, "duplicates": 0})
        assert await deliver(payload) == (200, {"stored": 0, "unknown": 0, "duplicates": 1})
    pulled, deleted = await sync_to_async(list)(AuditEvent.objects.order_by("time_ns"))
    assert pulled.event_id == "harbor:4b2f89a6-548d-4c12-9993-a1f5790b97d2"
    assert (pulled.action, pulled.repository, pulled.actor) == (
        "pull", "library/busybox", "robot$library+scanner-Trivy-51fe4548-bbe5-11ed-9217-0242ac14000d")
    assert pulled.time_ns == 1678082923 * 10**9  # 2023-03-06T06:08:43Z
    assert (deleted.action, deleted.tag, deleted.actor) == ("delete", "3.8", "harbor-jobservice")


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
async def test_a_payload_of_a_type_archviz_does_not_know_is_answered_200_and_kept_raw() -> None:
    chart = {"type": "UPLOAD_CHART", "occur_at": 1586922308, "operator": "admin", "event_data": {}}
    assert await deliver(chart) == (200, {"stored": 0, "unknown": 1, "duplicates": 0})
    assert await deliver(chart) == (200, {"stored": 0, "unknown": 0, "duplicates": 1})
    kept = await sync_to_async(UnknownEvent.objects.get)()
    assert kept.source == "harbor" and json.loads(kept.raw) == chart and "UPLOAD_CHART" in kept.reason


@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
def test_the_unknown_shapes_page_names_harbor_as_the_sender(client: Client) -> None:
    async_to_sync(deliver)({"type": "UPLOAD_CHART", "occur_at": 1, "operator": "admin", "event_data": {}})
    html = client.get("/registry/unknown/").content.decode()
    assert '<tr data-source="harbor">' in html and "<td>harbor 127.0.0.1</td>" in html
    assert client.get("/api/registry/unknown/").json()["unknown"][0]["source"] == "harbor"


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
async def test_a_payload_naming_several_artifacts_keeps_one_event_for_each() -> None:
    payload = json.loads(json.dumps(payloads("default_format")[2]))
    first = payload["event_data"]["resources"][0]
    payload["event_data"]["resources"].append({**first, "tag": "3.9", "resource_url": "localhost/harbor/alpine:3.9"})
    assert await deliver(payload) == (200, {"stored": 2, "unknown": 0, "duplicates": 0})
    assert await deliver(payload) == (200, {"stored": 0, "unknown": 0, "duplicates": 2})
    assert [row[3] for row in await rows()] == ["3.8", "3.9"]


def test_every_action_of_harbors_is_an_observation_kind_of_its_own() -> None:
    assert set(HARBOR_KINDS) == {f"harbor-{action}" for action in HARBOR_ACTIONS}


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH="")
async def test_with_no_auth_configured_the_harbor_hook_refuses_naming_the_setting() -> None:
    status, answer = await deliver(payloads("default_format")[0])
    assert status == 503 and "ARCHVIZ_HARBOR_AUTH" in answer["error"]
    assert await counts() == (0, 0, 0)


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH, ARCHVIZ_REGISTRY_TOKEN="registry-token")
@pytest.mark.parametrize("auth", [None, "wrong", f"{AUTH} ", "Bearer registry-token"])
async def test_a_wrong_or_missing_authorization_is_refused_and_counted_for_harbor(auth: str | None) -> None:
    status, answer = await deliver(payloads("default_format")[0], auth=auth)
    assert status == 401 and "ARCHVIZ_HARBOR_AUTH" in answer["error"]
    refused = await sync_to_async(list)(RefusedDelivery.objects.values_list("source", "cause", "count"))
    assert refused == [("harbor", "harbor-unauthorized", 1)]
    assert await counts() == (0, 0, 0)


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH, ARCHVIZ_REGISTRY_TOKEN="registry-token")
async def test_harbors_header_does_not_open_the_registry_hook() -> None:
    status, _ = await deliver({"events": []}, path="/hooks/registry/")
    assert status == 401


@pytest.mark.asyncio
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
@pytest.mark.parametrize(("body", "status"), [(b"not json", 400), (b"{", 400), (b"[" * 20 + b"]" * 20, 200),
                                              (b" " * (1024 * 1024 + 1), 413)])
async def test_only_bodies_that_are_not_json_or_too_large_are_refused(body: bytes, status: int) -> None:
    assert (await deliver(body))[0] == status


@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH, ARCHVIZ_REGISTRY_TOKEN="registry-token")
def test_the_api_and_the_audit_page_filter_by_source(client: Client) -> None:
    for payload in payloads("default_format"):
        async_to_sync(deliver)(payload)
    registry_push = {"events": [{
        "id": "r1", "timestamp": "2026-01-01T00:00:00Z", "action": "push",
        "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "repository": "lab/app",
                   "digest": ALPINE, "tag": "1"},
        "request": {"addr": "127.0.0.1:1", "method": "PUT"}, "actor": {"name": "ci"}}]}
    assert async_to_sync(deliver)(registry_push, auth="Bearer registry-token", path="/hooks/registry/")[0] == 200
    harbor = client.get("/api/registry/events/?source=harbor&limit=1000").json()["events"]
    assert len(harbor) == 10 and {e["source"] for e in harbor} == {"harbor"}
    registry = client.get("/api/registry/events/?source=registry").json()["events"]
    assert [(e["source"], e["event_id"], e["actor"]) for e in registry] == [("registry", "r1", "ci")]
    scans = client.get("/api/registry/events/?source=harbor&action=scan").json()["events"]
    assert [e["digest"] for e in scans] == [ALPINE]
    assert client.get("/api/registry/events/?source=quay").status_code == 400
    html = client.get("/registry/?source=harbor").content.decode()
    assert html.count('data-source="harbor"') == 10 and 'data-source="registry"' not in html
    assert "<option selected>harbor</option>" in html
    assert html.count(f'class="report" href="/registry/reports/pulls/?digest={ALPINE.replace(":", "%3A")}"') == 1


PATHS = [("type",), ("occur_at",), ("operator",), ("event_data",), ("event_data", "resources"),
         ("event_data", "repository"), ("event_data", "repository", "repo_full_name"), ("specversion",),
         ("id",), ("time",), ("data",)]


def mutated(changes: list[tuple[tuple[str, ...], object]]) -> dict:
    return with_changes(payloads("default_format")[0], changes)


HOSTILE_BODIES = st.one_of(
    st.binary(max_size=200),
    HOSTILE_VALUES.map(lambda value: json.dumps(value).encode()),
    st.builds(mutated, st.lists(st.tuples(st.sampled_from(PATHS), HOSTILE_VALUES), max_size=3)).map(
        lambda payload: json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=HOSTILE_BODIES)
@override_settings(ARCHVIZ_HARBOR_AUTH=AUTH)
def test_a_hostile_body_never_gets_a_5xx_nor_leaves_a_partial_row(body: bytes) -> None:
    answer = delivered_whole(deliver, body, "harbor")
    if answer is None:
        return
    assert answer["stored"] + answer["unknown"] + answer["duplicates"] >= 1
    for row in AuditEvent.objects.filter(source="harbor"):  # read: whole rows only
        assert row.event_id.startswith("harbor:") and row.action and row.target_kind and row.time_ns >= 0
    if answer["stored"] == 0 and answer["duplicates"] == 0:  # not read: kept as it came
        assert UnknownEvent.objects.filter(source="harbor", raw=json.dumps(json.loads(body), ensure_ascii=True)
                                           ).exists()
