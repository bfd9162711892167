from __future__ import annotations

from django.urls import path

from archviz.consumers import AuditConsumer, InventoryConsumer, LiveConsumer, MapConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/inventory/", InventoryConsumer.as_asgi()),
    path("ws/map/", MapConsumer.as_asgi()),
    path("ws/audit/", AuditConsumer.as_asgi()),
]
