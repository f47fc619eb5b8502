from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "psops.api"
    label = "api"
    verbose_name = "HTTP API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from psops.core.taskqueue import sweep_register

        from .webhooks import webhooks_sweep

        sweep_register(webhooks_sweep)
