"""Another site cannot make a logged-in browser change anything here: every URL pattern (the admin's included), every
webhook and every websocket route is walked, so an endpoint added without protection fails this file.

- A Django view, whatever it does: an unsafe request (POST, PUT, PATCH, DELETE) without the CSRF token, or with it
  but from a foreign `Origin`, is refused by the CSRF check before the view runs.
- A webhook: no cookie gets it anywhere; without its own secret it is refused (archviz.csrf says why it has no CSRF
  check), and each has a row in WEBHOOKS.
- A websocket: opened only with an `Origin` of this site.

The person here is a staff superuser logged in to the dashboard, visiting a hostile page in the same browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import product

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client, RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils.crypto import get_random_string
from django.utils.regex_helper import normalize

from archviz import hooks
from archviz.routing import websocket_urlpatterns
from dashboard.asgi import application

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
FOREIGN = "http://evil.example"
OWN = "http://127.0.0.1"
# Values tried for each part of a pattern an example address must fill: a number, an app and model of the admin, a name.
FILLERS = ("1", "auth", "user", "x")
# Each webhook, and the setting holding the secret it authenticates with instead of a CSRF token.
WEBHOOKS = {"/hooks/registry/": "ARCHVIZ_REGISTRY_TOKEN", "/hooks/harbor/": "ARCHVIZ_HARBOR_AUTH"}


def patterns(entries: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """Every endpoint pattern under `entries`, with its whole regex (includes followed)."""
    for entry in entries:
        regex = prefix + entry.pattern.regex.pattern.lstrip("^")
        if isinstance(entry, URLResolver):
            yield from patterns(entry.url_patterns, regex)
        else:
            yield regex, entry


def example(regex: str, answers: Callable[[str], bool]) -> str | None:
    """An address that `answers` takes for this pattern's; None when an earlier pattern takes all of the pattern's
    addresses (the admin's own login page is shadowed by archviz's)."""
    shadowed = False
    for form, parameters in normalize(regex):
        for values in product(FILLERS, repeat=len(parameters)):
            address = "/" + form % dict(zip(parameters, values, strict=True))
            if answers(address):
                return address
            shadowed = shadowed or re.match(regex, address[1:]) is not None
    assert shadowed, f"no example address for {regex}: add a filler to FILLERS"
    return None


def resolved_to(pattern: URLPattern) -> Callable[[str], bool]:
    """Whether Django sends an address to this pattern's view (no earlier pattern takes it)."""
    def answers(address: str) -> bool:
        try:
            return resolve(address).func is pattern.callback
        except Resolver404:
            return False

    return answers


def endpoints() -> list[str]:
    found = {example(regex, resolved_to(pattern)) for regex, pattern in patterns(get_resolver().url_patterns)}
    return sorted(found - {None})


def routes() -> list[str]:
    return [example(regex, lambda address, pattern=pattern: pattern.resolve(address[1:]) is not None)
            for regex, pattern in patterns(websocket_urlpatterns)]


def refused_by_csrf(response) -> bool:  # noqa: ANN001 - a test client's response
    return response.status_code == 403 and b"CSRF" in response.content


@pytest.fixture
def staff_browser(db: None) -> Client:
    browser = Client(enforce_csrf_checks=True)
    # No password: hashing one for each of the walk's cases would cost more than the walk.
    browser.force_login(User.objects.create(username="ops", is_staff=True, is_superuser=True))
    return browser


def test_the_walk_finds_every_endpoint_that_changes_something() -> None:
    found = endpoints()
    assert len(found) > 40  # the admin's included
    for address in ("/api/pulls/", "/api/pulls/1/cancel", "/api/sessions/", "/api/sessions/import", "/login/",
                    "/logout/", "/admin/auth/user/1/delete/", "/admin/auth/user/1/password/"):
        assert address in found
    assert {"/ws/live/", "/ws/inventory/", "/ws/map/"} <= set(routes())


@override_settings(ARCHVIZ_REQUIRE_LOGIN=True, ARCHVIZ_ALLOW_ACTIONS=True)
@pytest.mark.parametrize("address", endpoints())
def test_an_unsafe_request_from_another_site_never_reaches_a_view(staff_browser: Client, address: str) -> None:
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    secret = get_random_string(32)
    for method in UNSAFE:
        without_token = staff_browser.generic(method, address, b"{}", content_type="application/json",
                                              HTTP_ORIGIN=FOREIGN)
        assert refused_by_csrf(without_token), (method, address, without_token.status_code)
        staff_browser.cookies[settings.CSRF_COOKIE_NAME] = secret
        foreign = staff_browser.generic(method, address, b"{}", content_type="application/json",
                                        HTTP_ORIGIN=FOREIGN, HTTP_X_CSRFTOKEN=secret)
        del staff_browser.cookies[settings.CSRF_COOKIE_NAME]
        assert refused_by_csrf(foreign), (method, address, foreign.status_code)
        # The same request from a page of this site passes the check: the refusals above are the CSRF check's.
        own = RequestFactory().generic(method, address, b"{}", HTTP_ORIGIN="http://testserver",
                                       HTTP_X_CSRFTOKEN=secret)
        own.COOKIES[settings.CSRF_COOKIE_NAME] = secret
        check = CsrfViewMiddleware(lambda request: None)
        check.process_request(own)
        assert check.process_view(own, resolve(address).func, (), {}) is None, (method, address)


def test_a_refused_api_call_says_so_in_json(staff_browser: Client) -> None:
    answer = staff_browser.post("/api/pulls/", b"{}", content_type="application/json")
    assert answer.status_code == 403
    assert answer.json()["error"].startswith("CSRF check failed (CSRF cookie not set.): reload the page")


def test_every_webhook_is_outside_django_and_has_a_secret_of_its_own() -> None:
    assert set(hooks.HOOKS) == set(WEBHOOKS)
    for path in WEBHOOKS:
        with pytest.raises(Resolver404):
            resolve(path)


async def post(path: str, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": headers, "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"{}"})
    return (await communicator.receive_output(10))["status"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("path", "setting"), WEBHOOKS.items())
async def test_a_webhook_without_its_secret_is_refused_whatever_cookies_come_with_it(
        staff_browser: Client, path: str, setting: str) -> None:
    session = staff_browser.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [(b"origin", FOREIGN.encode()), (b"content-length", b"2"), (b"content-type", b"application/json"),
               (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}; csrftoken=x".encode())]
    with override_settings(**{setting: "Bearer s3cret" if setting == "ARCHVIZ_HARBOR_AUTH" else "s3cret"}):
        assert await post(path, headers) == 401
        assert await post(path, [*headers, (b"authorization", b"Bearer s3cret")]) == 200
    with override_settings(**{setting: ""}):
        assert await post(path, [*headers, (b"authorization", b"Bearer ")]) == 503


async def opens(route: str, origin: str | None) -> bool:
    headers = [(b"origin", origin.encode())] if origin is not None else []
    communicator = WebsocketCommunicator(application, route, headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", routes())
async def test_a_websocket_opens_only_from_a_page_of_this_site(route: str) -> None:
    assert not await opens(route, FOREIGN)
    assert not await opens(route, f"{FOREIGN}:80")
    assert not await opens(route, "null")  # a sandboxed frame or a file
    assert not await opens(route, None)
    assert await opens(route, OWN)


def test_no_view_is_exempt_from_the_csrf_check() -> None:
    exempt = [regex for regex, pattern in patterns(get_resolver().url_patterns)
              if getattr(pattern.callback, "csrf_exempt", False)]
    assert exempt == []
