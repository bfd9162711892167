"""`manage.py lab up|down|status|ping`: a real dockerd and registries on loopback, private to archviz.

`up --print-env` prints the lines `./scripts/serve` evaluates: the daemon's socket for the dashboard, the tap's socket
for `serve` to listen on, and the registry's webhook token. The help's epilog names both sockets.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from archviz.daemons import docker_host
from archviz.lab import Lab, LabError
from archviz.watcher import daemon_unreachable_reason, unreachable_hint

SOCKETS = """The lab has two sockets, in ARCHVIZ_LAB_DIR ({root}):
  {daemon}
      the lab daemon's own; `serve` and `watch` watch it (their DOCKER_HOST)
  {tap}
      the API tap in front of it, which `./scripts/serve` runs (ARCHVIZ_TAP_SOCKET); point the docker CLI
      there and the dashboard sees each of its requests:
        export DOCKER_HOST={tap}

The lab registry is also the daemon's Docker Hub mirror, holding stand-ins (built here from Debian's
busybox-static, labelled as stand-ins) for nginx, ubuntu, alpine:3.18, hello-world and busybox. Whatever
else the daemon asks of the internet goes to a guard port that refuses it: `docker pull some/unknown`
fails at once, and nothing leaves the machine."""


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's order of options, with the epilog's lines kept as written."""


class Command(BaseCommand):
    help = "Start, stop or describe the lab: a private dockerd and registries, with the lessons' images offline."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, formatter_class=HelpFormatter, **kwargs)
        lab = Lab(settings.ARCHVIZ_LAB_DIR)
        parser.epilog = SOCKETS.format(root=lab.root, daemon=lab.docker_host, tap=f"unix://{lab.tap_socket}")
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["up", "down", "status", "ping"],
                            help="ping: exit 0 when the daemon at DOCKER_HOST answers")
        parser.add_argument("--webhook", default="http://127.0.0.1:8000/hooks/registry/",
                            help="where the lab's registries send their notifications ('' for nowhere)")
        parser.add_argument("--print-env", action="store_true",
                            help="after `up`, print only the `export` lines of DOCKER_HOST (the daemon's socket), "
                                 "ARCHVIZ_TAP_SOCKET (the tap's) and ARCHVIZ_REGISTRY_TOKEN, for eval in a shell")

    def handle(self, *args: Any, action: str, webhook: str, print_env: bool, **options: Any) -> None:
        if action == "ping":
            self._ping()
            return
        lab = Lab(settings.ARCHVIZ_LAB_DIR, settings.ARCHVIZ_LAB_REGISTRY_PORT, settings.ARCHVIZ_LAB_AUTH_REGISTRY_PORT,
                  (webhook,) if webhook else (), settings.ARCHVIZ_LAB_V3_REGISTRY_PORT or None)
        say = self.stderr.write if print_env else self.stdout.write
        try:
            if action == "up":
                lab.up(say=say)
                if print_env:
                    self.stdout.write(f"export DOCKER_HOST={lab.docker_host}")
                    # One set already wins: the line keeps it.
                    self.stdout.write(f"export ARCHVIZ_TAP_SOCKET=${{ARCHVIZ_TAP_SOCKET:-unix://{lab.tap_socket}}}")
                    self.stdout.write(f"export ARCHVIZ_REGISTRY_TOKEN=$(cat {lab.root / 'webhook-token'})")
                else:
                    self.stdout.write(
                        f"The lab is up. Use it with the docker CLI:\n"
                        f"  export DOCKER_HOST={lab.docker_host}\n"
                        f"  docker run hello-world\n"
                        f"To watch the client's requests too, serve the dashboard with the API tap in front of it\n"
                        f"  ARCHVIZ_TAP_SOCKET=unix://{lab.tap_socket} python manage.py serve\n"
                        f"and point the CLI there instead: export DOCKER_HOST=unix://{lab.tap_socket}\n"
                        f"Its registries notify {webhook or 'no one'}; to receive that, start the dashboard with\n"
                        f"  ARCHVIZ_REGISTRY_TOKEN=$(cat {lab.root / 'webhook-token'})\n"
                        f"Its second registry, {lab.auth_registry_address}, asks for a login and notifies the "
                        f"dashboard too:\n"
                        + self._login_lines(lab, lab.auth_registry_address)
                        + f"\n  docker login {lab.auth_registry_address} -u {lab.auth_user} --password-stdin"
                        f" < {lab.root / 'auth-password'}\n"
                        + self._v3_lines(lab)
                    )
            elif action == "down":
                lab.down(say=say)
                self.stdout.write("The lab is down; nothing of it is running.")
            else:
                self.stdout.write(json.dumps(lab.status(), indent=2))
        except LabError as error:
            raise CommandError(str(error)) from None

    @staticmethod
    def _v3_lines(lab: Lab) -> str:
        """How to log in to the distribution 3 registry as each of its users, or why there is none."""
        missing = lab.v3_missing()
        if missing:
            return f"No distribution 3 registry: {missing}."
        return (f"Its distribution 3.1.1 registry, {lab.v3_registry_address}, asks for a login and notifies the "
                f"dashboard too:\n" + Command._login_lines(lab, lab.v3_registry_address))

    @staticmethod
    def _login_lines(lab: Lab, address: str) -> str:
        """How to log in to a registry that asks for one as each of the lab's users."""
        return "\n".join(f"  docker login {address} -u {user} --password-stdin < {lab.password_file(user)}"
                         for user in lab.users)

    def _ping(self) -> None:
        """Exit 0 when the daemon at DOCKER_HOST answers; otherwise say why and exit 1."""
        address = docker_host()
        reason = daemon_unreachable_reason(address)
        if reason is None:
            self.stdout.write(f"A Docker daemon answers at {address}.")
            return
        self.stderr.write(f"{address}: {reason}. {unreachable_hint(address, reason)}")
        raise SystemExit(1)
