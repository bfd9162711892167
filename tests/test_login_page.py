"""The login page in Debian's Chromium, against `manage.py serve` with ARCHVIZ_REQUIRE_LOGIN: a teacher opens the
inventory, is sent to log in and back, sees their name in the header and logs out; a guesser is told to wait."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, dashboard_env, webhook_dashboard

pytestmark = pytest.mark.browser
PASSWORD = "chalk-and-talk"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[str]:
    """`serve` requiring a login, with a staff user `teacher` and two failed attempts allowed per window."""
    settings = {"ARCHVIZ_REQUIRE_LOGIN": "1", "ARCHVIZ_LOGIN_ATTEMPTS": "2", "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    with webhook_dashboard(tmp_path, "no-registry-here", settings) as url:
        subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "teacher",
                        "--email", "teacher@example.org"], cwd=ROOT, check=True, capture_output=True,
                       env=dashboard_env(tmp_path, "unix:///nonexistent.sock") | settings)
        yield url


def test_a_teacher_is_sent_to_log_in_comes_back_and_logs_out(chromium, guarded: str) -> None:  # noqa: ANN001
    page = chromium.new_page()
    page.goto(f"{guarded}/inventory/")
    assert page.url == f"{guarded}/login/?next=/inventory/"
    assert page.locator("header .account").count() == 0  # nobody is logged in, and this is the way in
    page.fill("#id_username", "teacher")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{guarded}/inventory/")
    page.wait_for_selector("#link-state[data-state=live]")  # the socket is let in with the same login
    assert page.locator("header .account-name").text_content() == "teacher"

    page.click("header .account button")
    page.wait_for_url(f"{guarded}/login/?next=/inventory/")
    page.goto(f"{guarded}/map/")
    assert page.url == f"{guarded}/login/?next=/map/"
    page.close()


def test_a_guesser_is_told_when_to_try_again_and_the_right_password_waits_too(chromium, guarded: str) -> None:  # noqa: ANN001
    page = chromium.new_page()
    page.goto(f"{guarded}/login/")
    for guess in ("apple", "banana"):
        page.fill("#id_username", "teacher")
        page.fill("#id_password", guess)
        page.click("#login-form button[type=submit]")
        assert "Please enter a correct username and password" in page.locator("#login-error").text_content()
    page.fill("#id_password", PASSWORD)
    with page.expect_response(f"{guarded}/login/") as answer:
        page.click("#login-form button[type=submit]")
    assert answer.value.status == 429
    said = page.locator("#login-refused").text_content()
    assert said.startswith("Too many failed logins from your address: try again in ")
    assert page.locator("header .account-name").count() == 0
    page.close()
