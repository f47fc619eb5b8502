from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "psops.core"
    label = "core"
    verbose_name = "Set-up"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the production settings checks)
