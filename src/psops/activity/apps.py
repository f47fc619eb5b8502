from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "psops.activity"
    label = "activity"
    verbose_name = "Timeline and discussion"
