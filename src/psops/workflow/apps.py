from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "psops.workflow"
    label = "workflow"
    verbose_name = "Workflow hand-offs"
