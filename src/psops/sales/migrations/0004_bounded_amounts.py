"""The database holds the bound of every money and quantity column of sales (quotes, their lines, SOWs and milestones).

See psops.core.quantities and docs/decisions/0007-bounded-amounts.md. Rows already outside a bound stop the migration
with a list of them (`psops check_amounts` shows the same), to be repaired first.
"""

from decimal import Decimal

from django.db import migrations, models

from psops.core.quantities import refuse_stored_out_of_range
from psops.core.triggers import Fixed, install, remove

BOUNDS = [
    ("quote", models.CheckConstraint(condition=models.Q(("discount_percent__gte", 0), ("discount_percent__lte", 100)), name="sales_quote_discount_percent_bounded", violation_error_message="discount_percent must be from 0% to 100%.")),
    ("quote", models.CheckConstraint(condition=models.Q(("subtotal__gte", 0), ("subtotal__lte", Decimal("999999999.99"))), name="sales_quote_subtotal_bounded", violation_error_message="subtotal must be from 0 to 999,999,999.99.")),
    ("quote", models.CheckConstraint(condition=models.Q(("discount_amount__gte", 0), ("discount_amount__lte", Decimal("999999999.99"))), name="sales_quote_discount_amount_bounded", violation_error_message="discount_amount must be from 0 to 999,999,999.99.")),
    ("quote", models.CheckConstraint(condition=models.Q(("total__gte", 0), ("total__lte", Decimal("999999999.99"))), name="sales_quote_total_bounded", violation_error_message="total must be from 0 to 999,999,999.99.")),
    ("quoteline", models.CheckConstraint(condition=models.Q(("quantity__gte", 0), ("quantity__lte", 1000000)), name="sales_quoteline_quantity_bounded", violation_error_message="quantity must be from 0 to 1,000,000.")),
    ("quoteline", models.CheckConstraint(condition=models.Q(("unit_price__gte", 0), ("unit_price__lte", Decimal("999999999.99"))), name="sales_quoteline_unit_price_bounded", violation_error_message="unit_price must be from 0 to 999,999,999.99.")),
    ("quoteline", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="sales_quoteline_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
    ("sow", models.CheckConstraint(condition=models.Q(("price__gte", 0), ("price__lte", Decimal("999999999.99"))), name="sales_sow_price_bounded", violation_error_message="price must be from 0 to 999,999,999.99.")),
    ("sow", models.CheckConstraint(condition=models.Q(("net_days__gte", 0), ("net_days__lte", 120)), name="sales_sow_net_days_bounded", violation_error_message="net_days must be from 0 days to 120 days.")),
    ("sow", models.CheckConstraint(condition=models.Q(models.Q(("hourly_rate__gte", 0), ("hourly_rate__lte", Decimal("999999999.99"))), ("hourly_rate__isnull", True), _connector="OR"), name="sales_sow_hourly_rate_bounded", violation_error_message="hourly_rate must be from 0 to 999,999,999.99.")),
    ("sowmilestone", models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("amount__lte", Decimal("999999999.99"))), name="sales_sowmilestone_amount_bounded", violation_error_message="amount must be from 0 to 999,999,999.99.")),
]

# On SQLite a new check constraint rebuilds the table, which drops its triggers: put the immutability trigger of
# sales_sow back (on PostgreSQL it is dropped and created again, the same).
RULES = [Fixed("sow_signed_fixed", "sales_sow", ("UPDATE",), "a signed SOW", "OLD.state = 'signed'")]


def reinstall_triggers(apps, schema_editor):
    remove(schema_editor, RULES)
    install(schema_editor, RULES)


def check_stored(apps, schema_editor):
    for model_name, constraint in BOUNDS:
        refuse_stored_out_of_range(apps.get_model("sales", model_name), [constraint],
                                   using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("sales", "0003_signed_fixed")]

    operations = [
        migrations.RunPython(check_stored, migrations.RunPython.noop),
        *(migrations.AddConstraint(model_name=model_name, constraint=constraint) for model_name, constraint in BOUNDS),
        migrations.RunPython(reinstall_triggers, migrations.RunPython.noop),
    ]
