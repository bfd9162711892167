"""Who may pull from the dashboard, and what a pull request must look like."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    return client


@pytest.fixture
def member(client: Client) -> Client:
    client.force_login(User.objects.create_user("member", password="x"))
    return client


def pull(client: Client, body: object) -> tuple[int, dict]:
    response = client.post("/api/pulls/", data=json.dumps(body) if not isinstance(body, bytes) else body,
                           content_type="application/json")
    return response.status_code, response.json()


@override_settings(ARCHVIZ_ALLOW_ACTIONS=True)
def test_anonymous_and_non_staff_users_get_a_403_and_no_pull_form(client: Client) -> None:
    assert pull(client, {"reference": "lab/app:1"}) == (403, {"error": "log in as a staff user to pull images "
                                                                       "(/login/)"})
    assert 'id="pull-form"' not in client.get("/inventory/").content.decode()
    client.force_login(User.objects.create_user("member", password="x"))
    assert pull(client, {"reference": "lab/app:1"}) == (403, {"error": "only staff users may pull images"})
    page = client.get("/inventory/").content.decode()
    assert 'id="pull-form"' not in page and "only staff users may pull images" in page
    assert client.post("/api/pulls/pull-1/cancel").status_code == 403


@override_settings(ARCHVIZ_ALLOW_ACTIONS=False)
def test_with_actions_off_even_staff_get_a_403_naming_the_setting(staff: Client) -> None:
    status, answer = pull(staff, {"reference": "lab/app:1"})
    assert status == 403 and "ARCHVIZ_ALLOW_ACTIONS=1" in answer["error"]
    assert 'id="pull-form"' not in staff.get("/inventory/").content.decode()


@override_settings(ARCHVIZ_ALLOW_ACTIONS=True)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"reference": "UPPER/Case"}, "repository names must be lowercase"),
        ({"reference": "a::b"}, "is not a valid image reference"),
        ({"reference": "x" * 300}, "Docker allows at most 255"),
        ({"reference": ""}, "type an image reference"),
        ({"reference": 5}, 'a "reference" string'),
        ({"reference": "lab/app", "password": ["x"]}, 'a "reference" string'),
        (["lab/app"], 'a "reference" string'),
        (b"not json", "send JSON"),
    ],
)
def test_bad_pull_requests_are_refused_with_a_reason(staff: Client, body: object, message: str) -> None:
    status, answer = pull(staff, body)
    assert status == 400 and message in answer["error"]


@override_settings(ARCHVIZ_ALLOW_ACTIONS=True)
def test_a_huge_pull_request_is_refused(staff: Client) -> None:
    status, answer = pull(staff, {"reference": "lab/app", "password": "x" * 10_000})
    assert status == 413


@override_settings(ARCHVIZ_ALLOW_ACTIONS=True)
def test_cancelling_an_unknown_pull_says_so(staff: Client) -> None:
    response = staff.post("/api/pulls/pull-999999/cancel")
    assert response.status_code == 404 and "no running pull" in response.json()["error"]


@override_settings(ARCHVIZ_ALLOW_ACTIONS=True)
def test_a_pull_request_needs_the_csrf_token(staff: Client) -> None:
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(User.objects.get(username="ops"))
    response = checked.post("/api/pulls/", data=json.dumps({"reference": "lab/app"}), content_type="application/json")
    assert response.status_code == 403
