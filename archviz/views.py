from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from archviz.mermaid import to_mermaid
from archviz.models import StoredObservation
from archviz.query import QueryError, time_range
from archviz.sequence import ROLES, sequence
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
