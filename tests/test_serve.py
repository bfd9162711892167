from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from archviz.management.commands.serve import is_loopback
from tests.conftest import ROOT, dashboard_env, free_port, process_log, start_serve


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "localhost", "::1", "[::1]"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org", ""])
def test_every_other_address_counts_as_off_loopback(host: str) -> None:
    assert not is_loopback(host)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_binding_off_loopback_forces_a_login_on_every_page(tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = start_serve(port, env, "--host", "0.0.0.0", "--no-watch")
    try:
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(f"http://127.0.0.1:{port}/")
        assert redirect.value.code == 302
        assert redirect.value.headers["Location"] == "/login/?next=/"
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert "every page and socket now requires a login" in process_log(env, f"serve-{port}").read_text()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ARCHVIZ_SNAPSHOT_SIZE", "-5", "ARCHVIZ_SNAPSHOT_SIZE=-5 is out of range"),
        ("ARCHVIZ_REQUIRE_LOGIN", "sometimes", "ARCHVIZ_REQUIRE_LOGIN='sometimes' is not a boolean"),
        ("ARCHVIZ_LOGIN_WINDOW", "5", "ARCHVIZ_LOGIN_WINDOW=5 is out of range: it must be between 10 and 86400"),
        ("DATABASE_URL", "oracle://db/x", "DATABASE_URL scheme 'oracle' is not supported"),
    ],
)
def test_a_misconfigured_dashboard_stops_with_one_plain_line(tmp_path: Path, variable: str, value: str,
                                                             message: str) -> None:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock") | {variable: value}
    result = subprocess.run([sys.executable, "manage.py", "serve", "--port", str(free_port())], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"archviz is misconfigured: {message}")
    assert "Traceback" not in result.stderr


def test_the_lab_ping_says_why_no_daemon_answers(tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, "tcp://127.0.0.1:9")
    result = subprocess.run([sys.executable, "manage.py", "lab", "ping"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "tcp://127.0.0.1:9: cannot connect: connection refused" in result.stderr
