"""The closed vocabulary of observation kinds: wire name -> what it means.

The same kebab-case names are used in Python, the database, the websocket frames and the browser.
A test checks that every kind here is documented in README.md.
"""

from __future__ import annotations

# Daemon events, as the Docker Engine API (v1.41) lists them: "<object type>-<action>".
DAEMON_ACTIONS: dict[str, tuple[str, ...]] = {
    "container": (
        "archive-path", "attach", "commit", "copy", "create", "destroy", "detach", "die", "exec-create", "exec-detach",
        "exec-die", "exec-start", "export", "extract-to-dir", "health-status", "kill", "oom", "pause", "rename",
        "resize", "restart", "start", "stop", "top", "unpause", "update", "prune",
    ),
    "image": ("delete", "import", "load", "pull", "push", "save", "tag", "untag", "prune"),
    "volume": ("create", "mount", "unmount", "destroy", "prune"),
    "network": ("create", "connect", "disconnect", "destroy", "update", "remove", "prune"),
    "daemon": ("reload",),
    "plugin": ("enable", "disable", "install", "remove"),
    "builder": ("prune",),
    "service": ("create", "update", "remove"),
    "node": ("create", "update", "remove"),
    "secret": ("create", "update", "remove"),
    "config": ("create", "update", "remove"),
}

DAEMON_KINDS: frozenset[str] = frozenset(
    f"{object_type}-{action}" for object_type, actions in DAEMON_ACTIONS.items() for action in actions
)

# A daemon event whose type or action this version of archviz does not know (a newer daemon).
DAEMON_OTHER = "daemon-other"

# Registry notifications: "registry-<action>"; a pull by HEAD is an existence check, not a download.
REGISTRY_KINDS: dict[str, str] = {
    "registry-push": "a blob or manifest was uploaded to a repository",
    "registry-pull": "a blob or manifest was downloaded (GET) or checked for existence (HEAD)",
    "registry-mount": "a blob was mounted from another repository of the same registry, without an upload",
    "registry-delete": "a manifest or tag was deleted",
}

# Harbor's webhook: "harbor-<action>", the audit's actions of Harbor's event types (archviz.sources.harbor.KINDS).
HARBOR_KINDS: dict[str, str] = {
    "harbor-push": "an artifact was pushed to a Harbor project",
    "harbor-pull": "an artifact was pulled from Harbor",
    "harbor-delete": "an artifact was deleted from Harbor",
    "harbor-scan": "Harbor's scanner finished scanning an artifact",
    "harbor-scan-failed": "Harbor's scanner failed to scan an artifact",
    "harbor-scan-stopped": "a scan of an artifact was stopped",
    "harbor-quota-exceed": "a push was refused: the project is over its quota",
    "harbor-quota-warning": "a project is near its quota",
    "harbor-replication": "a replication to or from Harbor changed state",
    "harbor-retention": "a tag retention run finished",
}

# Actions started from the dashboard, with who started them.
ACTION_KINDS: dict[str, str] = {
    "action-pull": "a staff user started a pull from the dashboard",
    "action-pull-layer": "a layer of that pull arrived (or was already there), as the daemon told the dashboard",
    "action-pull-done": "that pull finished",
    "action-pull-failed": "that pull failed; the message says why",
    "action-pull-cancelled": "that pull was cancelled",
}

# The API tap: one request of a client to the daemon, with its answer.
TAP_KINDS: dict[str, str] = {
    "api-call": "a client's request to the daemon and the daemon's answer, seen by the tap",
    "api-request": "a client's request, recorded as its head arrives: it opens the span its effects belong to",
    "api-stream-end": "a streamed answer or raw stream is over: bytes each way, how long, how it ended, an exit code",
    "api-pull-layer": "a layer of a pull some client asked for arrived (or was already there), read off the progress",
    "api-push-layer": "a layer of a push some client asked for was stored, found already there, or mounted",
    "api-build-step": "a step of a classic build some client asked for began (or the build failed)",
}

WATCHER_CONNECTED = "watcher-connected"
WATCHER_UNREACHABLE = "watcher-unreachable"

WATCHER_KINDS: dict[str, str] = {
    WATCHER_CONNECTED: "the watcher is streaming a daemon's events",
    WATCHER_UNREACHABLE: "the watcher cannot reach a daemon; it says why and keeps retrying",
}

ALL_KINDS: frozenset[str] = (DAEMON_KINDS | {DAEMON_OTHER} | frozenset(WATCHER_KINDS) | frozenset(REGISTRY_KINDS)
                              | frozenset(HARBOR_KINDS) | frozenset(ACTION_KINDS) | frozenset(TAP_KINDS))
