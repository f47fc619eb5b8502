"""The database holds the bound of every money and quantity column of estimating (the calculator's tables and ROM versions).

See psops.core.quantities and docs/decisions/0007-bounded-amounts.md. Rows already outside a bound stop the migration
with a list of them (`psops check_amounts` shows the same), to be repaired first.
"""

from decimal import Decimal

from django.db import migrations, models

from psops.core.quantities import refuse_stored_out_of_range
from psops.core.triggers import Fixed, install, remove

BOUNDS = [
    ("migrationband", models.CheckConstraint(condition=models.Q(("users_max__gte", 0), ("users_max__lte", 1000000)), name="estimating_migrationband_users_max_bounded", violation_error_message="users_max must be from 0 to 1,000,000.")),
    ("migrationband", models.CheckConstraint(condition=models.Q(("projects_max__gte", 0), ("projects_max__lte", 1000000)), name="estimating_migrationband_projects_max_bounded", violation_error_message="projects_max must be from 0 to 1,000,000.")),
    ("migrationband", models.CheckConstraint(condition=models.Q(("low__gte", 0), ("low__lte", Decimal("999999999.99"))), name="estimating_migrationband_low_bounded", violation_error_message="low must be from 0 to 999,999,999.99.")),
    ("migrationband", models.CheckConstraint(condition=models.Q(("high__gte", 0), ("high__lte", Decimal("999999999.99"))), name="estimating_migrationband_high_bounded", violation_error_message="high must be from 0 to 999,999,999.99.")),
    ("migrationmatrix", models.CheckConstraint(condition=models.Q(("large_repo_block_size__gte", 0), ("large_repo_block_size__lte", 1000000)), name="estimating_migrationmatrix_large_repo_block_size_bounded", violation_error_message="large_repo_block_size must be from 0 to 1,000,000.")),
    ("migrationmatrix", models.CheckConstraint(condition=models.Q(("large_repo_block_price__gte", 0), ("large_repo_block_price__lte", Decimal("999999999.99"))), name="estimating_migrationmatrix_large_repo_block_price_bounded", violation_error_message="large_repo_block_price must be from 0 to 999,999,999.99.")),
    ("pricebookitem", models.CheckConstraint(condition=models.Q(("price__gte", 0), ("price__lte", Decimal("999999999.99"))), name="estimating_pricebookitem_price_bounded", violation_error_message="price must be from 0 to 999,999,999.99.")),
    ("ratecard", models.CheckConstraint(condition=models.Q(("day_rate__gte", 0), ("day_rate__lte", Decimal("999999999.99"))), name="estimating_ratecard_day_rate_bounded", violation_error_message="day_rate must be from 0 to 999,999,999.99.")),
    ("ratecard", models.CheckConstraint(condition=models.Q(("management_percent_low__gte", 0), ("management_percent_low__lte", 100)), name="estimating_ratecard_management_percent_low_bounded", violation_error_message="management_percent_low must be from 0% to 100%.")),
    ("ratecard", models.CheckConstraint(condition=models.Q(("management_percent_high__gte", 0), ("management_percent_high__lte", 100)), name="estimating_ratecard_management_percent_high_bounded", violation_error_message="management_percent_high must be from 0% to 100%.")),
    ("ratecardactivity", models.CheckConstraint(condition=models.Q(("low_days__gte", 0), ("low_days__lte", 1000)), name="estimating_ratecardactivity_low_days_bounded", violation_error_message="low_days must be from 0 days to 1,000 days.")),
    ("ratecardactivity", models.CheckConstraint(condition=models.Q(("high_days__gte", 0), ("high_days__lte", 1000)), name="estimating_ratecardactivity_high_days_bounded", violation_error_message="high_days must be from 0 days to 1,000 days.")),
    ("romversion", models.CheckConstraint(condition=models.Q(models.Q(("low__gte", 0), ("low__lte", Decimal("999999999.99"))), ("low__isnull", True), _connector="OR"), name="estimating_romversion_low_bounded", violation_error_message="low must be from 0 to 999,999,999.99.")),
    ("romversion", models.CheckConstraint(condition=models.Q(models.Q(("high__gte", 0), ("high__lte", Decimal("999999999.99"))), ("high__isnull", True), _connector="OR"), name="estimating_romversion_high_bounded", violation_error_message="high must be from 0 to 999,999,999.99.")),
]

# On SQLite a new check constraint rebuilds the table, which drops its triggers: put the immutability trigger of
# estimating_romversion back (on PostgreSQL it is dropped and created again, the same).
RULES = [Fixed("romversion_fixed", "estimating_romversion", ("UPDATE",), "a ROM version")]


def reinstall_triggers(apps, schema_editor):
    remove(schema_editor, RULES)
    install(schema_editor, RULES)


def check_stored(apps, schema_editor):
    for model_name, constraint in BOUNDS:
        refuse_stored_out_of_range(apps.get_model("estimating", model_name), [constraint],
                                   using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("estimating", "0004_versions_fixed")]

    operations = [
        migrations.RunPython(check_stored, migrations.RunPython.noop),
        *(migrations.AddConstraint(model_name=model_name, constraint=constraint) for model_name, constraint in BOUNDS),
        migrations.RunPython(reinstall_triggers, migrations.RunPython.noop),
    ]
