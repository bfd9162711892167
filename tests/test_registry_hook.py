from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client, override_settings

from archviz.models import AuditEvent, StoredObservation
from archviz.sources.registry import EVENTS_MEDIA_TYPE

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "test-token-123"
DATA = Path(__file__).parent / "data" / "registry"


def envelopes(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text())


def deliver(client: Client, body: bytes | dict, *, token: str | None = TOKEN, content_type: str = EVENTS_MEDIA_TYPE):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post("/hooks/registry/", data=data, content_type=content_type, headers=headers)


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
def test_a_push_is_stored_once_even_when_the_registry_delivers_it_again(client: Client) -> None:
    for envelope in envelopes("push"):
        assert deliver(client, envelope).json() == {"stored": 1, "duplicates": 0}
    assert deliver(client, envelopes("push")[0]).json() == {"stored": 0, "duplicates": 1}
    assert AuditEvent.objects.count() == 9
    assert StoredObservation.objects.filter(source="registry").count() == 9
    assert AuditEvent.objects.filter(request_method="HEAD").count() == 4


@override_settings(ARCHVIZ_REGISTRY_TOKEN="")
def test_with_no_token_configured_everything_is_refused_with_what_to_set(client: Client) -> None:
    response = deliver(client, envelopes("push")[0])
    assert response.status_code == 503
    assert "set ARCHVIZ_REGISTRY_TOKEN" in response.json()["error"]
    assert AuditEvent.objects.count() == 0


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_a_wrong_or_missing_token_is_refused(client: Client, token: str | None) -> None:
    response = deliver(client, envelopes("push")[0], token=token)
    assert response.status_code == 401
    assert "bearer token" in response.json()["error"]
    assert AuditEvent.objects.count() == 0


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"not json", EVENTS_MEDIA_TYPE, 400, "body is not JSON"),
        (b"{}", "application/json", 415, "is not application/vnd.docker.distribution.events.v1+json"),
        (b'{"events": [{"id": "x"}]}', EVENTS_MEDIA_TYPE, 422, "events[0].action is missing"),
        (b" " * (10 * 1024 * 1024), EVENTS_MEDIA_TYPE, 413, "over the 1048576-byte limit"),
    ],
    ids=["not-json", "wrong-media-type", "missing-fields", "ten-megabytes"],
)
def test_broken_bodies_get_a_json_error_and_nothing_is_stored(client: Client, body: bytes, content_type: str,
                                                              status: int, message: str) -> None:
    response = deliver(client, body, content_type=content_type)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert AuditEvent.objects.count() == 0 and StoredObservation.objects.count() == 0


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
def test_one_bad_event_refuses_the_whole_envelope(client: Client) -> None:
    good = envelopes("push")[0]["events"][0]
    bad = {**good, "id": "other", "action": "teleport"}
    response = deliver(client, {"events": [good, bad]})
    assert response.status_code == 422 and "events[1].action 'teleport' is unknown" in response.json()["error"]
    assert AuditEvent.objects.count() == 0


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
def test_only_post_is_accepted(client: Client) -> None:
    assert client.get("/hooks/registry/").status_code == 405
