from __future__ import annotations

from typing import Any

from django.db import models

from archviz.observation import Observation, Source


class ObservationFields(models.Model):
    """An Observation's fields, as the store and saved sessions keep them."""

    time_ns = models.BigIntegerField(help_text="When it happened, in nanoseconds since the Unix epoch")
    source = models.CharField(max_length=16, choices=[(s.value, s.value) for s in Source])
    host = models.CharField(max_length=255)
    kind = models.CharField(max_length=64)
    subject = models.CharField(max_length=512, blank=True)
    attributes = models.JSONField(default=dict)
    correlation = models.CharField(max_length=255, blank=True)

    class Meta:
        abstract = True

    def wire(self, number: int) -> dict[str, Any]:
        """The JSON shape sent to browsers, as observation `number` (see `wire_of`)."""
        return wire_of(number, *(getattr(self, name) for name in WIRE_FIELDS))

    @staticmethod
    def wires(rows: models.QuerySet[Any], number: str) -> list[dict[str, Any]]:
        """Each of `rows` as `wire` makes it, numbered by its field `number`: read as plain values, in half the
        time of a model instance each (a session of 5,000 observations is read whole at once)."""
        return [wire_of(*values) for values in rows.values_list(number, *WIRE_FIELDS)]


# An observation's fields in the JSON shape browsers are sent, after its number.
WIRE_FIELDS = ("time_ns", "source", "host", "kind", "subject", "attributes", "correlation")


def wire_of(number: object, time_ns: int, source: str, host: str, kind: str, subject: str,
            attributes: dict[str, Any], correlation: str) -> dict[str, Any]:
    """Observation `number` in the JSON shape sent to browsers. time_ns is a string: it does not fit in a JS
    number."""
    return {"id": number, "time_ns": str(time_ns), "source": source, "host": host, "kind": kind, "subject": subject,
            "attributes": attributes, "correlation": correlation}


