"""Outstanding and oldest due date kept on the collection case (decision 0014), filled here from its project's issued
invoices in one set-based UPDATE."""

import psops.core.money
from decimal import Decimal
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from psops.billing.selectors import case_figures


def fill(apps, schema_editor):
    cases = apps.get_model("billing", "CollectionCase")
    cases.objects.update(**case_figures(apps.get_model("billing", "Invoice")))


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_list_indexes'),
        ('delivery', '0004_list_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='collectionaction',
            name='by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='collectioncase',
            name='oldest_due',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='collectioncase',
            name='outstanding',
            field=psops.core.money.MoneyField(decimal_places=2, default=0, max_digits=16),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='collectioncase',
            index=models.Index(condition=models.Q(('state', 'open')), fields=['oldest_due', 'id'], name='case_open_by_due'),
        ),
        migrations.AddConstraint(
            model_name='collectioncase',
            constraint=models.CheckConstraint(condition=models.Q(('outstanding__gte', 0), ('outstanding__lte', Decimal('999999999.99'))), name='billing_collectioncase_outstanding_bounded', violation_error_message='outstanding must be from 0 to 999,999,999.99.'),
        ),
    ]
