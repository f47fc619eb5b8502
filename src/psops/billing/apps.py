from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "psops.billing"
    label = "billing"
    verbose_name = "Billing and collections"
