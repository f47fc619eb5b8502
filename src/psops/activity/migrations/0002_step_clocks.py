"""Step clocks (the dashboards' step times), filled from the timeline written so far: each record's first start and
first end of each step; a ROM ends at its first approved request's decision."""

import django.db.models.deletion
from django.db import migrations, models


STEPS = {"rom": ("rom.created", None), "quote": ("quote.sent", "quote.accepted"),
         "sow": ("sow.created", "sow.signed"), "project": ("project.created", "project.completed")}
BATCH = 5000


def fill(apps, schema_editor):
    from django.db.models import Min

    event = apps.get_model("activity", "TimelineEvent")
    clock = apps.get_model("activity", "StepClock")
    request = apps.get_model("approvals", "ApprovalRequest")
    version = apps.get_model("estimating", "RomVersion")

    def firsts(verb):
        return (event.objects.filter(verb=verb).order_by().values("subject_type_id", "subject_id")
                .annotate(at=Min("created_at"), thread=Min("thread_id")))

    rom_of_version = dict(version.objects.values_list("pk", "rom_id").iterator())
    for step, (start, end) in STEPS.items():
        ends = {}
        if end is None:  # a ROM ends when its first request is approved
            for version_id, at in (request.objects.filter(kind="rom", state="approved").order_by()
                                   .values_list("subject_id").annotate(at=Min("decided_at")).iterator()):
                rom_id = rom_of_version.get(version_id)
                if rom_id is not None and at is not None and (rom_id not in ends or at < ends[rom_id]):
                    ends[rom_id] = at
        else:
            ends = {row["subject_id"]: row["at"] for row in firsts(end).iterator()}
        batch = []
        for row in firsts(start).iterator():
            ended = ends.get(row["subject_id"])
            ended = ended if ended is not None and ended >= row["at"] else None
            batch.append(clock(step=step, subject_type_id=row["subject_type_id"], subject_id=row["subject_id"],
                               thread_id=row["thread"], started_at=row["at"], ended_at=ended,
                               seconds=int((ended - row["at"]).total_seconds()) if ended else None))
            if len(batch) >= BATCH:
                clock.objects.bulk_create(batch)
                batch = []
        clock.objects.bulk_create(batch)


class Migration(migrations.Migration):

    dependencies = [
        ('activity', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('approvals', '0002_default_policy'),
        ('estimating', '0006_matrix_without_review_threshold'),
    ]

    operations = [
        migrations.CreateModel(
            name='StepClock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('step', models.CharField(max_length=20)),
                ('subject_id', models.PositiveBigIntegerField()),
                ('started_at', models.DateTimeField()),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('seconds', models.BigIntegerField(blank=True, null=True)),
                ('subject_type', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contenttypes.contenttype')),
                ('thread', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='activity.thread')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('seconds__isnull', False)), fields=['step', 'seconds'], name='clock_by_duration')],
                'constraints': [models.UniqueConstraint(fields=('step', 'subject_type', 'subject_id'), name='one_clock_per_step'), models.CheckConstraint(condition=models.Q(models.Q(('ended_at__isnull', True), ('seconds__isnull', True)), models.Q(('ended_at__isnull', False), ('seconds__gte', 0)), _connector='OR'), name='clock_ended_with_time')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
