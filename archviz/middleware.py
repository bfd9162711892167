from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse

# Paths that carry their own authentication (the admin's login form, the webhook's bearer token) or hold
# nothing private.
OPEN_PREFIXES = ("/admin/", "/static/", "/api/health", "/hooks/")


def require_login(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """With ARCHVIZ_REQUIRE_LOGIN, every page and API needs a Django login."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if (
            settings.ARCHVIZ_REQUIRE_LOGIN
            and not request.user.is_authenticated
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"error": "log in first: this dashboard requires a login"}, status=401)
            return redirect_to_login(request.get_full_path())
        return get_response(request)

    return middleware
