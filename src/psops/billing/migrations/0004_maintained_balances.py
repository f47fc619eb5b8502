"""Open balance and paid-to-date kept on the invoice (decision 0009), filled here from the money history."""

from decimal import Decimal

import psops.core.money
from django.conf import settings
from django.db import migrations, models


PAID = "SELECT SUM(p.amount) FROM billing_payment p WHERE p.invoice_id = billing_invoice.id"
CREDITED = "SELECT SUM(c.amount) FROM billing_creditnote c WHERE c.invoice_id = billing_invoice.id"
WRITTEN = ("SELECT SUM(w.amount) FROM billing_writeoff w WHERE w.invoice_id = billing_invoice.id "
           "AND w.state = 'approved'")
FILL = f"""
UPDATE billing_invoice SET
    paid_to_date = ROUND(COALESCE(({PAID}), 0), 2),
    open_balance = CASE WHEN state = 'issued'
        THEN ROUND(amount - COALESCE(({PAID}), 0) - COALESCE(({CREDITED}), 0) - COALESCE(({WRITTEN}), 0), 2)
        ELSE 0 END
"""


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0003_bounded_amounts'),
        ('delivery', '0003_bounded_amounts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='open_balance',
            field=psops.core.money.MoneyField(decimal_places=2, default=0, max_digits=16),
        ),
        migrations.AddField(
            model_name='invoice',
            name='paid_to_date',
            field=psops.core.money.MoneyField(decimal_places=2, default=0, max_digits=16),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('state', 'issued')), fields=['due_date'], name='invoice_open_by_due'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('state', 'issued')), fields=['-open_balance', '-id'], name='invoice_open_by_balance'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('paid_to_date__gte', 0), ('paid_to_date__lte', Decimal('999999999.99'))), name='billing_invoice_paid_to_date_bounded', violation_error_message='paid_to_date must be from 0 to 999,999,999.99.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('open_balance__gte', 0), ('open_balance__lte', Decimal('999999999.99'))), name='billing_invoice_open_balance_bounded', violation_error_message='open_balance must be from 0 to 999,999,999.99.'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('paid_to_date__gte', 0), ('paid_to_date__lte', models.F('amount'))), name='invoice_paid_within_amount'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('open_balance__gte', 0), ('open_balance__lte', models.F('amount'))), name='invoice_balance_within_amount'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('state', 'issued'), ('open_balance', 0), _connector='OR'), name='invoice_owed_only_when_issued'),
        ),
    ]
