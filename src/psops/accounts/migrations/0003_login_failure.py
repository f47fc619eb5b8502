# Login failures counted by the login throttle (psops.accounts.throttle).

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_roles'),
    ]

    operations = [
        migrations.CreateModel(
            name='LoginFailure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('username', models.CharField(max_length=150)),
                ('address', models.CharField(blank=True, max_length=64)),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['-at', '-id'],
                'indexes': [models.Index(fields=['address', 'at'], name='loginfailure_address_at'), models.Index(fields=['at'], name='loginfailure_at')],
            },
        ),
    ]
