"""Step clocks also keep business days (the unit of the service levels); clocks already ended are counted now."""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

BATCH = 2000


def count_ended(apps, schema_editor):
    from psops.core.business_days import Calendar

    clock_model = apps.get_model("activity", "StepClock")
    holiday_model = apps.get_model("core", "Holiday")
    calendar = Calendar(country=settings.PSOPS["HOLIDAY_COUNTRY"],
                        extra=frozenset(holiday_model.objects.values_list("date", flat=True)))
    ended = clock_model.objects.filter(ended_at__isnull=False, business_days__isnull=True).order_by("pk")
    last = 0
    while True:
        batch = list(ended.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        for clock in batch:
            clock.business_days = calendar.business_days_between(timezone.localtime(clock.started_at).date(),
                                                                 timezone.localtime(clock.ended_at).date())
        clock_model.objects.bulk_update(batch, ["business_days"])
        last = batch[-1].pk


class Migration(migrations.Migration):

    dependencies = [
        ("activity", "0003_list_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="stepclock",
            name="business_days",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(count_ended, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="stepclock",
            index=models.Index(condition=models.Q(("business_days__isnull", False)), fields=["step", "business_days"],
                               name="clock_by_business_days"),
        ),
    ]
