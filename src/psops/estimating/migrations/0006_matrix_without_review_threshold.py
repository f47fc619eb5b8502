"""The review threshold lives in the approval policy alone (its technical-review rule); the matrix stops storing a
second copy. See docs/decisions/0004-chain-commitments.md."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('estimating', '0005_bounded_amounts'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='migrationmatrix',
            name='technical_review_over',
        ),
    ]
