"""The roles a pending request waits for, kept on the request (decision 0013), filled here from its requirements."""

from django.db import migrations, models

BATCH = 2000


def fill(apps, schema_editor):
    """Each pending request's waiting roles, as `roles_waited_for` reads them (copied here: a migration keeps the rule
    as it stood when it ran). Decided requests wait for nobody: the new column's empty default."""
    request_model = apps.get_model("approvals", "ApprovalRequest")
    requirement_model = apps.get_model("approvals", "ApprovalRequirement")
    pending = list(request_model.objects.filter(state="pending").order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pending), BATCH):
        ids = pending[start:start + BATCH]
        waiting: dict[int, set[str]] = {pk: set() for pk in ids}
        for request_id, approvers, approved in (requirement_model.objects.filter(request_id__in=ids, satisfied=False)
                                                .values_list("request_id", "approvers", "approved_roles")):
            waiting[request_id].update(role for role in approvers if role not in approved)
        requests = [request_model(pk=pk, waiting_roles=sorted(roles)) for pk, roles in waiting.items()]
        request_model.objects.bulk_update(requests, ["waiting_roles"])


class Migration(migrations.Migration):
    dependencies = [("approvals", "0003_list_indexes")]

    operations = [
        migrations.AddField(
            model_name="approvalrequest",
            name="waiting_roles",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
