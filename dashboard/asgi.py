"""ASGI entry point: Django for HTTP (with its static files), Channels for the websockets."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# Build the Django app first: it sets Django up before the consumers' models are imported.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from archviz.hooks import with_registry_hook  # noqa: E402
from archviz.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": with_registry_hook(ASGIStaticFilesHandler(django_application)),
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
