"""Logging in and out with ARCHVIZ_REQUIRE_LOGIN, through the whole Django stack with CSRF checks on: a page that
needs a login sends you to /login/ and back; a guesser is answered 429 and told when to try again, per client
address and per user name, whatever they send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings

from archviz import logins
from dashboard.env import cache as cache_settings
from tests.conftest import free_port

PASSWORD = "correct horse battery staple"
ATTEMPTS = 3
WINDOW = 600
ADDRESS = "192.0.2.1"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]


@pytest.fixture
def clean_cache() -> Iterator[None]:
    cache.clear()
    with override_settings(ARCHVIZ_REQUIRE_LOGIN=True, ARCHVIZ_LOGIN_ATTEMPTS=ATTEMPTS, ARCHVIZ_LOGIN_WINDOW=WINDOW):
        yield
    cache.clear()


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The login page's clock, at 10:00:00 UTC of a day, in the first second of a window."""
    now = SimpleNamespace(value=1_699_956_000.0)
    assert now.value % WINDOW == 0
    monkeypatch.setattr(logins, "time", SimpleNamespace(time=lambda: now.value))
    return now


def log_in(client: Client, username: str, password: str, address: str = ADDRESS, **fields: str):  # noqa: ANN201
    """What a browser does: open the login page, then send its form back with the CSRF token it was given."""
    client.get("/login/", REMOTE_ADDR=address)
    form = {"username": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
            **fields}
    return client.post("/login/", form, REMOTE_ADDR=address)


def logged_in(client: Client) -> bool:
    return client.get("/api/inventory/").status_code == 200


def test_a_page_that_needs_a_login_sends_you_to_the_login_page_and_back(browser: Client, alice: User) -> None:
    assert browser.get("/inventory/?host=x").headers["Location"] == "/login/?next=/inventory/%3Fhost%3Dx"
    page = browser.get("/login/?next=/inventory/%3Fhost%3Dx")
    assert page.status_code == 200
    assert 'name="next" value="/inventory/?host=x"' in page.content.decode()
    answer = log_in(browser, "alice", PASSWORD, next="/inventory/?host=x")
    assert (answer.status_code, answer.headers["Location"]) == (302, "/inventory/?host=x")
    assert logged_in(browser)


def test_the_admins_login_is_the_same_page(browser: Client) -> None:
    assert browser.get("/admin/").headers["Location"] == "/admin/login/?next=/admin/"
    assert browser.get("/admin/login/?next=/admin/").headers["Location"] == "/login/?next=/admin/"


def test_a_next_page_on_another_site_is_not_followed(browser: Client, alice: User) -> None:
    answer = log_in(browser, "alice", PASSWORD, next="https://evil.example/")
    assert answer.headers["Location"] == "/"


def test_a_logged_in_user_sees_their_name_and_a_logout_button_that_logs_them_out(browser: Client,
                                                                                  alice: User) -> None:
    log_in(browser, "alice", PASSWORD)
    page = browser.get("/map/").content.decode()
    header = page.split('<header class="topbar">', 1)[1].split("</header>", 1)[0]
    assert '<span class="account-name" title="logged in">alice</span>' in header
    assert re.search(r'<form class="account" method="post" action="/logout/">', header)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', header).group(1)

    assert browser.get("/logout/").status_code == 405  # a link or an image cannot log anyone out
    assert browser.post("/logout/", {"next": "/map/"}).status_code == 403  # nor a form on another site
    assert logged_in(browser)
    answer = browser.post("/logout/", {"next": "/map/", "csrfmiddlewaretoken": token})
    assert answer.headers["Location"] == "/map/"
    assert not logged_in(browser)
    assert browser.get("/map/").headers["Location"] == "/login/?next=/map/"


def test_without_login_required_an_anonymous_visitor_gets_a_login_link(browser: Client) -> None:
    with override_settings(ARCHVIZ_REQUIRE_LOGIN=False):
        page = browser.get("/registry/").content.decode()
    assert '<a class="account" href="/login/?next=/registry/">log in</a>' in page
    assert "log out" not in page


def test_a_wrong_password_says_so_and_keeps_you_out(browser: Client, alice: User) -> None:
    answer = log_in(browser, "alice", "wrong")
    assert answer.status_code == 200
    assert "Please enter a correct username and password" in answer.content.decode()
    assert not logged_in(browser)


