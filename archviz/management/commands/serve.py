"""`manage.py serve`: the whole dashboard in one process.

1. Refuse to serve off loopback without a login: binding elsewhere forces ARCHVIZ_REQUIRE_LOGIN on.
2. With ARCHVIZ_TAP_SOCKET, read where the API tap listens and its ARCHVIZ_TAP_TLS_* files by the same rules as
   `manage.py tap` (TCP only with TLS, or on loopback with ARCHVIZ_TAP_INSECURE_LOOPBACK, and then a warning), so
   a bad value stops serve before anything starts.
3. Build the ASGI application (HTTP and websockets) and hand it to daphne.
4. Once daphne's event loop exists, start a daemon watcher per watched daemon (ARCHVIZ_DOCKER_HOSTS, or DOCKER_HOST)
   (and the API tap) in it, so that they publish on
   the same loop that serves the websockets (the in-memory channel layer is not thread-safe), the publisher's
   loop (archviz.publisher): whichever process leads publishes what every process stores, and on SQLite the
   checkpointer (archviz.checkpoints) and the registry webhook's catch-up (the Observations of events stored just
   before the last stop: archviz.audit.writer).
5. On SIGTERM or Ctrl-C daphne stops the loop; the watcher and the publisher are stopped first.
"""

from __future__ import annotations

import asyncio
import gc
from functools import partial
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from archviz.audit.writer import start_catching_up
from archviz.checkpoints import Checkpointer
from archviz.daemons import checked_watched_hosts, docker_host
from archviz.management.commands.tap import how_to_connect, unix_path
from archviz.publisher import PUBLISHER
from archviz.tap.listen import Names, TcpAddress, is_loopback, listen_at, plain_tcp_warning, url
from archviz.tap.proxy import Tap
from archviz.watcher import DaemonWatcher

# The largest websocket message serve sends or takes (a live snapshot of 5,000 observations is about 1.2 MB).
WEBSOCKET_MESSAGE_LIMIT = 32 * 1024 * 1024

SETTINGS = Names(address="ARCHVIZ_TAP_SOCKET", ca="ARCHVIZ_TAP_TLS_CA", cert="ARCHVIZ_TAP_TLS_CERT",
                 key="ARCHVIZ_TAP_TLS_KEY", insecure="ARCHVIZ_TAP_INSECURE_LOOPBACK=1")


def configured_tap() -> Tap | None:
    """The tap the settings ask for, or None; CommandError when they ask for one that must not run."""
    tls = (settings.ARCHVIZ_TAP_TLS_CA, settings.ARCHVIZ_TAP_TLS_CERT, settings.ARCHVIZ_TAP_TLS_KEY)
    if not settings.ARCHVIZ_TAP_SOCKET:
        if any(tls):
            raise CommandError("ARCHVIZ_TAP_TLS_* is set but ARCHVIZ_TAP_SOCKET is not: set it to tcp://HOST:PORT "
                               "to run the API tap with TLS")
        return None
    try:
        listen = listen_at(settings.ARCHVIZ_TAP_SOCKET, *tls, SETTINGS,
                           insecure_loopback=settings.ARCHVIZ_TAP_INSECURE_LOOPBACK)
    except ValueError as error:
        raise CommandError(str(error)) from None
    tap = Tap(listen, unix_path(docker_host(), "DOCKER_HOST"))
    if not tap.upstream.exists():
        raise CommandError(f"ARCHVIZ_TAP_SOCKET is set but there is no daemon socket at {tap.upstream}")
    return tap


