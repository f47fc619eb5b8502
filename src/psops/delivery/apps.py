from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "psops.delivery"
    label = "delivery"
    verbose_name = "Delivery"
