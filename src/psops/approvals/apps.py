from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "psops.approvals"
    label = "approvals"
    verbose_name = "Approvals"
