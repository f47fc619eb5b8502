# The timer table (docs/decisions/0012-timer-table.md), and the timers still waiting in the task queue moved into it.

import uuid

import django.utils.timezone
from django.db import migrations, models

# The four timers as they were queued before this migration: one django-tasks task per record, the record's id its
# one argument (decision 0005).
TASK_KINDS = {
    "psops.sales.tasks.quote_expiry_task": "quote-expiry",
    "psops.crm.tasks.opportunity_inactivity_task": "opportunity-inactivity",
    "psops.delivery.tasks.passive_acceptance_task": "passive-acceptance",
    "psops.approvals.tasks.approval_service_level_task": "approval-service-level",
}
# READY: waiting for its time. RUNNING: claimed by a worker that, workers being stopped for the deploy, died with it;
# the lease would have put it back, and the code it names is gone, so it becomes a timer too (run again: the
# handlers are idempotent).
WAITING = ["READY", "RUNNING"]
NO_RUN_AFTER_YEAR = 9999  # django-tasks-db's run_after of a task queued without one
CHUNK = 5000


def _subject_id(args_kwargs):
    args = (args_kwargs or {}).get("args") or list(((args_kwargs or {}).get("kwargs") or {}).values())
    if len(args) != 1 or not isinstance(args[0], int) or args[0] < 0:
        return None
    return args[0]


def tasks_to_timers(apps, schema_editor):
    """Each waiting task of the four timers becomes a Timer row due when the task was to run, and the task row goes:
    no timer is lost, none is queued twice. A row whose argument is not one record id is left as it is."""
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    Timer = apps.get_model("core", "Timer")
    db = schema_editor.connection.alias
    last = None
    # The same timer queued twice is one timer. The unique index that says so is only built at the end of the
    # migration, so the doubles are dropped here.
    seen = set()
    while True:
        queued = DBTaskResult.objects.using(db).filter(task_path__in=list(TASK_KINDS), status__in=WAITING)
        if last is not None:
            queued = queued.filter(pk__gt=last)
        chunk = list(queued.order_by("pk").values_list("pk", "task_path", "args_kwargs", "run_after",
                                                         "enqueued_at")[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        timers, moved = [], []
        for pk, path, args_kwargs, run_after, enqueued_at in chunk:
            subject_id = _subject_id(args_kwargs)
            if subject_id is None:
                continue
            due_at = enqueued_at if run_after.year >= NO_RUN_AFTER_YEAR else run_after
            key = (TASK_KINDS[path], subject_id, due_at)
            if key not in seen:
                seen.add(key)
                timers.append(Timer(kind=key[0], subject_id=subject_id, due_at=due_at, created_at=enqueued_at))
            moved.append(pk)
        Timer.objects.using(db).bulk_create(timers)
        DBTaskResult.objects.using(db).filter(pk__in=moved).delete()


def timers_to_tasks(apps, schema_editor):
    """Going back: each waiting timer is queued again as the task the code before this migration runs."""
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    Timer = apps.get_model("core", "Timer")
    db = schema_editor.connection.alias
    paths = {kind: path for path, kind in TASK_KINDS.items()}
    waiting = Timer.objects.using(db).filter(done_at__isnull=True).order_by("pk")
    last = 0
    while True:
        chunk = list(waiting.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        last = chunk[-1].pk
        DBTaskResult.objects.using(db).bulk_create(
            DBTaskResult(id=uuid.uuid4(), status="READY", args_kwargs={"args": [t.subject_id], "kwargs": {}},
                         priority=0, task_path=paths[t.kind], queue_name="default", backend_name="default",
                         run_after=t.due_at, worker_ids=[], return_value=None, exception_class_path="", traceback="")
            for t in chunk)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_taskworker'),
        ('django_tasks_database', '0021_conditional_partial_index_ordering'),
    ]

    operations = [
        migrations.CreateModel(
            name='Timer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('quote-expiry', 'Quote expiry'), ('opportunity-inactivity', 'Opportunity inactivity'), ('passive-acceptance', 'Passive acceptance'), ('approval-service-level', 'Approval service level')], max_length=32)),
                ('subject_id', models.PositiveBigIntegerField()),
                ('due_at', models.DateTimeField()),
                ('done_at', models.DateTimeField(blank=True, null=True)),
                ('outcome', models.CharField(blank=True, max_length=40)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('retry_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['due_at', 'id'],
                'indexes': [models.Index(condition=models.Q(('done_at__isnull', True)), fields=['due_at', 'id'], name='timer_due')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('done_at__isnull', True)), fields=('kind', 'subject_id', 'due_at'), name='one_waiting_timer'), models.CheckConstraint(condition=models.Q(('done_at__isnull', False), ('outcome', ''), _connector='OR'), name='timer_outcome_when_done')],
            },
        ),
        migrations.RunPython(tasks_to_timers, timers_to_tasks),
    ]
