from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from archviz.audit import AuditFilter, blobs_query, chart, export_lines, page, parse_cursor, wire
from archviz.hooks import HOOK_PATH
from archviz.mermaid import to_mermaid
from archviz.models import AuditEvent, StoredObservation
from archviz.query import QueryError, time_range
from archviz.sequence import ROLES, sequence
from archviz.snapshot import inventory_snapshot
from archviz.sources.registry import ACTIONS
from archviz.watcher import docker_host

# A Mermaid export folds at most this many observations (the text is cut at 50,000 characters anyway).
EXPORT_OBSERVATIONS = 5000


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "archviz/live.html", {
        "docker_host": docker_host(),
        "lab_registry": f"127.0.0.1:{settings.ARCHVIZ_LAB_REGISTRY_PORT}",
        "roles": ROLES,
    })


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@require_GET
def inventory(request: HttpRequest) -> HttpResponse:
    base = f"127.0.0.1:{settings.ARCHVIZ_LAB_REGISTRY_PORT}/lab/busybox:1"
    tables = [
        ("container", "Containers", f"No containers yet — try: docker run --rm {base} echo hello"),
        ("image", "Images", f"No images yet — try: docker pull {base}"),
        ("layer", "Shared layers", "No layer is shared yet: build an image FROM another one, and the base's "
                                   "layers are stored once for both."),
        ("network", "Networks", "No networks."),
        ("volume", "Volumes", "No volumes yet — try: docker volume create data"),
    ]
    return render(request, "archviz/inventory.html", {"docker_host": docker_host(), "tables": tables})


@require_GET
def inventory_api(request: HttpRequest) -> JsonResponse:
    """Every watched host's images (with layers), containers, networks and volumes, as archviz holds them."""
    return JsonResponse({"hosts": inventory_snapshot()})


@require_GET
def observation(request: HttpRequest, pk: int) -> JsonResponse:
    row = StoredObservation.objects.filter(pk=pk).first()
    if row is None:
        return JsonResponse({"error": f"no observation {pk} in the store"}, status=404)
    return JsonResponse(row.to_wire())


@require_GET
def sequence_mermaid(request: HttpRequest) -> HttpResponse:
    """The sequence diagram of a time range as Mermaid text: ?since=…&until=… (Unix seconds or ISO 8601)."""
    try:
        since, until = time_range(request.GET.dict())
    except QueryError as error:
        return JsonResponse({"error": str(error)}, status=400)
    rows = StoredObservation.objects.order_by("id")
    if since is not None:
        rows = rows.filter(time_ns__gte=since)
    if until is not None:
        rows = rows.filter(time_ns__lte=until)
    diagram = sequence(row.to_wire() for row in rows[:EXPORT_OBSERVATIONS])
    return HttpResponse(to_mermaid(diagram), content_type="text/plain; charset=utf-8")


# The registry audit trail ---------------------------------------------------------------------------


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _audit_filter(request: HttpRequest) -> AuditFilter:
    return AuditFilter.from_query(request.GET.dict())


def _filtered_page(request: HttpRequest) -> tuple[AuditFilter, list[AuditEvent], str | None]:
    """The filter and the page the query string asks for; QueryError when it asks for nonsense."""
    audit_filter = _audit_filter(request)
    return audit_filter, *page(audit_filter, parse_cursor(request.GET.get("before", "")))


@require_GET
def registry_page(request: HttpRequest) -> HttpResponse:
    try:
        audit_filter, rows, cursor = _filtered_page(request)
    except QueryError as error:
        return render(request, "archviz/registry.html", {"error": str(error), "rows": [], "query": {}}, status=400)
    query = audit_filter.as_query()
    for row in rows:
        row.blobs_query = blobs_query(row)
    return render(request, "archviz/registry.html", {
        "rows": rows, "filter": audit_filter, "query": query, "query_string": urlencode(query),
        "next_page": urlencode({**query, "before": cursor}) if cursor else None,
        "first_page": "before" in request.GET, "actions": ACTIONS,
        "registry_token_set": bool(settings.ARCHVIZ_REGISTRY_TOKEN), "hook_path": HOOK_PATH,
    })


@require_GET
def registry_events(request: HttpRequest) -> JsonResponse:
    try:
        audit_filter, rows, cursor = _filtered_page(request)
    except QueryError as error:
        return _error(str(error), 400)
    next_url = f"{request.path}?{urlencode({**audit_filter.as_query(), 'before': cursor})}" if cursor else None
    return JsonResponse({"events": [wire(row) for row in rows], "next": next_url})


@require_GET
def registry_chart(request: HttpRequest) -> JsonResponse:
    try:
        return JsonResponse(chart(_audit_filter(request)))
    except QueryError as error:
        return _error(str(error), 400)


def _export(request: HttpRequest, form: str, content_type: str) -> HttpResponse:
    try:
        audit_filter = _audit_filter(request)
    except QueryError as error:
        return _error(str(error), 400)
    response = StreamingHttpResponse(export_lines(audit_filter, form), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="registry-events.{form}"'
    return response


@require_GET
def registry_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv", "text/csv; charset=utf-8")


@require_GET
def registry_jsonl(request: HttpRequest) -> HttpResponse:
    return _export(request, "jsonl", "application/jsonl; charset=utf-8")
