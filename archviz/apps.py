from __future__ import annotations

from django.apps import AppConfig


class ArchvizConfig(AppConfig):
    name = "archviz"
    verbose_name = "archviz"
