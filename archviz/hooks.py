"""The registry webhook, `POST /hooks/registry/`, as a bare ASGI app in front of Django.

Why not a Django view: the registry delivers one event per request, serially, and waits for each answer, so
the time per request is the registry's ceiling. Django's request cycle costs about 5 ms here before the view
runs; this app checks, stores and answers in a fraction of that (bench/registry_ingest.py). It keeps
Django's ORM, settings and transaction handling; only the request plumbing is skipped.

1. Refuse what is not a POST, what has no valid bearer token, and what declares too large a body.
2. Read the body, stopping past the limit; check every field (archviz.sources.registry).
3. Store every event not stored yet, with its Observation, in one transaction (archviz.audit.ingest).
4. Answer 200 only after the commit: the registry retries until it gets a 2xx.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from archviz.audit.ingest import ingest
from archviz.sources.registry import MAX_BODY, EnvelopeError, RegistryEvent, parse_envelope

HOOK_PATH = "/hooks/registry/"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_request(method: str, headers: dict[bytes, bytes]) -> None:
    """What can be refused before reading the body."""
    if method != "POST":
        raise Refused(405, "only POST is accepted here")
    token = settings.ARCHVIZ_REGISTRY_TOKEN
    if not token:
        raise Refused(503, "the registry webhook is off: set ARCHVIZ_REGISTRY_TOKEN, and have the registry send "
                           "it as 'Authorization: Bearer <token>' (notifications.endpoints[].headers)")
    if not hmac.compare_digest(headers.get(b"authorization", b""), f"Bearer {token}".encode()):
        raise Refused(401, "wrong or missing bearer token: send 'Authorization: Bearer <ARCHVIZ_REGISTRY_TOKEN>'")
    declared = headers.get(b"content-length", b"0")
    if not declared.isdigit():
        raise Refused(400, "Content-Length is not a number")
    if int(declared) > MAX_BODY:
        raise Refused(413, f"body of {int(declared)} bytes is over the {MAX_BODY}-byte limit")


async def read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, f"body is over the {MAX_BODY}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def store(events: list[RegistryEvent]) -> int:
    # Outside Django's request cycle: keep its connection hygiene (drop broken or expired connections).
    close_old_connections()
    try:
        return ingest(events)
    finally:
        close_old_connections()


async def registry_hook(scope: Scope, receive: Receive, send: Send) -> None:
    headers = {name.lower(): value for name, value in scope["headers"]}
    try:
        check_request(scope["method"], headers)
        body = await read_body(receive)
        try:
            events = parse_envelope(body, headers.get(b"content-type", b"").decode("latin-1"))
        except EnvelopeError as error:
            raise Refused(error.status, str(error)) from None
        stored = await sync_to_async(store, thread_sensitive=False)(events)
    except Refused as refusal:
        await respond(send, refusal.status, {"error": str(refusal)})
        return
    await respond(send, 200, {"stored": stored, "duplicates": len(events) - stored})


async def respond(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 405:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def with_registry_hook(django_application: Callable) -> Callable:
    """Route the webhook's one path here and everything else to Django."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HOOK_PATH:
            await registry_hook(scope, receive, send)
        else:
            await django_application(scope, receive, send)

    return application
