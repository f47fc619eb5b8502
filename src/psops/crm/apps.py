from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "psops.crm"
    label = "crm"
    verbose_name = "Accounts and opportunities"

    def ready(self) -> None:
        from psops.core.housekeeping import prune_call_register
        from psops.core.taskqueue import sweep_register

        from .import_runs import import_files_prune, imports_work

        sweep_register(imports_work)
        prune_call_register("import files", import_files_prune)