class StoredObservation(ObservationFields):
    """An Observation as kept in the store: append-only, ordered by id, and ids commit in order (archviz.publish
    sees to it on PostgreSQL too)."""

    key = models.CharField(max_length=64, unique=True, null=True, editable=False)

    class Meta:
        db_table = "archviz_observation"
        indexes = [
            models.Index(fields=["time_ns"], name="observation_time"),
            models.Index(fields=["host", "time_ns"], name="observation_host_time"),
            models.Index(fields=["kind", "time_ns"], name="observation_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("observations are append-only: a stored observation is never changed")
        super().save(*args, **kwargs)

    @classmethod
    def from_observation(cls, observation: Observation) -> StoredObservation:
        return cls(
            time_ns=observation.time_ns,
            source=observation.source.value,
            host=observation.host,
            kind=observation.kind,
            subject=observation.subject[:512],
            attributes=observation.attributes,
            correlation=observation.correlation[:255],
            key=observation.key or None,
        )

    def to_wire(self) -> dict[str, Any]:
        return self.wire(self.pk)


class Publication(models.Model):
    """One numbered frame of the live diagram: what the one publisher (archviz.publisher) made of a run of stored
    observations. Every web process forwards the same publications, and a snapshot is the merge of the newest
    ones, so a browser that (re)connects is shown exactly what the others were sent. Numbers are dense: a browser
    that sees one skipped knows a frame was dropped and asks for a snapshot."""

    seq = models.BigIntegerField(primary_key=True)
    first_observation = models.BigIntegerField(help_text="The id of the first observation it accounts for")
    last_observation = models.BigIntegerField(unique=True, help_text="The id of the last one")
    sequence = models.JSONField(help_text="The Messages, new participants and touched interactions, as sent")
    traffic = models.JSONField(help_text="What each Message lights on the architecture map, as sent")
    published_ns = models.BigIntegerField(help_text="When it was made, in ns since the epoch")

    class Meta:
        db_table = "archviz_publication"

    def __str__(self) -> str:
        return f"#{self.seq} (observations {self.first_observation}–{self.last_observation})"


class AuditEvent(models.Model):
    """One registry notification event (or Harbor webhook event), kept for the audit trail. `event_id` makes a
    redelivery a no-op."""

    event_id = models.CharField(max_length=255, unique=True)
    source = models.CharField(max_length=16, default="registry", help_text="who sent it: registry or harbor")
    time_ns = models.BigIntegerField(help_text="When the registry says it happened, in ns since the epoch")
    action = models.CharField(max_length=16)
    repository = models.CharField(max_length=255)
    tag = models.CharField(max_length=128, blank=True)
    digest = models.CharField(max_length=300, blank=True)
    media_type = models.CharField(max_length=255, blank=True)
    target_kind = models.CharField(max_length=16, help_text="manifest, blob, tag or repository")
    size = models.BigIntegerField(null=True)
    from_repository = models.CharField(max_length=255, blank=True)
    request_addr = models.CharField(max_length=255, blank=True, help_text="the client's address")
    request_method = models.CharField(max_length=16, blank=True, help_text="HEAD is an existence check")
    request_useragent = models.CharField(max_length=1024, blank=True)
    request_host = models.CharField(max_length=255, blank=True)
    actor = models.CharField(max_length=255, blank=True)
    source_addr = models.CharField(max_length=255, blank=True)
    source_instance = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "archviz_registry_event"
        # Besides these, migration 0008 makes `audit_pullers` for "who pulled digest X" and the cleanup candidates
        # (it differs between SQLite and PostgreSQL: see there).
        indexes = [
            models.Index(fields=["time_ns", "id"], name="audit_time"),
            # A filtered page walks one of these newest first; the columns after `id` let it test a second filter
            # (repository and action, actor and action…) in the index, reading only the rows that match, and let
            # the activity reports (per repository, per actor) read their index alone.
            models.Index(fields=["repository", "time_ns", "id", "action", "actor", "request_method"],
                         name="audit_repository_time"),
            models.Index(fields=["action", "time_ns", "id"], name="audit_action_time"),
            models.Index(fields=["digest", "time_ns", "id"], name="audit_digest_time"),
            models.Index(fields=["actor", "time_ns", "id", "action", "repository", "request_method"],
                         name="audit_actor_time"),
            models.Index(fields=["request_addr", "time_ns", "id", "action"], name="audit_addr_time"),
            models.Index(fields=["source", "time_ns", "id"], name="audit_source_time"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.repository} {self.tag or self.digest[:19]}"


class ManifestReference(models.Model):
    """A descriptor (config, layer, or a manifest of an index) that a manifest references, as a registry listed it
    in `target.references` (distribution 3 with `includereferences`). A digest fixes a manifest's content, so its
    references are kept once per manifest digest, whichever event brought them, and outlive pruned events."""

    manifest = models.CharField(max_length=300, help_text="the manifest's digest")
    position = models.PositiveIntegerField(help_text="the descriptor's place in the manifest (the config first)")
    digest = models.CharField(max_length=300)
    media_type = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(null=True)

    class Meta:
        db_table = "archviz_manifest_reference"
        constraints = [models.UniqueConstraint(fields=["manifest", "position"], name="manifest_reference_unique")]

    def __str__(self) -> str:
        return f"{self.manifest[:19]} -> {self.digest[:19]}"


class UnknownEvent(models.Model):
    """Something a registry delivered that archviz cannot read, kept raw (as ASCII JSON) with the reason: it is
    answered 2xx like any event, since a registry retries a refused event forever and sends nothing after it.
    `key` makes a redelivery a no-op."""

    key = models.CharField(max_length=64, unique=True)
    received_ns = models.BigIntegerField(help_text="When archviz received it, in ns since the epoch")
    event_id = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=255, help_text="what archviz could not read in it")
    raw = models.TextField()
    sender = models.CharField(max_length=255, blank=True, help_text="the address that delivered it")
    source = models.CharField(max_length=16, default="registry", help_text="who sent it: registry or harbor")

    class Meta:
        db_table = "archviz_registry_unknown"

    def __str__(self) -> str:
        return self.reason


class RefusedDelivery(models.Model):
    """Deliveries the webhook refused, counted per cause and sender. Nothing of the request is kept (no header,
    no body): a refused delivery may carry a wrong token."""

    source = models.CharField(max_length=16, default="registry", help_text="which webhook refused it")
    cause = models.CharField(max_length=32, help_text="a cause of archviz.hooks.REFUSALS")
    status = models.PositiveSmallIntegerField()
    sender = models.CharField(max_length=255, blank=True, help_text="the address that delivered it")
    count = models.BigIntegerField()
    first_ns = models.BigIntegerField()
    last_ns = models.BigIntegerField()

    class Meta:
        db_table = "archviz_registry_refused"
        constraints = [models.UniqueConstraint(fields=["source", "cause", "sender"],
                                              name="refused_delivery_source_unique")]

    def __str__(self) -> str:
        return f"{self.status} {self.cause} x{self.count}"


class InventoryItem(models.Model):
    """One image, container, network or volume of a Docker host as archviz last saw it (current state, not
    history: it is replaced as the daemon's events say it changed)."""

    host = models.CharField(max_length=255)
    kind = models.CharField(max_length=16)
    object_id = models.CharField(max_length=255)
    data = models.JSONField()

    class Meta:
        db_table = "archviz_inventory_item"
        constraints = [models.UniqueConstraint(fields=["host", "kind", "object_id"], name="inventory_item_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id[:19]}"


class InventoryState(models.Model):
    """Per host: how many change sets have been stored; a browser that misses one number resyncs."""

    host = models.CharField(max_length=255, unique=True)
    revision = models.BigIntegerField(default=0)

    class Meta:
        db_table = "archviz_inventory_state"

    def __str__(self) -> str:
        return f"{self.host} @ {self.revision}"


class Session(models.Model):
    """A named stretch of observations kept for a class: its own copy, safe from pruning, replayable anywhere."""

    name = models.SlugField(max_length=64, unique=True, help_text="Its name in URLs and files: pull-nginx")
    title = models.CharField(max_length=200, help_text="What it shows: pull nginx, 10:02–10:03")
    since_ns = models.BigIntegerField()
    until_ns = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class SessionObservation(ObservationFields):
    """One observation of a session, at its place (1, 2, …: its id when the session is drawn)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="observations")
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "position"], name="session_position")]
        ordering = ["session", "position"]

    def to_wire(self) -> dict[str, Any]:
        return self.wire(self.position)
