from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware

# Paths that carry their own authentication (the login page, the admin) or hold nothing private (the probes and the
# metrics: whether the parts answer, and counts). The registry webhook never reaches Django (archviz.hooks): its
# bearer token is its authentication.
OPEN_PREFIXES = ("/login/", "/admin/", "/static/", "/api/health", "/healthz", "/readyz", "/metrics")


def _refusal(request: HttpRequest, user_authenticated: bool) -> HttpResponse | None:
    if not settings.ARCHVIZ_REQUIRE_LOGIN or user_authenticated or request.path.startswith(OPEN_PREFIXES):
        return None
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "log in first: this dashboard requires a login"}, status=401)
    return redirect_to_login(request.get_full_path())


@sync_and_async_middleware
def require_login(get_response: Callable) -> Callable:
    """With ARCHVIZ_REQUIRE_LOGIN, every page and API needs a Django login. Async-capable, so that it adds no
    hop between the event loop and a thread to the request."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            refusal = None
            if settings.ARCHVIZ_REQUIRE_LOGIN and not request.path.startswith(OPEN_PREFIXES):
                user = await request.auser()
                refusal = _refusal(request, user.is_authenticated)
            return refusal or await get_response(request)

        return markcoroutinefunction(async_middleware)

    def middleware(request: HttpRequest) -> HttpResponse:
        refusal = None
        if settings.ARCHVIZ_REQUIRE_LOGIN and not request.path.startswith(OPEN_PREFIXES):
            refusal = _refusal(request, request.user.is_authenticated)
        return refusal or get_response(request)

    return middleware