class Command(BaseCommand):
    help = "Serve the dashboard (HTTP and websockets) and watch the Docker daemon, in one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
        parser.add_argument("--no-watch", action="store_true", help="serve only; run `watch` elsewhere")

    def handle(self, *args: Any, host: str, port: int, no_watch: bool, **options: Any) -> None:
        # daphne.server installs Twisted's asyncio reactor on import: import it before anything else
        # touches Twisted.
        from channels.routing import get_default_application
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import reactor

        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1-65535)")
        if not is_loopback(host) and not settings.ARCHVIZ_REQUIRE_LOGIN:
            settings.ARCHVIZ_REQUIRE_LOGIN = True
            self.stdout.write(f"Binding {host}, off loopback: every page and socket now requires a login "
                              "(create one with: python manage.py createsuperuser).")

        try:
            watchers = [] if no_watch else [DaemonWatcher(host.address) for host in checked_watched_hosts()]
        except ValueError as error:
            raise CommandError(str(error)) from None
        tap = configured_tap()
        checkpointer = Checkpointer()
        running: list[asyncio.Task[Any]] = []  # held here: the event loop keeps tasks only weakly

        async def start_tap(tap: Tap) -> None:
            try:
                await tap.start()
            except OSError as error:  # the port is taken, the folder missing: serve goes on without the tap
                self.stderr.write(f"The API tap cannot listen on {url(tap.listen)}: {error.strerror or error}")
            else:
                self.stdout.write(f"The API tap listens on {url(tap.listen)}: point clients at it with "
                                  f"{how_to_connect(tap.listen)}")
                if isinstance(tap.listen, TcpAddress) and tap.listen.tls is None:
                    self.stderr.write(plain_tcp_warning(tap.listen))
            self.stdout.flush()

        def ready() -> None:
            loop = asyncio.get_event_loop()
            running.append(loop.create_task(PUBLISHER.run()))
            reactor.addSystemEventTrigger("before", "shutdown", PUBLISHER.stop)
            running.append(loop.create_task(checkpointer.run()))
            reactor.addSystemEventTrigger("before", "shutdown", checkpointer.stop)
            start_catching_up(loop)
            for watcher in watchers:
                running.append(loop.create_task(watcher.run()))
                reactor.addSystemEventTrigger("before", "shutdown", watcher.stop)
            if tap is not None:
                running.append(loop.create_task(start_tap(tap)))
            self.stdout.write(f"archviz is serving on http://{host}:{port}/"
                              + (f" and watching {', '.join(w.address for w in watchers)}" if watchers else ""))
            self.stdout.flush()

        def started() -> None:
            lighten(server.http_factory)
            ready()

        server = Server(
            application=get_default_application(),
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            ready_callable=started,
            verbosity=0,
            # daphne's 1 MiB default also limits what is sent: a live snapshot of ARCHVIZ_SNAPSHOT_SIZE=5000
            # observations is larger, and was refused with 1011 (bench/scaleout.py). What a browser may send is
            # checked by archviz (archviz.frames: 4 KiB).
            websocket_max_message_size=WEBSOCKET_MESSAGE_LIMIT,
            websocket_max_frame_size=WEBSOCKET_MESSAGE_LIMIT,
        )
        settle_startup_objects()
        server.run()


def settle_startup_objects() -> None:
    """Leave what starting made (Django's apps, URLs, templates, the modules) out of the garbage collector's full
    collections: they live as long as the process, yet each full collection walked them all, 40–70 ms during
    which no request was answered and no frame sent (seen as the slowest registry deliveries in
    bench/registry_ingest.py). And collect the youngest objects after GC_YOUNGEST allocations, not Python's 700: a
    request makes hundreds, so the collector ran every few requests: 215 ms of GC in 12,000 deliveries, 9 ms after."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNGEST, *gc.get_threshold()[1:])


GC_YOUNGEST = 50_000


def lighten(factory: Any) -> None:
    """Skip two things Twisted does for every HTTP request that daphne never uses: parsing a POST's Content-Type
    with the email package (to read form fields into `request.args`; daphne hands the body to the application
    as it came) and formatting an access log line (daphne sends Twisted's log nowhere at verbosity 0). They cost
    about a third of daphne's time per registry notification (py-spy; bench/registry_ingest.py)."""
    build = factory.buildProtocol

    def build_protocol(addr: Any) -> Any:
        protocol = build(addr)
        if protocol is not None:
            protocol.requestFactory = partial(protocol.requestFactory, parsePOSTFormSubmission=False)
        return protocol

    factory.buildProtocol = build_protocol
    factory.log = lambda request: None
