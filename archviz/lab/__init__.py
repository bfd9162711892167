"""The lab: a real dockerd and real registries on this machine, private to archviz, on loopback only: Debian's
distribution 2.8.2 (one open to all, one that asks for a login), and distribution 3.1.1 where the shared folder
beside the project holds it.

Modules:
- `processes`: `Lab` itself, which starts, stops and describes the daemon, the registries and the guard;
- `hub`: the offline Docker Hub stand-in, the lessons' images (nginx, ubuntu, alpine, hello-world, busybox)
  built here from Debian's busybox-static and seeded into the lab registry, which is the daemon's Hub mirror;
- `storage`: a registry's filesystem storage written directly (distribution's layout), which `hub` builds into;
- `guard`: where the daemon's HTTP_PROXY and HTTPS_PROXY point, a loopback port that refuses every request
  and records it, so nothing the daemon asks for can leave the machine.

`hub`, `storage` and `guard` use the standard library only (the guard runs as a script of its own); nothing here
imports the rest of archviz.
"""

from __future__ import annotations

from archviz.lab.processes import Lab, LabError

__all__ = ["Lab", "LabError"]
