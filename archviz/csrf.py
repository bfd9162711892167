"""Cross-site request forgery: what protects each endpoint that changes something.

- Every Django view that takes a POST, PUT, PATCH or DELETE is checked by Django's CsrfViewMiddleware: the
  request must carry the CSRF cookie's token, and a browser's `Origin` (or, over HTTPS, its `Referer`) must be this
  site or one of ARCHVIZ_CSRF_TRUSTED_ORIGINS. No view is `csrf_exempt`.
- The webhooks (`/hooks/registry/`, `/hooks/harbor/`) are exempt on purpose: a registry has no cookie and no
  page to take a token from, so each authenticates with a secret it sends in `Authorization` instead, compared in
  constant time (archviz.hooks). They never reach Django, so no cookie of a logged-in browser gets them anywhere.
- Websockets (archviz.routing) are opened only from a page of this site: dashboard.asgi wraps them all in channels'
  AllowedHostsOriginValidator, which refuses an `Origin` whose host is not in ARCHVIZ_ALLOWED_HOSTS, or none.

tests/test_csrf_origin.py walks every URL pattern, webhook and websocket route and holds each to this.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """The pages' scripts (/api/…) read errors as JSON: say what failed and what to do. Pages get Django's own."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": f"CSRF check failed ({reason}): reload the page and try again"}, status=403)
    return csrf.csrf_failure(request, reason)
