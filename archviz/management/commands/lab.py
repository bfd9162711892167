"""`manage.py lab up|down|status`: a real dockerd and registry on loopback, private to archviz."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from archviz.lab import Lab, LabError
from archviz.watcher import daemon_unreachable_reason, docker_host, unreachable_hint


class Command(BaseCommand):
    help = "Start, stop or describe the lab: a private dockerd and registry with a base image."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["up", "down", "status", "ping"],
                            help="ping: exit 0 when the daemon at DOCKER_HOST answers")
        parser.add_argument("--webhook", default="http://127.0.0.1:8000/hooks/registry/",
                            help="where the registry sends its notifications ('' for nowhere)")
        parser.add_argument("--print-env", action="store_true",
                            help="after `up`, print only the `export` lines of DOCKER_HOST and "
                                 "ARCHVIZ_REGISTRY_TOKEN (for eval in a shell)")

    def handle(self, *args: Any, action: str, webhook: str, print_env: bool, **options: Any) -> None:
        if action == "ping":
            self._ping()
            return
        lab = Lab(settings.ARCHVIZ_LAB_DIR, settings.ARCHVIZ_LAB_REGISTRY_PORT, settings.ARCHVIZ_LAB_AUTH_REGISTRY_PORT,
                  (webhook,) if webhook else ())
        say = self.stderr.write if print_env else self.stdout.write
        try:
            if action == "up":
                lab.up(say=say)
                if print_env:
                    self.stdout.write(f"export DOCKER_HOST={lab.docker_host}")
                    self.stdout.write(f"export ARCHVIZ_REGISTRY_TOKEN=$(cat {lab.root / 'webhook-token'})")
                else:
                    self.stdout.write(
                        f"The lab is up. Use it with the docker CLI:\n"
                        f"  export DOCKER_HOST={lab.docker_host}\n"
                        f"  docker run --rm {lab.base_image} echo hello\n"
                        f"Its registry notifies {webhook or 'no one'}; to receive that, start the dashboard with\n"
                        f"  ARCHVIZ_REGISTRY_TOKEN=$(cat {lab.root / 'webhook-token'})\n"
                        f"Its second registry, {lab.auth_registry_address}, asks for a login:\n"
                        f"  docker login {lab.auth_registry_address} -u {lab.auth_user} --password-stdin"
                        f" < {lab.root / 'auth-password'}"
                    )
            elif action == "down":
                lab.down(say=say)
                self.stdout.write("The lab is down; nothing of it is running.")
            else:
                self.stdout.write(json.dumps(lab.status(), indent=2))
        except LabError as error:
            raise CommandError(str(error)) from None

    def _ping(self) -> None:
        """Exit 0 when the daemon at DOCKER_HOST answers; otherwise say why and exit 1."""
        address = docker_host()
        reason = daemon_unreachable_reason(address)
        if reason is None:
            self.stdout.write(f"A Docker daemon answers at {address}.")
            return
        self.stderr.write(f"{address}: {reason}. {unreachable_hint(address, reason)}")
        raise SystemExit(1)
