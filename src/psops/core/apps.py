from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "psops.core"
    label = "core"
    verbose_name = "Set-up"
