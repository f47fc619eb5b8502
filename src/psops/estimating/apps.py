from django.apps import AppConfig


class EstimatingConfig(AppConfig):
    name = "psops.estimating"
    label = "estimating"
    verbose_name = "Price book, calculator and ROMs"
