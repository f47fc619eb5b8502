from django.db import migrations


def load_default_policy(apps, schema_editor):
    from psops.approvals.policy import DEFAULT_RULES, validate

    ApprovalPolicy = apps.get_model("approvals", "ApprovalPolicy")
    if not ApprovalPolicy.objects.exists():
        ApprovalPolicy.objects.create(version=1, rules=validate(DEFAULT_RULES), is_active=True,
                                      note="The handbook's rules")


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial")]
    operations = [migrations.RunPython(load_default_policy, migrations.RunPython.noop)]
