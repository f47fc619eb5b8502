from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "psops.crm"
    label = "crm"
    verbose_name = "Accounts and opportunities"

    def ready(self) -> None:
        from psops.core.taskqueue import sweep_register

        from .import_runs import imports_work

        sweep_register(imports_work)
