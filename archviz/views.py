from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from archviz.watcher import docker_host


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "archviz/live.html", {
        "docker_host": docker_host(),
        "lab_registry": f"127.0.0.1:{settings.ARCHVIZ_LAB_REGISTRY_PORT}",
    })


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
