"""The registry webhook, `POST /hooks/registry/`, and Harbor's, `POST /hooks/harbor/`, as a bare ASGI app in
front of Django.

Why not a Django view: the registry delivers one event per request, serially, and waits for each answer, so
the time per request is the registry's ceiling. Django's request cycle costs about 5 ms here before the view
runs; this app checks, stores and answers in a fraction of that (bench/registry_ingest.py). It keeps
Django's ORM, settings and transaction handling; only the request plumbing is skipped.

What must stay true: a registry retries a refused delivery forever, in order, and sends nothing after it. So an
authenticated POST of JSON is always answered 200 (what archviz cannot read in it is kept raw, see
archviz.sources.registry); only the causes in REFUSALS are refused, and each refusal is counted where the audit
page shows it.

Harbor retries a refused delivery too (a few times, then drops it), so its webhook follows the same rule.

No CSRF check, on purpose: a registry has no cookie and no page to take a token from. Each webhook authenticates
its sender with the secret in `Authorization` instead (compared in constant time), and reads no cookie, so a
logged-in browser's cookies get a forged request nowhere (archviz.csrf says what protects every other endpoint).

1. Refuse what is not a POST, what lacks the webhook's credential, and what declares too large a body.
2. Read the body, stopping past the limit; refuse it only when it is not JSON.
3. Store every event not stored yet, in one transaction, on the writer's thread (archviz.audit.writer).
4. Answer 200 only after the commit.
5. Make the stored events' Observations and publish them a moment later (archviz.audit.writer.LINGER), once for
   all the deliveries stored meanwhile.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from archviz.audit.writer import count_refusal, lingering, on_writer, store
from archviz.proxies import client_address, forwarded_for
from archviz.sources import harbor
from archviz.sources.registry import MAX_BODY, MAX_EVENTS, Delivery, DeliveryError, read_delivery

HOOK_PATH = "/hooks/registry/"
HARBOR_HOOK_PATH = "/hooks/harbor/"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Every reason the webhook refuses a delivery: cause -> (status, what the audit page says).
REFUSALS: dict[str, tuple[int, str]] = {
    "method": (405, "not a POST"),
    "no-token": (503, "the webhook is off: ARCHVIZ_REGISTRY_TOKEN is not set"),
    "unauthorized": (401, "wrong or missing bearer token"),
    "harbor-off": (503, "the Harbor webhook is off: ARCHVIZ_HARBOR_AUTH is not set"),
    "harbor-unauthorized": (401, "wrong or missing Authorization header (ARCHVIZ_HARBOR_AUTH)"),
    "bad-length": (400, "Content-Length is not a number"),
    "too-large": (413, f"body over {MAX_BODY // 1024 // 1024} MiB or {MAX_EVENTS:,} events"),
    "incomplete": (400, "the sender went away before the whole body"),
    "not-json": (400, "body is not JSON"),
}


class Refused(Exception):
    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.status = REFUSALS[cause][0]


def registry_auth(headers: dict[bytes, bytes]) -> None:
    token = settings.ARCHVIZ_REGISTRY_TOKEN
    if not token:
        raise Refused("no-token", "the registry webhook is off: set ARCHVIZ_REGISTRY_TOKEN, and have the registry "
                                  "send it as 'Authorization: Bearer <token>' (notifications.endpoints[].headers)")
    if not hmac.compare_digest(headers.get(b"authorization", b""), f"Bearer {token}".encode()):
        raise Refused("unauthorized", "wrong or missing bearer token: send 'Authorization: Bearer "
                                      "<ARCHVIZ_REGISTRY_TOKEN>'")


def harbor_auth(headers: dict[bytes, bytes]) -> None:
    """Harbor sends its webhook's "Auth Header" value verbatim as the Authorization header."""
    expected = settings.ARCHVIZ_HARBOR_AUTH
    if not expected:
        raise Refused("harbor-off", "the Harbor webhook is off: set ARCHVIZ_HARBOR_AUTH, and enter the same value "
                                    "as the Harbor webhook's Auth Header")
    if not hmac.compare_digest(headers.get(b"authorization", b""), expected.encode()):
        raise Refused("harbor-unauthorized", "wrong or missing Authorization header: send the value of "
                                             "ARCHVIZ_HARBOR_AUTH")


@dataclass(frozen=True)
class Hook:
    """One webhook: whose events it takes, how it checks the sender, how it reads a body."""

    source: str
    authorize: Callable[[dict[bytes, bytes]], None]
    read: Callable[[bytes], Delivery]


HOOKS: dict[str, Hook] = {
    HOOK_PATH: Hook("registry", registry_auth, read_delivery),
    HARBOR_HOOK_PATH: Hook(harbor.SOURCE, harbor_auth, harbor.read_payload),
}


def check_request(method: str, headers: dict[bytes, bytes], hook: Hook) -> None:
    """What can be refused before reading the body."""
    if method != "POST":
        raise Refused("method", "only POST is accepted here")
    hook.authorize(headers)
    declared = headers.get(b"content-length", b"0")
    if not declared.isdigit():
        raise Refused("bad-length", "Content-Length is not a number")
    if int(declared) > MAX_BODY:
        raise Refused("too-large", f"body of {int(declared)} bytes is over the {MAX_BODY}-byte limit")


async def read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused("incomplete", "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused("too-large", f"body is over the {MAX_BODY}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def webhook(hook: Hook, scope: Scope, receive: Receive, send: Send) -> None:
    headers = {name.lower(): value for name, value in scope["headers"]}
    sender = client_address((scope.get("client") or ("",))[0] or "", forwarded_for(scope["headers"]),
                            settings.ARCHVIZ_TRUSTED_PROXIES)
    try:
        check_request(scope["method"], headers, hook)
        body = await read_body(receive)
        try:
            delivery = hook.read(body)
        except DeliveryError as error:
            raise Refused(error.cause, str(error)) from None
        outcome = await on_writer(store, delivery, sender)
        lingering.stored()
    except Refused as refusal:
        await on_writer(count_refusal, refusal.cause, sender, hook.source, refusal.status)
        await respond(send, refusal.status, {"error": str(refusal)})
        return
    await respond(send, 200, outcome.to_wire())


async def respond(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 405:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def with_registry_hook(django_application: Callable) -> Callable:
    """Route the webhooks' paths here and everything else to Django."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        hook = HOOKS.get(scope["path"]) if scope["type"] == "http" else None
        if hook is not None:
            await webhook(hook, scope, receive, send)
        else:
            await django_application(scope, receive, send)

    return application
