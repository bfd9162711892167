"""`--metrics [HOST:]PORT` for the processes that serve no pages (`watch`, `tap`): what they count
(archviz.metrics), in Prometheus' text format, on a port of their own.

1. Read the address (`metrics_address`): a port alone means 127.0.0.1; a host must be loopback unless the
   operator says otherwise in so many words (`--metrics-off-loopback`): the counts need no login to be read.
2. Serve `GET /metrics` (prometheus_client's own server, in a thread of its own) until the command stops it.
"""

from __future__ import annotations

import ipaddress
from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import start_http_server

from archviz.metrics import LEADING
from archviz.tap.listen import is_loopback

OFF_LOOPBACK = "--metrics-off-loopback"
OPTION_HELP = ("serve Prometheus metrics at [HOST:]PORT (GET /metrics; HOST defaults to 127.0.0.1, and off loopback "
               f"needs {OFF_LOOPBACK})")
OFF_LOOPBACK_HELP = ("allow --metrics on an address off loopback: whoever reaches it reads this process's counts, "
                     "without a login")


@dataclass(frozen=True)
class MetricsAddress:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


def metrics_address(value: str, *, off_loopback: bool = False) -> MetricsAddress:
    """`PORT`, `HOST:PORT` or `[IPV6]:PORT`; ValueError naming what to write (or the opt-in) instead."""
    host, colon, port = value.strip().rpartition(":")
    host = host.strip("[]") if colon else "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--metrics {value!r}: give a port (1-65535), as in --metrics 9100 or "
                         "--metrics 127.0.0.1:9100")
    if not _is_address(host):
        raise ValueError(f"--metrics {value!r}: {host!r} is not an IP address or localhost")
    if not is_loopback(host) and not off_loopback:
        raise ValueError(f"--metrics {value!r} is off loopback: whoever reaches it reads this process's counts "
                         f"without a login. Use 127.0.0.1:{port}, or, knowing that, add {OFF_LOOPBACK}")
    return MetricsAddress(host, int(port))


def add_metrics_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--metrics", default=None, metavar="[HOST:]PORT", help=OPTION_HELP)
    parser.add_argument(OFF_LOOPBACK, action="store_true", help=OFF_LOOPBACK_HELP)


def start_exporter(address: MetricsAddress | None, leading: Callable[[], bool]) -> Callable[[], None]:
    """Serve the metrics at `address` (nothing when None) from now on; return what stops it. ValueError when the
    address cannot be bound. `leading` says, at each scrape, whether this process publishes."""
    if address is None:
        return lambda: None
    LEADING.set_function(lambda: 1.0 if leading() else 0.0)
    try:
        server, thread = start_http_server(address.port, address.host)
    except OSError as error:
        raise ValueError(f"--metrics {address.host}:{address.port}: {error.strerror or error}") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop


def _is_address(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
