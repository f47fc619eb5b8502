from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "psops.sales"
    label = "sales"
    verbose_name = "Quotes and SOWs"
