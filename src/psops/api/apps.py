from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "psops.api"
    label = "api"
    verbose_name = "HTTP API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from psops.core.housekeeping import prune_register
        from psops.core.taskqueue import sweep_register

        from .models import IdempotentRequest, WebhookDelivery
        from .webhooks import webhooks_sweep

        sweep_register(webhooks_sweep)
        prune_register("idempotency answers", lambda cutoff: IdempotentRequest.objects.filter(created_at__lt=cutoff))
        prune_register("webhook deliveries", lambda cutoff: WebhookDelivery.objects.filter(
            created_at__lt=cutoff, state__in=(WebhookDelivery.State.DELIVERED, WebhookDelivery.State.FAILED)))
