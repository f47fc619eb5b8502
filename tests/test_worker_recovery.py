"""A worker killed mid-task loses no task: the task goes back in the queue once its worker has been silent for the
lease, and its effect happens exactly once (docs/decisions/0005-task-leases.md).

The app's timers are no longer tasks (they are rows of the timer table, whose sweep needs no lease: tests/test_timers.py
kills a worker mid-sweep); the lease still guards every task the worker takes, so these tests queue a task of their
own that runs the approval service-level check (tests/lease_tasks.py).

The first tests run real worker processes (`psops worker`) on a copy of the test database in a file: one is killed
with SIGKILL in the middle of the task, another one starts and takes the task up; the copy is then loaded back so that
the assertions read it through the ORM. The others check the rules for a stale task, the recovery itself and
`psops tasks_recover`, in-process.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from psops.activity.models import Notification, TimelineEvent
from psops.approvals.models import ApprovalRequest
from psops.core import taskqueue
from psops.core.models import TaskWorker
from tests.builders_concurrency import rom_waiting_for_approval, staff
from tests.lease_tasks import service_level_task
from tests.worker_processes import ROOT, WAIT, SharedDatabase

PSOPS = str(Path(sys.executable).parent / "psops")
SLA_TASK = "tests.lease_tasks.service_level_task"
WORKER_LEASE = 1  # second, for the worker processes: short, so that a test waits for it


def breach_due(name: str) -> tuple[ApprovalRequest, DBTaskResult]:
    """An approval request submitted a month ago and still pending, and a task due that checks its service level.
    (The request's own timer, a row of the timer table, is left waiting for its original time: the task is the one
    under test.)"""
    deal = rom_waiting_for_approval(staff(), name=name)
    request = deal.request
    assert request is not None
    ApprovalRequest.objects.filter(pk=request.pk).update(submitted_at=timezone.now() - dt.timedelta(days=30))
    due = timezone.now() - dt.timedelta(minutes=1)
    task = DBTaskResult.objects.get(pk=service_level_task.using(run_after=due).enqueue(request.pk).id)
    assert task.task_path == SLA_TASK
    return request, task


def breach_events(request) -> int:
    return TimelineEvent.objects.filter(verb="approval.service_level_breached", subject_id=request.pk).count()


# --- Real worker processes, killed mid-task ---------------------------------------------------------------------------


def stored_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)  # SQLite keeps UTC, without the zone


class Workers(SharedDatabase):
    """Worker processes sharing a file copy of the test database (a subprocess cannot see pytest's own database)."""

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.hang_file = folder / "hung"

    def env(self, **extra: str) -> dict:
        return {**os.environ, "DATABASE_URL": f"sqlite:///{self.path}", "PSOPS_TASK_LEASE_SECONDS": str(WORKER_LEASE),
                "PYTHONPATH": str(ROOT),
                "PSOPS_SECRET_KEY": "worker-recovery-test-only", "PSOPS_DEBUG": "1", "PYTHONUNBUFFERED": "1",
                "PSOPS_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend", "PYTHONWARNINGS": "ignore",
                **extra}

    def start(self, worker_id: str, *, hang: str | None = None) -> subprocess.Popen:
        """`psops worker` (through tests/worker_hooks.py when it is to hang in its first task)."""
        options = ["--worker-id", worker_id, "--no-reload", "--no-startup-delay", "--interval", "0.1",
                   "--skip-checks", "-v", "1"]
        if hang:
            command = [sys.executable, "-m", "tests.worker_hooks", *options]
            env = self.env(PSOPS_TEST_HANG=hang, PSOPS_TEST_HANG_FILE=str(self.hang_file))
        else:
            command, env = [PSOPS, "worker", *options], self.env()
        log = self.folder / f"{worker_id}.log"
        with log.open("w") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append((process, log))
        return process

    def psops(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PSOPS, *args, "--skip-checks"], cwd=ROOT, env=self.env(), capture_output=True,
                              text=True, timeout=WAIT)

    def read(self, sql: str, *params):
        """One row, read straight from the shared file while the workers run. Not read-only: a worker killed while
        writing leaves a journal that the next connection must roll back."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            return db.execute(sql, params).fetchone()
        finally:
            db.close()

    def task(self, task_id) -> tuple[str, list[str]]:
        status, workers = self.read(f"SELECT status, worker_ids FROM {DBTaskResult._meta.db_table} WHERE id = ?",
                                    task_id.hex)
        return status, json.loads(workers)

    def heard_from(self, worker_id: str) -> dt.datetime:
        (seen_at,) = self.read(f"SELECT seen_at FROM {TaskWorker._meta.db_table} WHERE worker_id = ?", worker_id)
        return stored_time(seen_at)

    def claimed_at(self, task_id) -> dt.datetime:
        (started_at,) = self.read(f"SELECT started_at FROM {DBTaskResult._meta.db_table} WHERE id = ?", task_id.hex)
        return stored_time(started_at)

    def wait_for(self, what: str, condition, *, watch: subprocess.Popen | None = None):
        deadline = time.monotonic() + WAIT
        while True:
            value = condition()
            if value:
                return value
            if watch is not None and watch.poll() is not None:
                pytest.fail(f"The worker exited ({watch.returncode}) while waiting for {what}.\n{self.logs()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Still waiting for {what} after {WAIT} s.\n{self.logs()}")
            time.sleep(0.1)

    def stop(self, process: subprocess.Popen) -> int:
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=WAIT)


@pytest.fixture
def workers(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the worker processes share a file copy of the SQLite test database; the recovery rules are "
                    "checked on every database by the tests below")
    group = Workers(tmp_path)
    yield group
    group.kill_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["before", "after"], ids=["killed-before-its-effect", "killed-after-its-effect"])
def test_a_worker_killed_mid_timer_loses_no_timer_and_the_breach_is_told_once(workers, point):
    request, task = breach_due(name=f"Killed {point} Corp")
    workers.share()

    # Worker A claims the due timer and hangs in it: before its effect, or after its effect but before recording it.
    a = workers.start("worker-a", hang=point)
    workers.wait_for("worker A to hang in the timer", workers.hang_file.exists, watch=a)
    assert workers.hang_file.read_text() == str(task.pk)
    assert workers.task(task.pk) == ("RUNNING", ["worker-a"])
    # A live worker beats on while its task runs, however long it runs: here longer than the lease.
    lease = dt.timedelta(seconds=WORKER_LEASE)
    workers.wait_for("worker A to beat through a task longer than the lease",
                     lambda: workers.heard_from("worker-a") - workers.claimed_at(task.pk) > lease, watch=a)

    os.kill(a.pid, signal.SIGKILL)
    assert a.wait(timeout=WAIT) == -signal.SIGKILL
    assert workers.task(task.pk) == ("RUNNING", ["worker-a"])  # left behind, as django-tasks-db leaves it
    if point == "before":
        # Silent for the lease, it is reported stale (and --check changes nothing).
        workers.wait_for("worker A to be silent for the lease",
                         lambda: timezone.now() - workers.heard_from("worker-a") > lease)
        check = workers.psops("tasks_recover", "--check")
        assert check.returncode == 1, check.stdout + check.stderr
        assert check.stdout.startswith(f"stale task {task.pk} service_level_task({request.pk}): worker "
                                       "worker-a last heard from")
        assert "1 of 1 running task(s) stale (lease 1 s)" in check.stderr
        assert workers.task(task.pk) == ("RUNNING", ["worker-a"])

    # Worker B starts; once A has been silent for the lease, B puts the task back in the queue and runs it.
    b = workers.start("worker-b")
    workers.wait_for("worker B to run the timer again",
                     lambda: workers.task(task.pk) == ("SUCCESSFUL", ["worker-a", "worker-b"]), watch=b)
    assert workers.stop(b) == 0, workers.logs()
    assert f"Recovered task {task.pk} service_level_task({request.pk}): worker worker-a last heard from" \
        in (workers.folder / "worker-b.log").read_text()

    workers.load_back()
    # The breach is recorded and told exactly once, whichever side of its effect the first worker died on.
    assert breach_events(request) == 1
    told = list(Notification.objects.filter(kind="service-level", subject_id=request.pk)
                .values_list("recipient__username", flat=True))
    assert sorted(told) == sorted(set(told)) and {"psmanager", "dircs", "sal"} <= set(told)
    assert ApprovalRequest.objects.get(pk=request.pk).facts["service_level_breached"]
    done = DBTaskResult.objects.get(pk=task.pk)
    assert (done.status, done.worker_ids) == ("SUCCESSFUL", ["worker-a", "worker-b"])
    # Died after its effect: the second run found the breach told and did nothing.
    assert done.return_value is (point == "before")
    # The lost worker's timeline says what happened to its task.
    lost = TaskWorker.objects.get(worker_id="worker-a")
    assert lost.state == TaskWorker.State.LOST
    assert TaskWorker.objects.get(worker_id="worker-b").state == TaskWorker.State.STOPPED
    (event,) = TimelineEvent.objects.filter(verb="task.requeued")
    assert (event.subject, event.data["task_id"], event.data["attempts"]) == (lost, str(task.pk), 1)


# --- Which tasks are stale --------------------------------------------------------------------------------------------

LEASE = dt.timedelta(minutes=5)


def claimed(worker_id: str, *, at: dt.datetime, pk: int = 1) -> DBTaskResult:
    """A task claimed by `worker_id` at `at`, as the worker leaves it (RUNNING) when it dies."""
    row = DBTaskResult.objects.get(pk=service_level_task.enqueue(pk).id)
    row.claim(worker_id)
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=at)
    row.refresh_from_db()
    return row


def stale_ids(now):
    return {s.task.pk: s.why for s in taskqueue.stale_task_list(now=now, lease=LEASE)}


@pytest.mark.django_db
def test_a_task_is_stale_only_once_its_worker_is_silent_for_the_lease():
    t0 = timezone.now() - dt.timedelta(hours=2)
    taskqueue.worker_start(worker_id="w1", now=t0)
    task = claimed("w1", at=t0)
    # Tasks that are not running are never stale.
    for status in ("READY", "SUCCESSFUL", "FAILED"):
        DBTaskResult.objects.filter(pk=service_level_task.enqueue(7).id).update(status=status, started_at=t0)

    # A long task of a live worker: claimed two hours ago, its worker heard from a minute ago.
    taskqueue.worker_beat(worker_id="w1", now=t0 + dt.timedelta(minutes=119))
    assert stale_ids(now=t0 + dt.timedelta(minutes=120)) == {}
    # Silent for less than the lease: still its.
    assert stale_ids(now=t0 + dt.timedelta(minutes=119) + LEASE - dt.timedelta(seconds=1)) == {}
    # Silent for longer: taken up.
    late = t0 + dt.timedelta(minutes=119) + LEASE + dt.timedelta(seconds=1)
    (stale,) = taskqueue.stale_task_list(now=late, lease=LEASE)
    assert (stale.task.pk, stale.worker_id, stale.why, stale.attempts) == (task.pk, "w1", "silent", 1)
    assert stale.describe() == (f"task {task.pk} service_level_task(1): worker w1 last heard from 301 s ago "
                                "(lease 300 s)")
    # ... except by the worker itself, whose beat a busy database may hold up: it knows it is alive.
    assert taskqueue.stale_task_list(now=late, lease=LEASE, alive="w1") == []


@pytest.mark.django_db
def test_a_worker_without_heartbeat_holds_its_task_for_a_lease_from_the_claim():
    now = timezone.now()
    recent = claimed("plain-db-worker", at=now - LEASE + dt.timedelta(seconds=5), pk=1)
    old = claimed("plain-db-worker", at=now - LEASE - dt.timedelta(seconds=5), pk=2)
    assert stale_ids(now) == {old.pk: "silent"}
    assert recent.pk not in stale_ids(now)


@pytest.mark.django_db
def test_a_stopped_or_restarted_worker_leaves_its_task_at_once():
    now = timezone.now()
    taskqueue.worker_start(worker_id="stopped", now=now - dt.timedelta(seconds=30))
    of_stopped = claimed("stopped", at=now - dt.timedelta(seconds=20), pk=1)
    taskqueue.worker_stop(worker_id="stopped", now=now - dt.timedelta(seconds=10))
    # A worker with a fixed id (`--worker-id host-1`) restarted: what it held before is its previous life's.
    taskqueue.worker_start(worker_id="host-1", now=now - dt.timedelta(seconds=60))
    before_restart = claimed("host-1", at=now - dt.timedelta(seconds=50), pk=2)
    taskqueue.worker_start(worker_id="host-1", now=now - dt.timedelta(seconds=5))
    since_restart = claimed("host-1", at=now - dt.timedelta(seconds=1), pk=3)
    assert stale_ids(now) == {of_stopped.pk: "gone", before_restart.pk: "restarted"}
    assert since_restart.pk not in stale_ids(now)


# --- Recovery ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_requeues_a_stale_task_once_and_says_so_on_the_lost_workers_timeline():
    now = timezone.now()
    taskqueue.worker_start(worker_id="dead", now=now - dt.timedelta(hours=1))
    task = claimed("dead", at=now - dt.timedelta(hours=1))

    (recovery,) = taskqueue.stale_task_recover(now=now, lease=LEASE, max_attempts=5)
    assert recovery.outcome == "requeued"
    task.refresh_from_db()
    assert (task.status, task.args_kwargs, task.worker_ids) == ("READY", {"args": [1], "kwargs": {}}, ["dead"])
    dead = TaskWorker.objects.get(worker_id="dead")
    assert dead.state == TaskWorker.State.LOST
    (event,) = TimelineEvent.objects.filter(verb="task.requeued")
    assert event.subject == dead and event.data["task_path"] == SLA_TASK
    assert "service_level_task(1) put back in the queue" in event.message

    # A second recovery finds nothing to do.
    assert taskqueue.stale_task_recover(now=now, lease=LEASE) == []
    assert TimelineEvent.objects.filter(verb__startswith="task.").count() == 1


@pytest.mark.django_db
def test_recovery_leaves_alone_a_task_that_finished_or_a_worker_that_spoke_meanwhile():
    now = timezone.now()
    taskqueue.worker_start(worker_id="slow", now=now - dt.timedelta(hours=1))
    finished = claimed("slow", at=now - dt.timedelta(hours=1), pk=1)
    held = claimed("slow", at=now - dt.timedelta(hours=1), pk=2)
    found = {stale.task.pk: stale for stale in taskqueue.stale_task_list(now=now, lease=LEASE)}
    assert set(found) == {finished.pk, held.pk}

    # Between the list and the recovery, the first task finishes ...
    DBTaskResult.objects.get(pk=finished.pk).set_successful(True)
    assert taskqueue.stale_task_take_up(stale=found[finished.pk], now=now, lease=LEASE) is None
    assert DBTaskResult.objects.get(pk=finished.pk).status == "SUCCESSFUL"
    assert TaskWorker.objects.get(worker_id="slow").state == TaskWorker.State.RUNNING  # not declared lost for it
    # ... and the worker, only slow, speaks again: it keeps the other one.
    taskqueue.worker_beat(worker_id="slow", now=now)
    assert taskqueue.stale_task_take_up(stale=found[held.pk], now=now, lease=LEASE) is None
    assert DBTaskResult.objects.get(pk=held.pk).status == "RUNNING"
    assert not TimelineEvent.objects.filter(verb__startswith="task.").exists()


@pytest.mark.django_db
def test_a_task_whose_workers_keep_dying_is_given_up_and_the_command_exits_1():
    now = timezone.now()
    task = claimed("w1", at=now - dt.timedelta(hours=1))
    DBTaskResult.objects.filter(pk=task.pk).update(worker_ids=["w1", "w2", "w3", "w4", "w5"])
    with pytest.raises(CommandError) as refused:
        call_command("tasks_recover", stdout=(out := io.StringIO()))
    assert refused.value.returncode == 1
    assert "1 given up (marked failed)" in str(refused.value)
    assert f"abandoned task {task.pk} service_level_task(1): worker w5 writes no heartbeat" in out.getvalue()
    task.refresh_from_db()
    assert (task.status, task.exception_class_path) == ("FAILED", taskqueue.WORKER_LOST)
    assert "died 5 times" in task.traceback
    assert TimelineEvent.objects.filter(verb="task.abandoned").count() == 1


@pytest.mark.django_db
def test_tasks_recover_reports_with_check_then_recovers():
    out = io.StringIO()
    call_command("tasks_recover", "--check", stdout=out)
    assert out.getvalue() == "No stale tasks (0 running, lease 300 s).\n"

    task = claimed("gone", at=timezone.now() - dt.timedelta(hours=1))
    live = claimed("busy", at=timezone.now() - dt.timedelta(hours=1), pk=2)
    taskqueue.worker_start(worker_id="busy", now=timezone.now() - dt.timedelta(hours=2))
    taskqueue.worker_beat(worker_id="busy")
    with pytest.raises(CommandError) as stale:
        call_command("tasks_recover", "--check", stdout=(out := io.StringIO()))
    assert stale.value.returncode == 1
    assert "1 of 2 running task(s) stale (lease 300 s)" in str(stale.value)
    assert out.getvalue().startswith(f"stale task {task.pk} service_level_task(1): worker gone writes no heartbeat")
    assert DBTaskResult.objects.get(pk=task.pk).status == "RUNNING"  # --check changes nothing

    call_command("tasks_recover", stdout=(out := io.StringIO()))
    assert out.getvalue().splitlines()[-1] == "1 stale task(s) put back in the queue."
    assert DBTaskResult.objects.get(pk=task.pk).status == "READY"
    assert DBTaskResult.objects.get(pk=live.pk).status == "RUNNING"


@pytest.mark.django_db
@pytest.mark.parametrize("lease", ["-1", "soon", "nan"])
def test_tasks_recover_refuses_a_bad_lease_with_exit_2(lease):
    claimed("gone", at=timezone.now() - dt.timedelta(hours=1))
    with pytest.raises(CommandError) as refused:
        call_command("tasks_recover", "--lease", lease, stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert "--lease must be a number of seconds, 0 or more" in str(refused.value)
    assert DBTaskResult.objects.get().status == "RUNNING"  # nothing changed


def run_worker(*args: str) -> str:
    """`psops worker` in-process, as cron runs it (`--batch`); it installs signal handlers: give pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    out = io.StringIO()
    try:
        call_command("worker", "--batch", "--no-reload", "--no-startup-delay", *args, verbosity=1, stdout=out)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_worker_takes_up_a_dead_workers_timer_as_it_starts():
    request, task = breach_due(name="Dead Worker Corp")
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    taskqueue.worker_start(worker_id="dead", now=an_hour_ago)
    DBTaskResult.objects.get(pk=task.pk).claim("dead")  # ... and then it died

    output = run_worker("--worker-id", "cron")
    assert f"Recovered task {task.pk} service_level_task({request.pk}): worker dead last heard from" in output
    task.refresh_from_db()
    assert (task.status, task.worker_ids, task.return_value) == ("SUCCESSFUL", ["dead", "cron"], True)
    assert breach_events(request) == 1
    assert TaskWorker.objects.get(worker_id="cron").state == TaskWorker.State.STOPPED

    # The next run finds nothing stale and nothing due: the breach stays told once.
    assert "Recovered" not in run_worker("--worker-id", "cron-2")
    assert breach_events(request) == 1
