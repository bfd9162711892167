"""Metrics from the processes that serve no pages: an operator runs `manage.py watch --metrics 9100` and
`manage.py tap … --metrics 9101`, and Prometheus scrapes what each counted (events stored, by source; the tap's
requests, by method and status class). Loopback unless the operator opts out in so many words: the counts need no
login to be read."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound
from prometheus_client.parser import text_string_to_metric_families

from archviz.exporter import MetricsAddress, metrics_address
from archviz.lab import Lab
from archviz.metrics import tap_request_labels
from tests.conftest import ROOT, dashboard_env, free_port, process_log, start_manage

ACCEPTED = [
    ("9100", MetricsAddress("127.0.0.1", 9100)),
    ("127.0.0.1:9100", MetricsAddress("127.0.0.1", 9100)),
    ("127.8.0.1:1", MetricsAddress("127.8.0.1", 1)),
    ("[::1]:65535", MetricsAddress("::1", 65535)),
    ("localhost:9100", MetricsAddress("localhost", 9100)),
]


@pytest.mark.parametrize(("value", "address"), ACCEPTED)
def test_a_port_alone_or_a_loopback_address_is_taken(value: str, address: MetricsAddress) -> None:
    assert metrics_address(value) == address


def test_off_loopback_needs_the_opt_in_in_so_many_words() -> None:
    with pytest.raises(ValueError, match=r"--metrics '0.0.0.0:9100' is off loopback: whoever reaches it reads this "
                                         r"process's counts without a login. Use 127.0.0.1:9100, or, knowing that, "
                                         r"add --metrics-off-loopback"):
        metrics_address("0.0.0.0:9100")
    assert metrics_address("0.0.0.0:9100", off_loopback=True) == MetricsAddress("0.0.0.0", 9100)
    assert metrics_address("[::]:9100", off_loopback=True).url == "http://[::]:9100/metrics"


@pytest.mark.parametrize(("value", "message"), [
    ("", "give a port"), ("http", "give a port"), ("127.0.0.1:0", "give a port"), ("127.0.0.1:65536", "give a port"),
    ("127.0.0.1:-1", "give a port"), ("127.0.0.1:", "give a port"), (":9100", "is not an IP address"),
    ("metrics.example:9100", "is not an IP address or localhost"), ("10.0.0.1:9100", "is off loopback"),
])
def test_junk_is_refused_saying_what_to_write(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics_address(value)


@pytest.mark.parametrize(("method", "status", "labels"), [
    ("GET", 200, ("GET", "2xx")), ("POST", 101, ("POST", "1xx")), ("HEAD", 404, ("HEAD", "4xx")),
    ("DELETE", 500, ("DELETE", "5xx")), ("BREW", 418, ("other", "4xx")), ("get", 0, ("other", "none")),
    ("GET", 999, ("GET", "none")),
])
def test_a_tapped_request_is_counted_under_bounded_labels(method: str, status: int, labels: tuple[str, str]) -> None:
    assert tap_request_labels(method, status) == labels


def test_watch_refuses_an_address_off_loopback_and_one_it_cannot_bind(tmp_path: Path) -> None:
    env = dashboard_env(tmp_path, "unix:///nonexistent.sock")
    run = subprocess.run([sys.executable, "manage.py", "watch", "--metrics", "0.0.0.0:9100"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "add --metrics-off-loopback" in run.stderr
    run = subprocess.run([sys.executable, "manage.py", "tap", "--listen", f"unix://{tmp_path}/tap.sock", "--upstream",
                          f"unix://{tmp_path}", "--metrics", "10.9.9.9:9100"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "add --metrics-off-loopback" in run.stderr


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the process serves at /metrics, by name and labels (it must be Prometheus' text format)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def eventually(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def scraped(port: int) -> Callable[[], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    def attempt() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        try:
            return scrape(port)
        except OSError:
            return {}
    return attempt


def stopped_cleanly(process: subprocess.Popen[bytes], port: int) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    with pytest.raises(OSError):
        scrape(port)


@pytest.fixture
def migrated(lab: Lab, tmp_path: Path) -> dict[str, str]:
    env = dashboard_env(tmp_path, lab.docker_host)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return env


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.lab
def test_watch_serves_the_events_it_stored_by_source(lab: Lab, migrated: dict[str, str],
                                                     running: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    watcher = start_manage(migrated, "watch", "watch", "--metrics", str(port))
    running.append(watcher)
    daemon = ("archviz_observations_ingested_total", (("source", "daemon"),))
    eventually(lambda: ("archviz_publisher_leading", ()) in scraped(port)(), "the watcher's metrics answer")
    before = scrape(port).get(daemon, 0)
    client = lab.client()
    try:
        client.volumes.create(f"counted-{uuid.uuid4().hex[:6]}").remove()
    finally:
        client.close()
    eventually(lambda: scrape(port).get(daemon, 0) >= before + 2, "the volume's create and destroy counted")
    metrics = scrape(port)
    assert metrics[("archviz_observations_ingested_total", (("source", "watcher"),))] >= 1  # its link's state
    assert metrics[("archviz_publisher_leading", ())] == 0  # no Redis: a `serve` on the same database publishes
    assert f"metrics at http://127.0.0.1:{port}/metrics" in process_log(migrated, "watch").read_text()
    stopped_cleanly(watcher, port)


@pytest.mark.lab
def test_tap_serves_its_clients_requests_by_method_and_status(lab: Lab, migrated: dict[str, str], tmp_path: Path,
                                                               running: list[subprocess.Popen[bytes]]) -> None:
    port, listen = free_port(), f"unix://{tmp_path}/tap.sock"
    tap = start_manage(migrated, "tap", "tap", "--listen", listen, "--metrics", f"127.0.0.1:{port}")
    running.append(tap)
    eventually(lambda: (tmp_path / "tap.sock").exists() and bool(scraped(port)()), "the tap and its metrics answer")
    client = docker.DockerClient(base_url=listen, version="1.41", timeout=10)
    try:
        for _ in range(3):
            client.ping()
        with pytest.raises(NotFound):
            client.containers.get(f"missing-{uuid.uuid4().hex[:6]}")
    finally:
        client.close()
    requests = ("archviz_tap_requests_total", (("method", "GET"), ("status", "2xx")))
    missing = ("archviz_tap_requests_total", (("method", "GET"), ("status", "4xx")))
    eventually(lambda: scrape(port).get(requests, 0) >= 3 and scrape(port).get(missing, 0) == 1,
               "three pings and one missing container counted")
    eventually(lambda: scrape(port).get(("archviz_observations_ingested_total", (("source", "tap"),)), 0) >= 4,
               "the tap's observations of them stored and counted")
    assert scrape(port)[("archviz_publisher_leading", ())] == 0  # the tap never publishes
    stopped_cleanly(tap, port)
