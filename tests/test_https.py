"""ARCHVIZ_HTTPS=1 behind a TLS proxy, with a real `serve`: cookies only over HTTPS, HSTS on HTTPS answers, plain HTTP
redirected, and the probes still answered over plain HTTP; what came over HTTPS is known only from a trusted proxy's
X-Forwarded-Proto (the proxy here connects from 127.0.0.2; anyone else connects from 127.0.0.1). `manage.py check
--deploy` is quiet once the settings are whole."""

from __future__ import annotations

import http.client
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, dashboard_env, free_port, start_serve

PROXY = "127.0.0.2"


def deploy_warnings(tmp_path: Path, **settings: str) -> set[str]:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | settings
    run = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    return {word.strip("():") for word in (run.stdout + run.stderr).split() if word.startswith("(security.")}


def test_check_deploy_is_quiet_once_https_and_the_proxies_are_set(tmp_path: Path) -> None:
    assert deploy_warnings(tmp_path) == {"security.W004", "security.W008", "security.W012", "security.W016"}
    # Without a trusted proxy archviz cannot tell HTTPS requests apart: the proxy must redirect plain HTTP itself.
    assert deploy_warnings(tmp_path, ARCHVIZ_HTTPS="1") == {"security.W008"}
    assert deploy_warnings(tmp_path, ARCHVIZ_HTTPS="1", ARCHVIZ_TRUSTED_PROXIES=PROXY) == set()


def test_junk_in_the_proxy_list_stops_start_up_saying_what_to_write(tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | {"ARCHVIZ_TRUSTED_PROXIES": "10.0.0.1/8"}
    run = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert ("archviz is misconfigured: ARCHVIZ_TRUSTED_PROXIES: '10.0.0.1/8' has bits set past its prefix: write the "
            "network as 10.0.0.0/8") in run.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | {
        "ARCHVIZ_HTTPS": "1", "ARCHVIZ_TRUSTED_PROXIES": PROXY, "ARCHVIZ_HSTS_SECONDS": "3600"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = start_serve(port, env, "--no-watch")
    yield port
    server.terminate()
    server.wait(timeout=15)


def get(port: int, path: str, source: str, headers: dict[str, str] | None = None, body: str | None = None
        ) -> http.client.HTTPResponse:
    """GET `path` (POST `body`) from the loopback address `source`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    connection.request("GET" if body is None else "POST", path, body=body,
                       headers={"Host": "127.0.0.1", **(headers or {})})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_through_the_proxy_https_answers_carry_hsts_and_secure_cookies(served: int) -> None:
    page = get(served, "/login/", PROXY, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=3600"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=") and "; Secure" in cookie


def test_a_login_form_from_the_https_page_passes_the_csrf_check_without_trusted_origins(served: int) -> None:
    through_proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    page = get(served, "/login/", PROXY, through_proxy)
    token = page.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    form = f"username=alice&password=wrong&csrfmiddlewaretoken={token}"
    posted = {**through_proxy, "Cookie": f"csrftoken={token}", "Content-Type": "application/x-www-form-urlencoded"}
    answer = get(served, "/login/", PROXY, {**posted, "Origin": "https://127.0.0.1"}, form)
    assert answer.status == 200  # the form again, saying the password is wrong: past the CSRF check
    assert get(served, "/login/", PROXY, {**posted, "Origin": "https://evil.example"}, form).status == 403


def test_plain_http_is_redirected_to_https_but_the_probes_answer(served: int) -> None:
    plain = get(served, "/login/", PROXY, {"X-Forwarded-For": "203.0.113.7"})
    assert (plain.status, plain.headers["Location"]) == (301, "https://127.0.0.1/login/")
    assert "Strict-Transport-Security" not in plain.headers
    for probe in ("/healthz", "/readyz", "/metrics", "/api/health"):
        assert get(served, probe, "127.0.0.1").status in (200, 503), probe  # /readyz: no watcher here


def test_a_client_that_claims_https_itself_is_not_believed(served: int) -> None:
    spoofed = get(served, "/login/", "127.0.0.1", {"X-Forwarded-Proto": "https"})
    assert (spoofed.status, spoofed.headers["Location"]) == (301, "https://127.0.0.1/login/")
    assert "Strict-Transport-Security" not in spoofed.headers
