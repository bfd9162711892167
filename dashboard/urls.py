from __future__ import annotations

from django.contrib import admin
from django.urls import path

from archviz import views

urlpatterns = [
    path("", views.live, name="live"),
    path("api/health", views.health, name="health"),
    path("api/observations/<int:pk>", views.observation, name="observation"),
    path("api/sequence.mmd", views.sequence_mermaid, name="sequence-mermaid"),
    path("admin/", admin.site.urls),
]
