"""archviz behind a reverse proxy. The people here: the proxy (a trusted address, named in ARCHVIZ_TRUSTED_PROXIES),
the clients it forwards for, and a spoofer who writes X-Forwarded-For (and X-Forwarded-Proto) itself, directly or
through the proxy, to dodge the login page's count or to look like HTTPS. Only what a trusted proxy appended is
believed: the rightmost hop that is not a trusted proxy is the client."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from archviz import logins
from archviz.middleware import behind_proxy
from archviz.models import RefusedDelivery
from archviz.proxies import client_address, forwarded_for, trusted_proxies
from dashboard.asgi import application

PROXY = "10.0.0.2"
PROXIES = trusted_proxies(["10.0.0.0/24", "::1"])
ATTEMPTS = 3
NAMES = itertools.count()

SEEN = [
    # (peer, X-Forwarded-For, the client), with 10.0.0.0/24 and ::1 trusted
    ("198.51.100.4", None, "198.51.100.4"),
    ("198.51.100.4", "203.0.113.7", "198.51.100.4"),  # not a proxy: its header is its own word
    (PROXY, None, PROXY),
    (PROXY, "", PROXY),
    (PROXY, "203.0.113.7", "203.0.113.7"),
    (PROXY, "1.1.1.1, 203.0.113.7", "203.0.113.7"),  # the client wrote the left part itself
    (PROXY, "1.1.1.1,203.0.113.7", "203.0.113.7"),
    (PROXY, "203.0.113.7, 10.0.0.3", "203.0.113.7"),  # two proxies: the second's hop is skipped
    (PROXY, "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # every hop a proxy: the farthest one
    (PROXY, "203.0.113.7, junk", PROXY),  # junk where the client should be: the proxy stands for it
    (PROXY, "1.1.1.1, 203.0.113.7, junk", PROXY),
    (PROXY, "junk, 203.0.113.7", "203.0.113.7"),
    (PROXY, "203.0.113.7:51000", "203.0.113.7"),
    (PROXY, "[2001:db8::7]:443", "2001:db8::7"),
    (PROXY, "2001:DB8:0::7", "2001:db8::7"),  # one spelling, one key
    (PROXY, "::ffff:203.0.113.7", "203.0.113.7"),
    ("::ffff:10.0.0.2", "203.0.113.7", "203.0.113.7"),
    ("::1", "203.0.113.7", "203.0.113.7"),
    ("", "203.0.113.7", ""),  # a unix socket's peer has no address
]


@pytest.mark.parametrize(("peer", "header", "client"), SEEN)
def test_the_client_is_the_rightmost_hop_no_trusted_proxy_wrote(peer: str, header: str | None, client: str) -> None:
    assert client_address(peer, header, PROXIES) == client


def test_without_trusted_proxies_every_header_is_ignored() -> None:
    assert client_address(PROXY, "203.0.113.7", ()) == PROXY


def test_trusted_proxies_are_read_as_addresses_and_networks() -> None:
    assert trusted_proxies(["10.0.0.5", "10.0.0.0/24", "fd00::/64", "::1"]) == (
        ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/64"),
        ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(("entry", "message"), [
    ("10.0.0.1/24", "has bits set past its prefix: write the network as 10.0.0.0/24"),
    ("0.0.0.0/0", "trusts every address, so any client could name its own address"),
    ("::/0", "trusts every address"),
    ("proxy.example", "is not an address or a network"),
    ("10.0.0.300", "is not an address or a network"),
    ("10.0.0.0/33", "is not an address or a network"),
])
def test_junk_is_refused_saying_what_to_write(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trusted_proxies([entry])


def test_repeated_asgi_headers_are_read_in_order() -> None:
    headers = [(b"X-Forwarded-For", b"1.1.1.1"), (b"host", b"x"), (b"x-forwarded-for", b"203.0.113.7")]
    assert forwarded_for(headers) == "1.1.1.1,203.0.113.7"


# The login page's count, through the whole Django stack --------------------------------------------------------

@pytest.fixture
def counting() -> Iterator[None]:
    cache.clear()
    with override_settings(ARCHVIZ_REQUIRE_LOGIN=True, ARCHVIZ_LOGIN_ATTEMPTS=ATTEMPTS, ARCHVIZ_LOGIN_WINDOW=600,
                           ARCHVIZ_TRUSTED_PROXIES=PROXIES):
        yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logins, "time", SimpleNamespace(time=lambda: 1_699_956_000.0))


def guess(peer: str, forwarded: str | None = None) -> int:
    """A failed login from `peer` (for a user name of its own: only the address is counted), with the proxy headers
    given; the answer's status."""
    client = Client(enforce_csrf_checks=True)
    headers = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    client.get("/login/", **headers)
    form = {"username": f"nobody-{next(NAMES)}", "password": "guess",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    return client.post("/login/", form, **headers).status_code


@pytest.mark.django_db
@pytest.mark.usefixtures("counting", "clock")
def test_a_spoofer_writing_its_own_header_is_counted_under_its_own_address() -> None:
    statuses = [guess("198.51.100.4", f"203.0.113.{n}") for n in range(ATTEMPTS + 1)]
    assert statuses == [200] * ATTEMPTS + [429]


@pytest.mark.django_db
@pytest.mark.usefixtures("counting", "clock")
def test_behind_the_proxy_each_client_is_counted_apart() -> None:
    assert [guess(PROXY, "203.0.113.7") for _ in range(ATTEMPTS + 1)] == [200] * ATTEMPTS + [429]
    # Another client of the same proxy is not held up by the first; the proxy itself is no one's stand-in.
    assert guess(PROXY, "203.0.113.8") == 200
    assert guess(PROXY, "198.51.100.99, 203.0.113.7") == 429  # prepending a fake hop changes nothing


@pytest.mark.django_db
@pytest.mark.usefixtures("counting", "clock")
def test_a_client_behind_the_proxy_cannot_dodge_the_count_with_junk() -> None:
    assert [guess(PROXY, f"203.0.113.7, junk{n}") for n in range(ATTEMPTS + 1)] == [200] * ATTEMPTS + [429]


def test_the_headers_reach_no_view_from_anyone_but_a_trusted_proxy() -> None:
    seen: list[dict[str, str]] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append({key: value for key, value in request.META.items()
                     if key == "REMOTE_ADDR" or key.startswith("HTTP_X_FORWARDED")})
        return HttpResponse()

    through = behind_proxy(view)
    with override_settings(ARCHVIZ_TRUSTED_PROXIES=PROXIES):
        through(RequestFactory().get("/", REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="203.0.113.7",
                                     HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="evil.example",
                                     HTTP_X_FORWARDED_PORT="443"))
        through(RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7",
                                     HTTP_X_FORWARDED_PROTO="https"))
    spoofed, proxied = seen
    assert spoofed == {"REMOTE_ADDR": "198.51.100.4"}
    assert proxied == {"REMOTE_ADDR": "203.0.113.7", "HTTP_X_FORWARDED_FOR": "203.0.113.7",
                       "HTTP_X_FORWARDED_PROTO": "https"}


# The registry webhook, which records who sent what it refused -------------------------------------------------

async def refused_delivery(peer: str, forwarded: str) -> None:
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/hooks/registry/",
             "raw_path": b"/hooks/registry/", "query_string": b"", "client": (peer, 51234),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"content-length", b"2"), (b"x-forwarded-for", forwarded.encode())]}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"{}"})
    assert (await communicator.receive_output(10))["status"] == 401
    await communicator.receive_output(10)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_webhook_records_the_sender_as_the_login_page_counts_it() -> None:
    with override_settings(ARCHVIZ_REGISTRY_TOKEN="t", ARCHVIZ_TRUSTED_PROXIES=PROXIES):
        await refused_delivery(PROXY, "1.1.1.1, 203.0.113.7")
        await refused_delivery("198.51.100.4", "203.0.113.9")
    senders = [row.sender async for row in RefusedDelivery.objects.order_by("sender")]
    assert senders == ["198.51.100.4", "203.0.113.7"]
