"""The registry webhook, through the real ASGI application."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.test import override_settings

from archviz.models import AuditEvent, StoredObservation
from archviz.sources.registry import EVENTS_MEDIA_TYPE
from dashboard.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
TOKEN = "test-token-123"
DATA = Path(__file__).parent / "data" / "registry"


def envelopes(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text())


async def deliver(body: bytes | dict, *, token: str | None = TOKEN, content_type: str = EVENTS_MEDIA_TYPE,
                  method: str = "POST") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    response = await HttpCommunicator(application, method, "/hooks/registry/", body=data, headers=headers
                                      ).get_response(timeout=10)
    return response["status"], json.loads(response["body"])


@sync_to_async
def counts() -> tuple[int, int, int]:
    return (AuditEvent.objects.count(), StoredObservation.objects.filter(source="registry").count(),
            AuditEvent.objects.filter(request_method="HEAD").count())


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_a_push_is_stored_once_even_when_the_registry_delivers_it_again() -> None:
    for envelope in envelopes("push"):
        assert await deliver(envelope) == (200, {"stored": 1, "duplicates": 0})
    assert await deliver(envelopes("push")[0]) == (200, {"stored": 0, "duplicates": 1})
    assert await counts() == (9, 9, 4)


@override_settings(ARCHVIZ_REGISTRY_TOKEN="")
async def test_with_no_token_configured_everything_is_refused_with_what_to_set() -> None:
    status, answer = await deliver(envelopes("push")[0])
    assert status == 503 and "set ARCHVIZ_REGISTRY_TOKEN" in answer["error"]
    assert await counts() == (0, 0, 0)


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
async def test_a_wrong_or_missing_token_is_refused(token: str | None) -> None:
    status, answer = await deliver(envelopes("push")[0], token=token)
    assert status == 401 and "bearer token" in answer["error"]
    assert await counts() == (0, 0, 0)


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
async def test_broken_bodies_get_a_json_error_and_nothing_is_stored(body: bytes, content_type: str, status: int,
                                                                    message: str) -> None:
    got, answer = await deliver(body, content_type=content_type)
    assert got == status and message in answer["error"]
    assert await counts() == (0, 0, 0)


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_one_bad_event_refuses_the_whole_envelope() -> None:
    good = envelopes("push")[0]["events"][0]
    status, answer = await deliver({"events": [good, {**good, "id": "other", "action": "teleport"}]})
    assert status == 422 and "events[1].action 'teleport' is unknown" in answer["error"]
    assert await counts() == (0, 0, 0)


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_only_post_is_accepted() -> None:
    status, answer = await deliver(b"", method="GET")
    assert status == 405 and "only POST" in answer["error"]


@override_settings(ARCHVIZ_REGISTRY_TOKEN=TOKEN)
async def test_a_body_longer_than_declared_is_cut_off_at_the_limit() -> None:
    body = b" " * (2 * 1024 * 1024)
    headers = [(b"content-type", EVENTS_MEDIA_TYPE.encode()), (b"content-length", b"10"),
               (b"authorization", f"Bearer {TOKEN}".encode())]
    response = await HttpCommunicator(application, "POST", "/hooks/registry/", body=body, headers=headers
                                      ).get_response(timeout=10)
    assert response["status"] == 413
