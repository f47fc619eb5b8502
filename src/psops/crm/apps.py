from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "psops.crm"
    label = "crm"
    verbose_name = "Accounts and opportunities"
