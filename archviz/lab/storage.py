"""A registry's filesystem storage, written directly: distribution's layout under `docker/registry/v2`.

Blobs live once, by digest (`blobs/sha256/ab/abcd…/data`); a repository holds links to them (`_layers` for a layer or
config, `_manifests/revisions` for a manifest, `_manifests/tags/TAG/current` and `…/index` for a tag), each link a
file holding the digest. Distribution 2.x and 3.x both read this layout; nothing here talks to a registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass
class Storage:
    """The storage whose `rootdirectory` (the registry's config) is `root`, being written."""

    root: Path
    written: set[str] = field(default_factory=set)

    @property
    def v2(self) -> Path:
        return self.root / "docker" / "registry" / "v2"

    def put_image(self, repository: str, tags: tuple[str, ...], layers: list[bytes], config: bytes) -> str:
        """Store an image (its gzipped layers and its config) in `repository` under `tags`, as a push would;
        return its manifest's digest."""
        descriptors = []
        for layer in layers:
            digest = self.blob(layer)
            self.link(repository, "_layers", digest)
            descriptors.append({"mediaType": LAYER, "size": len(layer), "digest": digest})
        config_digest = self.blob(config)
        self.link(repository, "_layers", config_digest)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                               "config": {"mediaType": CONFIG, "size": len(config), "digest": config_digest},
                               "layers": descriptors}, indent=3).encode()
        manifest_digest = self.blob(manifest)
        self.link(repository, "_manifests/revisions", manifest_digest)
        for tag in tags:
            _write(self.v2 / "repositories" / repository / "_manifests" / "tags" / tag / "current" / "link",
                   manifest_digest.encode())
            self.link(repository, f"_manifests/tags/{tag}/index", manifest_digest)
        return manifest_digest

    def blob(self, data: bytes) -> str:
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        if digest not in self.written:
            hexdigest = digest.removeprefix("sha256:")
            _write(self.v2 / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data", data)
            self.written.add(digest)
        return digest

    def link(self, repository: str, folder: str, digest: str) -> None:
        _write(self.v2 / "repositories" / repository / folder / "sha256" / digest.removeprefix("sha256:") / "link",
               digest.encode())


def copy_into(source: Path, target: Path) -> None:
    """Add the storage at `source` to the one at `target`: files already there are left alone (what the registry
    holds since stays as it is). Files are hard-linked where they can be (a registry never changes a blob or a
    link in place: it adds and removes them), copied otherwise."""
    for path in (source / "docker").rglob("*"):
        if path.is_dir():
            continue
        destination = target / path.relative_to(source)
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:  # another file system
            shutil.copyfile(path, destination)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
