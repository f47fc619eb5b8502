from django.apps import AppConfig


class LinksConfig(AppConfig):
    name = "psops.links"
    label = "links"
    verbose_name = "Customer links"
