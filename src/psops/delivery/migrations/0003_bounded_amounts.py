"""The database holds the bound of every money and quantity column of delivery (projects, change orders, time, wrap-up).

See psops.core.quantities and docs/decisions/0007-bounded-amounts.md. Rows already outside a bound stop the migration
with a list of them (`psops check_amounts` shows the same), to be repaired first.
"""

from decimal import Decimal

from django.db import migrations, models

from psops.core.quantities import refuse_stored_out_of_range

BOUNDS = [
    ("changeorder", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="delivery_changeorder_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
    ("project", models.CheckConstraint(condition=models.Q(("percent_complete__gte", 0), ("percent_complete__lte", 100)), name="delivery_project_percent_complete_bounded", violation_error_message="percent_complete must be from 0% to 100%.")),
    ("project", models.CheckConstraint(condition=models.Q(("budget_hours__gte", 0), ("budget_hours__lte", 100000)), name="delivery_project_budget_hours_bounded", violation_error_message="budget_hours must be from 0 h to 100,000 h.")),
    ("timeentry", models.CheckConstraint(condition=models.Q(("hours__gte", 0), ("hours__lte", 24)), name="delivery_timeentry_hours_bounded", violation_error_message="hours must be from 0 h to 24 h.")),
    ("wrapup", models.CheckConstraint(condition=models.Q(models.Q(("actual_hours__gte", 0), ("actual_hours__lte", 100000)), ("actual_hours__isnull", True), _connector="OR"), name="delivery_wrapup_actual_hours_bounded", violation_error_message="actual_hours must be from 0 h to 100,000 h.")),
    ("wrapup", models.CheckConstraint(condition=models.Q(models.Q(("actual_cost__gte", 0), ("actual_cost__lte", Decimal("999999999.99"))), ("actual_cost__isnull", True), _connector="OR"), name="delivery_wrapup_actual_cost_bounded", violation_error_message="actual_cost must be from 0 to 999,999,999.99.")),
]


def check_stored(apps, schema_editor):
    for model_name, constraint in BOUNDS:
        refuse_stored_out_of_range(apps.get_model("delivery", model_name), [constraint],
                                   using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("delivery", "0002_initial")]

    operations = [
        migrations.RunPython(check_stored, migrations.RunPython.noop),
        *(migrations.AddConstraint(model_name=model_name, constraint=constraint) for model_name, constraint in BOUNDS),
    ]
