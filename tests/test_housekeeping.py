"""`psops prune`: the done timers, finished tasks and stopped workers older than the days kept go; what somebody must
still read (timers given up, failed tasks) and everything waiting or recent stays. The admin lists the timers."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from psops.core import housekeeping
from psops.core.models import TaskWorker, Timer

pytestmark = pytest.mark.django_db


def test_prune_deletes_only_what_is_done_and_old(monkeypatch):
    now = timezone.now()
    old, recent = now - dt.timedelta(days=40), now - dt.timedelta(days=5)
    kinds = Timer.Kind.QUOTE_EXPIRY

    def timer(n, done_at=None, outcome=""):
        return Timer.objects.create(kind=kinds, subject_id=n, due_at=old, done_at=done_at, outcome=outcome)

    gone = [timer(n, old, "true") for n in range(7)]
    kept = [timer(100, old, Timer.FAILED), timer(101, recent, "true"), timer(102)]
    for state in ("running", "stopped", "lost"):
        for when, at in (("old", old), ("new", recent)):
            TaskWorker.objects.create(worker_id=f"w-{state}-{when}", state=state, started_at=at, seen_at=at)
    for status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED, TaskResultStatus.READY):
        DBTaskResult.objects.create(task_path="psops.x", status=status, args_kwargs={},
                                    queue_name="default", backend_name="default",
                                    finished_at=old if status != TaskResultStatus.READY else None)
    monkeypatch.setattr(housekeeping, "BATCH", 3)  # three batches of timers
    out = io.StringIO()
    call_command("prune", stdout=out)
    assert out.getvalue().strip() == ("Deleted 7 done timers, 1 finished tasks and 2 stopped workers older than 30 "
                                      "days.")
    assert not Timer.objects.filter(pk__in=[t.pk for t in gone]).exists()
    assert set(Timer.objects.values_list("pk", flat=True)) == {t.pk for t in kept}
    assert set(TaskWorker.objects.values_list("worker_id", flat=True)) == {
        "w-running-old", "w-running-new", "w-stopped-new", "w-lost-new"}
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {TaskResultStatus.FAILED,
                                                                          TaskResultStatus.READY}
    call_command("prune", "--keep-days", "1", stdout=io.StringIO())
    assert set(Timer.objects.values_list("pk", flat=True)) == {kept[0].pk, kept[2].pk}


@pytest.mark.parametrize("days", ["0", "-3", "abc", "1.5", "99999", ""])
def test_prune_refuses_a_bad_number_of_days(days):
    Timer.objects.create(kind=Timer.Kind.QUOTE_EXPIRY, subject_id=1, due_at=timezone.now(),
                         done_at=timezone.now() - dt.timedelta(days=400), outcome="true")
    with pytest.raises(CommandError) as refused:
        call_command("prune", "--keep-days", days)
    assert refused.value.returncode == 2 and "--keep-days must be a whole number" in str(refused.value)
    assert Timer.objects.count() == 1


def test_the_admin_lists_the_timers_given_up(admin_client):
    failed = Timer.objects.create(kind=Timer.Kind.QUOTE_EXPIRY, subject_id=4242, due_at=timezone.now(),
                                  done_at=timezone.now(), outcome=Timer.FAILED, attempts=5, last_error="boom")
    Timer.objects.create(kind=Timer.Kind.QUOTE_EXPIRY, subject_id=77, due_at=timezone.now())
    page = admin_client.get("/admin/core/timer/?state=failed").content.decode()
    assert "4242" in page and ">77<" not in page
    assert admin_client.get(f"/admin/core/timer/{failed.pk}/change/").status_code == 200
    assert admin_client.get("/admin/core/timer/?q=not-a-number").status_code == 200
