"""The database holds the bound of every money and quantity column of the CRM (opportunity amount, PS amount).

See psops.core.quantities and docs/decisions/0007-bounded-amounts.md. Rows already outside a bound stop the migration
with a list of them (`psops check_amounts` shows the same), to be repaired first.
"""

from decimal import Decimal

from django.db import migrations, models

from psops.core.quantities import refuse_stored_out_of_range

BOUNDS = [
    ("opportunity", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="crm_opportunity_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
    ("psopportunity", models.CheckConstraint(condition=models.Q(("ps_amount__gte", 0), ("ps_amount__lte", Decimal("999999999.99"))), name="crm_psopportunity_ps_amount_bounded", violation_error_message="ps_amount must be from 0 to 999,999,999.99.")),
]


def check_stored(apps, schema_editor):
    for model_name, constraint in BOUNDS:
        refuse_stored_out_of_range(apps.get_model("crm", model_name), [constraint],
                                   using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [
        migrations.RunPython(check_stored, migrations.RunPython.noop),
        *(migrations.AddConstraint(model_name=model_name, constraint=constraint) for model_name, constraint in BOUNDS),
    ]