def test_an_address_that_failed_too_often_is_told_when_to_try_again(browser: Client, alice: User,
                                                                    clock: SimpleNamespace) -> None:
    for guess in range(ATTEMPTS):
        assert log_in(browser, f"user{guess}", "guess").status_code == 200
    clock.value += 60
    refused = log_in(browser, "alice", PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(WINDOW - 60)
    assert ("Too many failed logins from your address: try again in 9 minutes (at 10:10 UTC)."
            in refused.content.decode())
    assert not logged_in(browser)
    # Someone else, from another address, is not held up.
    assert log_in(Client(enforce_csrf_checks=True), "alice", PASSWORD, address="198.51.100.7").status_code == 302
    # The next window lets the address try again.
    clock.value += WINDOW - 60
    assert log_in(browser, "alice", PASSWORD).status_code == 302


def test_a_user_name_guessed_from_many_addresses_is_held_whatever_its_case(alice: User,
                                                                          clock: SimpleNamespace) -> None:
    for guess in range(ATTEMPTS):
        assert log_in(Client(enforce_csrf_checks=True), "alice", f"guess{guess}", address=f"203.0.113.{guess}"
                      ).status_code == 200
    clock.value += WINDOW - 30
    for name in ("alice", "ALICE"):
        refused = log_in(Client(enforce_csrf_checks=True), name, PASSWORD, address="198.51.100.9")
        assert refused.status_code == 429
        assert "for this user name: try again in 30 seconds (at 10:10:00 UTC)" in refused.content.decode()
    User.objects.create_user("bob", password=PASSWORD)
    assert log_in(Client(enforce_csrf_checks=True), "bob", PASSWORD, address="198.51.100.9").status_code == 302


HOSTILE_FORMS = {
    "a very long user name": {"username": "a" * 100_000, "password": "x"},
    "a user name with a NUL": {"username": "alice\x00", "password": PASSWORD},
    "no fields at all": {},
    "no password": {"username": "alice"},
    "a list for a name": {"username": ["alice", "bob"], "password": "x"},
}


@pytest.mark.parametrize("form", HOSTILE_FORMS.values(), ids=HOSTILE_FORMS.keys())
def test_hostile_forms_are_failed_attempts_never_errors(browser: Client, alice: User, form: dict) -> None:
    for _ in range(ATTEMPTS):
        browser.get("/login/")
        answer = browser.post("/login/", {**form, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
                              REMOTE_ADDR=ADDRESS)
        assert answer.status_code == 200
        assert 'role="alert"' in answer.content.decode()
    assert not logged_in(browser)
    assert log_in(browser, "alice", PASSWORD).status_code == 429


@pytest.mark.parametrize("body", [b"username=%FF%FEalice&password=x", b"username=\xff\xfe\x80&password=\xc3"])
def test_bytes_that_are_not_utf8_are_a_failed_attempt(browser: Client, alice: User, body: bytes) -> None:
    browser.get("/login/")
    token = browser.cookies["csrftoken"].value
    for _ in range(ATTEMPTS):
        answer = browser.generic("POST", "/login/", body + f"&csrfmiddlewaretoken={token}".encode(),
                                 content_type="application/x-www-form-urlencoded", REMOTE_ADDR=ADDRESS)
        assert answer.status_code == 200
    assert log_in(browser, "alice", PASSWORD).status_code == 429


def test_a_body_that_is_not_a_form_is_a_failed_attempt(browser: Client, alice: User) -> None:
    browser.get("/login/")
    answer = browser.generic("POST", "/login/", b"\x00\xff{]", content_type="multipart/form-data; boundary=x",
                             HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert answer.status_code == 200
    assert 'Give a user name and a password.' in answer.content.decode()
    assert not logged_in(browser)


def test_a_login_without_the_form_token_is_refused_and_not_counted(browser: Client, alice: User) -> None:
    for _ in range(ATTEMPTS + 1):
        assert browser.post("/login/", {"username": "alice", "password": "x"}).status_code == 403
    assert log_in(browser, "alice", PASSWORD).status_code == 302


def test_while_the_cache_is_down_no_login_is_tried(browser: Client, alice: User) -> None:
    with override_settings(CACHES={"default": cache_settings(f"redis://127.0.0.1:{free_port()}/0")}):
        answer = log_in(browser, "alice", PASSWORD)
    assert answer.status_code == 503
    assert "Logins cannot be counted right now (the cache, Redis, does not answer)" in answer.content.decode()
    assert not logged_in(browser)


@pytest.mark.scaleout
def test_with_redis_every_web_process_counts_the_same_failures(alice: User, redis) -> None:  # noqa: ANN001
    with override_settings(CACHES={"default": cache_settings(redis.url)}):
        for guess in range(ATTEMPTS):
            # Each attempt on a client of its own, as if each reached another web process.
            assert log_in(Client(enforce_csrf_checks=True), "alice", f"guess{guess}").status_code == 200
        assert log_in(Client(enforce_csrf_checks=True), "alice", PASSWORD).status_code == 429
