from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "psops.portal"
    label = "portal"
    verbose_name = "Customer links"
