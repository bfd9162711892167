from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from archviz.models import AuditEvent, RefusedDelivery, StoredObservation, UnknownEvent


class ReadOnly(admin.ModelAdmin):
    """The audit trail (events, events of unknown shape, refused deliveries) and the observations are records: the
    admin shows them, never edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly):
    list_display = ("time_ns", "source", "action", "repository", "tag", "target_kind", "request_method", "request_addr",
                    "actor")
    list_filter = ("source", "action", "target_kind", "request_method")
    search_fields = ("repository", "digest", "tag", "actor", "request_addr", "request_useragent")
    show_full_result_count = False


@admin.register(UnknownEvent)
class UnknownEventAdmin(ReadOnly):
    list_display = ("received_ns", "source", "event_id", "reason", "sender")
    search_fields = ("event_id", "reason", "raw")
    show_full_result_count = False


@admin.register(RefusedDelivery)
class RefusedDeliveryAdmin(ReadOnly):
    list_display = ("last_ns", "source", "status", "cause", "sender", "count", "first_ns")
    list_filter = ("source", "cause")


@admin.register(StoredObservation)
class ObservationAdmin(ReadOnly):
    list_display = ("time_ns", "source", "kind", "subject", "host")
    list_filter = ("source",)
    search_fields = ("subject", "kind")
    show_full_result_count = False
