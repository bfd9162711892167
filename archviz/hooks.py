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
3. Store every event not stored yet, in one transaction (archviz.audit.ingest).
4. Answer 200 only after the commit.
5. Make the stored events' Observations and publish them a moment later (LINGER), once for all the deliveries
   stored meanwhile.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from archviz.audit.ingest import Outcome, ingest, observe, observe_missing, record_refusal
from archviz.broadcast import serve_loop
from archviz.leadership import on_postgresql
from archviz.proxies import client_address, forwarded_for
from archviz.publisher import PUBLISHER
from archviz.sources import harbor
from archviz.sources.registry import MAX_BODY, MAX_EVENTS, Delivery, DeliveryError, RegistryEvent, read_delivery

HOOK_PATH = "/hooks/registry/"
HARBOR_HOOK_PATH = "/hooks/harbor/"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
log = logging.getLogger(__name__)
T = TypeVar("T")

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


def store(delivery: Delivery, sender: str) -> Outcome:
    # Outside Django's request cycle: keep its connection hygiene (drop a broken or expired connection). Once,
    # after the work: this thread does nothing else.
    try:
        # Observed and published by this thread (no hop to the publisher's thread): a moment later, once for all
        # stored meanwhile, where `serve` runs (see LINGER); elsewhere (tests, scripts) before answering.
        later = PUBLISHER.publishes_later()
        with PUBLISHER.publishing_here(more_waiting=later):
            outcome = ingest(delivery, sender, observed=not later)
        if later:
            _unobserved.extend(outcome.fresh)
        return outcome
    finally:
        close_old_connections()


# Events stored, their Observations still to be made (on the writer thread only).
_unobserved: list[RegistryEvent] = []


def publish_stored() -> None:
    try:
        if _unobserved:
            with PUBLISHER.publishing_here(more_waiting=True):
                observe(_unobserved)
            _unobserved.clear()
        PUBLISHER.tail()
    except Exception:  # what was stored stays stored: the next delivery's publication, or serve's next start,
        # makes the Observations; the leader's loop publishes what is stored within POLL_SECONDS
        log.exception("could not observe or publish what the webhook stored")
    finally:
        close_old_connections()


def start_catching_up(loop: asyncio.AbstractEventLoop) -> None:
    """As `serve` starts: `catch_up` on the writer thread (on SQLite: on PostgreSQL each event's Observation is
    made with it)."""
    if not on_postgresql():
        _writer.submit(_serving, loop, catch_up)


def catch_up() -> None:
    """Make the Observations a stop left unmade (events stored in the LINGER before it) and publish them."""
    try:
        with PUBLISHER.publishing_here():
            made = observe_missing()
        if made:
            log.warning("made the Observations of %d registry events stored just before serve last stopped", made)
    except Exception:
        log.exception("could not make the Observations of the registry events stored before serve last stopped")
    finally:
        close_old_connections()


# A registry delivers one event at a time and waits for each answer. So the Observations of what the webhook
# stores are made and published on the writer thread LINGER seconds after the first store not yet published, once
# for all stored meanwhile: in-process, storing an event with its Observation took 356-420 us and without it 202-254,
# its Observation made in a batch of twenty 65 us, a publication of one 200 us and of twenty 43 us an event. Work
# between two stores, on the same thread, never contends with them for SQLite's write lock or for the interpreter
# (on another thread it did both). A live page draws a registry's events at most LINGER late.
LINGER = 0.02


class _Lingering:
    """The publication due after the webhook's stores (touched on the event loop only)."""

    def __init__(self) -> None:
        self._due: asyncio.AbstractEventLoop | None = None  # the loop it is due on (not one that stopped since)

    def stored(self) -> None:
        loop = asyncio.get_running_loop()
        if self._due is not loop and PUBLISHER.publishes_later():
            self._due = loop
            loop.call_later(LINGER, self._publish, loop)

    def _publish(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = None
        _writer.submit(_serving, loop, publish_stored)


_lingering = _Lingering()


def count_refusal(cause: str, sender: str, source: str) -> None:
    try:
        record_refusal(cause, REFUSALS[cause][0], sender, source)
    except DatabaseError:
        # The refusal is answered all the same; only its count on the audit page is missing.
        log.exception("could not count a refused %s delivery (%s from %s)", source, cause, sender)
    finally:
        close_old_connections()


# One thread of its own stores what the webhook receives: SQLite takes one writer at a time anyway, the thread
# keeps one connection, and it is the one woken each time (waking any of the loop's pool cost more, measured).
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry-webhook")


async def on_writer(function: Callable[..., T], *args: object) -> T:
    """Run on the writer thread, which sends what it publishes through this loop (asgiref's SyncToAsync added a
    fifth to the hop: bench/registry_ingest.py)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_writer, partial(_serving, loop, function, *args))


def _serving(loop: asyncio.AbstractEventLoop, function: Callable[..., T], *args: object) -> T:
    serve_loop(loop)
    return function(*args)


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
        _lingering.stored()
    except Refused as refusal:
        await on_writer(count_refusal, refusal.cause, sender, hook.source)
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
