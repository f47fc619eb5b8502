from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "psops.web"
    label = "web"
    verbose_name = "Web application"
