from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "psops.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from psops.core.taskqueue import sweep_register

        from . import checks, rules  # noqa: F401  (registers the system check and the permissions)
        from .services import documents_render_queued

        sweep_register(documents_render_queued)
