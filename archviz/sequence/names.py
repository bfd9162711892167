"""Names of things as Docker says them: image references, repositories, registries, short ids, sizes. Pure."""

from __future__ import annotations


def normalize_reference(reference: str) -> str:
    """`busybox` and `busybox:latest` name the same image; a digest or tag is kept as it is."""
    if not reference or reference.startswith("sha256:") or "@" in reference:
        return reference
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last else f"{reference}:latest"


def familiar(reference: str) -> str:
    """A reference as people type it: `docker.io/library/web:1` -> `web:1`, `docker.io/me/app` -> `me/app`."""
    return reference.removeprefix("docker.io/").removeprefix("library/") if reference.startswith(
        "docker.io/") else reference


def repository_of(reference: str) -> str:
    """`127.0.0.1:5000/lab/app:1` -> `lab/app`; `busybox` -> `library/busybox` (as Docker Hub names it)."""
    name = reference.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name.rsplit(":", 1)[0]
    return name if "/" in name or registry_host(reference) != "docker.io" else f"library/{name}"


def registry_host(reference: str) -> str:
    """The registry an image reference points at (Docker Hub when the first part is not a host)."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def short_id(identifier: str) -> str:
    return identifier.removeprefix("sha256:")[:12]


def human_size(size: int) -> str:
    value, unit = float(size), 0
    units = ("B", "kB", "MB", "GB", "TB")
    while value >= 1000 and unit < len(units) - 1:
        value, unit = value / 1000, unit + 1
    return f"{value:.0f} {units[unit]}" if unit == 0 else f"{value:.1f} {units[unit]}"
