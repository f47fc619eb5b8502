"""The database holds the bound of every money and quantity column of billing (invoices, payments, credits, write-offs, promises).

See psops.core.quantities and docs/decisions/0007-bounded-amounts.md. Rows already outside a bound stop the migration
with a list of them (`psops check_amounts` shows the same), to be repaired first.
"""

from decimal import Decimal

from django.db import migrations, models

from psops.core.quantities import refuse_stored_out_of_range

BOUNDS = [
    ("collectionaction", models.CheckConstraint(condition=models.Q(models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), ("amount__isnull", True), _connector="OR"), name="billing_collectionaction_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
    ("creditnote", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="billing_creditnote_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
    ("invoice", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="billing_invoice_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
    ("invoice", models.CheckConstraint(condition=models.Q(("net_days__gte", 0), ("net_days__lte", 120)), name="billing_invoice_net_days_bounded", violation_error_message="net_days must be from 0 days to 120 days.")),
    ("payment", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="billing_payment_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
    ("writeoff", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="billing_writeoff_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
]


def check_stored(apps, schema_editor):
    for model_name, constraint in BOUNDS:
        refuse_stored_out_of_range(apps.get_model("billing", model_name), [constraint],
                                   using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [
        migrations.RunPython(check_stored, migrations.RunPython.noop),
        *(migrations.AddConstraint(model_name=model_name, constraint=constraint) for model_name, constraint in BOUNDS),
    ]
