"""Task leases: a task claimed by a worker that died is taken up again (docs/decisions/0005-task-leases.md).

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again, so a worker killed mid-task
(kill -9, out of memory, a lost machine) would leave it RUNNING for ever, and a timer would never fire. Each
`psops worker` therefore writes a heartbeat (`TaskWorker.seen_at`) while it lives, and a RUNNING task whose worker
has not been heard from for the lease (`settings.PSOPS_TASK_LEASE_SECONDS`) goes back in the queue. A worker that
writes no heartbeat (the library's own `db_worker`) holds its task for one lease from when it claimed it.

Taking a task up again may run it twice: the first worker may have done the work and died before recording it, or
may only have been slow to answer. So every task must be idempotent. (Timers are not tasks any more: they are rows of
the timer table, swept by the same worker in transactions of their own, which need no lease: psops.core.timers.)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from .models import TaskWorker

logger = logging.getLogger("psops.worker")

# A worker beats this many times per lease, so one slow beat (a busy database) does not make it look dead.
BEATS_PER_LEASE = 5
WORKER_LOST = "psops.core.taskqueue.WorkerLost"
UNKNOWN_WORKER = "(no worker recorded)"


class WorkerLost(Exception):
    """The class recorded on a task given up because its workers kept dying while running it."""


def task_lease(seconds: float | None = None) -> dt.timedelta:
    return dt.timedelta(seconds=settings.PSOPS_TASK_LEASE_SECONDS if seconds is None else seconds)


def task_max_attempts() -> int:
    return int(settings.PSOPS_TASK_MAX_ATTEMPTS)


def _ago(now: dt.datetime, then: dt.datetime) -> str:
    return f"{max(0, round((now - then).total_seconds()))} s ago"


# --- Sweeps -----------------------------------------------------------------------------------------------------------

# Queues kept as rows of an app's own table (the documents waiting to be generated), worked by `psops worker` at each
# poll after the timers. An app registers its sweep in its AppConfig.ready, so this module imports no app.
_sweeps: list[Any] = []


def sweep_register(sweep: Any) -> None:
    """Add `sweep`, a function of no argument returning how many rows it worked, to every worker's poll."""
    if sweep not in _sweeps:
        _sweeps.append(sweep)


def sweeps() -> list[Any]:
    return list(_sweeps)


# --- Workers ----------------------------------------------------------------------------------------------------------


def worker_start(*, worker_id: str, now: dt.datetime | None = None) -> TaskWorker:
    """A worker starts: known, running, just heard from. Tasks it held under the same id before a restart are its
    previous life's, so `stale_task_list` finds them at once."""
    now = now or timezone.now()
    worker, _ = TaskWorker.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": socket.gethostname()[:255], "pid": os.getpid(), "state": TaskWorker.State.RUNNING,
                  "started_at": now, "seen_at": now, "stopped_at": None},
    )
    return worker


def worker_beat(*, worker_id: str, now: dt.datetime | None = None) -> None:
    """The worker is alive. One declared lost that turns out alive (it was only slow) is running again: its task went
    back in the queue meanwhile, and idempotent tasks make the second run harmless."""
    with transaction.atomic():
        # The time is taken once the transaction holds the database (SQLite waits for its turn here), so a beat
        # delayed by a busy database does not record a time already past.
        now = now or timezone.now()
        alive = TaskWorker.objects.filter(worker_id=worker_id).exclude(state=TaskWorker.State.STOPPED)
        if not alive.update(seen_at=now, state=TaskWorker.State.RUNNING) and not TaskWorker.objects.filter(
                worker_id=worker_id).exists():
            worker_start(worker_id=worker_id, now=now)


def worker_stop(*, worker_id: str, now: dt.datetime | None = None) -> None:
    """A worker stops cleanly (it finishes its task first): any task still RUNNING under its id is stale at once."""
    now = now or timezone.now()
    TaskWorker.objects.filter(worker_id=worker_id).update(state=TaskWorker.State.STOPPED, stopped_at=now, seen_at=now)


# --- Stale tasks ------------------------------------------------------------------------------------------------------


class Why:
    SILENT = "silent"  # not heard from for the lease (or, writing no heartbeat, claimed more than a lease ago)
    GONE = "gone"  # its worker stopped, or was declared lost
    RESTARTED = "restarted"  # claimed by a worker that has since restarted under the same id


@dataclass(frozen=True)
class StaleTask:
    """A RUNNING task whose worker is gone, and why we think so."""

    task: DBTaskResult
    worker_id: str
    heard_at: dt.datetime  # the worker's last heartbeat, or the claim for a worker that writes none
    why: str
    detail: str

    @property
    def attempts(self) -> int:
        return len(self.task.worker_ids)

    @property
    def call(self) -> str:
        args = [repr(a) for a in self.task.args_kwargs.get("args", [])]
        args += [f"{k}={v!r}" for k, v in self.task.args_kwargs.get("kwargs", {}).items()]
        return f"{self.task.task_path.rsplit('.', 1)[-1]}({', '.join(args)})"

    def describe(self) -> str:
        return f"task {self.task.pk} {self.call}: worker {self.worker_id} {self.detail}"


def stale_task_list(*, now: dt.datetime | None = None, lease: dt.timedelta | None = None,
                    alive: str | None = None) -> list[StaleTask]:
    """RUNNING tasks whose worker is gone: not heard from for the lease, stopped, lost, or restarted since its claim.
    A task of a live worker is never stale, however long it runs; `alive` names a worker known to be alive whatever
    its heartbeat says (the worker asking: its own beat may have been held up by a busy database)."""
    now = now or timezone.now()
    lease = task_lease() if lease is None else lease
    cutoff = now - lease
    running = list(DBTaskResult.objects.running().order_by("started_at"))
    claimed_by = {task.pk: (task.worker_ids[-1] if task.worker_ids else UNKNOWN_WORKER) for task in running}
    workers = {w.worker_id: w for w in TaskWorker.objects.filter(worker_id__in=set(claimed_by.values()))}
    stale = []
    for task in running:
        worker_id = claimed_by[task.pk]
        worker = workers.get(worker_id)
        claimed_at = task.started_at or task.enqueued_at
        if worker is None:
            if claimed_at < cutoff:
                stale.append(StaleTask(task, worker_id, claimed_at, Why.SILENT,
                                       f"writes no heartbeat and claimed the task {_ago(now, claimed_at)} "
                                       f"(lease {lease.total_seconds():g} s)"))
        elif worker.state != TaskWorker.State.RUNNING:
            stale.append(StaleTask(task, worker_id, worker.seen_at, Why.GONE,
                                   f"is {worker.get_state_display().lower()} (last heard from "
                                   f"{_ago(now, worker.seen_at)})"))
        elif claimed_at < worker.started_at:
            stale.append(StaleTask(task, worker_id, worker.seen_at, Why.RESTARTED,
                                   f"restarted {_ago(now, worker.started_at)}, after it claimed the task"))
        elif worker.seen_at < cutoff and worker_id != alive:
            stale.append(StaleTask(task, worker_id, worker.seen_at, Why.SILENT,
                                   f"last heard from {_ago(now, worker.seen_at)} (lease {lease.total_seconds():g} s)"))
    return stale


@dataclass(frozen=True)
class Recovery:
    stale: StaleTask
    outcome: str  # "requeued" or "abandoned"

    def describe(self) -> str:
        done = ("put back in the queue" if self.outcome == "requeued"
                else f"marked failed after {self.stale.attempts} attempts")
        return f"{self.stale.describe()}; {done}"


def stale_task_recover(*, now: dt.datetime | None = None, lease: dt.timedelta | None = None,
                       max_attempts: int | None = None, alive: str | None = None) -> list[Recovery]:
    """Put each stale task back in the queue, so no timer is lost when a worker dies. A task whose workers died
    running it `max_attempts` times is marked failed instead (WorkerLost), so a task that kills its worker does not
    do so for ever. Each change is conditional on the task being still RUNNING under the same claim, so a task that
    finished, or that another worker recovered, in the meantime is left alone; the lost worker's timeline records
    each change."""
    now = now or timezone.now()
    lease = task_lease() if lease is None else lease
    recovered = []
    for stale in stale_task_list(now=now, lease=lease, alive=alive):
        outcome = stale_task_take_up(stale=stale, now=now, lease=lease, max_attempts=max_attempts)
        if outcome:
            recovered.append(Recovery(stale, outcome))
    return recovered


def stale_task_take_up(*, stale: StaleTask, now: dt.datetime | None = None, lease: dt.timedelta | None = None,
                       max_attempts: int | None = None) -> str | None:
    """Take up one task found stale: put it back in the queue ("requeued"), or mark it failed when its workers died
    `max_attempts` times ("abandoned"). None, changing nothing, when since it was found it finished, was taken up
    elsewhere, or its worker spoke (it was only slow). The lost worker's timeline records the change."""
    from psops.activity.services import event_record

    now = now or timezone.now()
    cutoff = now - (task_lease() if lease is None else lease)
    max_attempts = task_max_attempts() if max_attempts is None else max_attempts
    with transaction.atomic():
        worker = _worker_lost(stale, cutoff=cutoff)
        same_claim = DBTaskResult.objects.filter(pk=stale.task.pk, status=TaskResultStatus.RUNNING,
                                                 started_at=stale.task.started_at)
        if worker is None:
            changed = 0
        elif stale.attempts >= max_attempts:
            outcome = "abandoned"
            message = f"{stale.call} marked failed: its workers died running it {stale.attempts} times"
            changed = same_claim.update(
                status=TaskResultStatus.FAILED, finished_at=now, return_value=None, exception_class_path=WORKER_LOST,
                traceback=f"{WORKER_LOST}: the workers running this task died {stale.attempts} times (last: worker "
                          f"{stale.worker_id} {stale.detail}); it is not run again.\n")
        else:
            outcome = "requeued"
            message = f"{stale.call} put back in the queue: its worker {stale.detail}"
            changed = same_claim.update(status=TaskResultStatus.READY)
        if not changed:
            transaction.set_rollback(True)  # the worker stays as it was
            return None
        assert worker is not None
        event_record(actor=None, subject=worker, verb=f"task.{outcome}", message=message,
                     data={"task_id": str(stale.task.pk), "task_path": stale.task.task_path,
                           "args_kwargs": stale.task.args_kwargs, "attempts": stale.attempts, "why": stale.why})
    return outcome


def _worker_lost(stale: StaleTask, *, cutoff: dt.datetime) -> TaskWorker | None:
    """The worker that held a stale task, declared lost if it was running; None if it has spoken since."""
    worker = TaskWorker.objects.filter(worker_id=stale.worker_id).first()
    if worker is None:  # a worker that writes no heartbeat: known from now on, as lost
        return TaskWorker.objects.create(worker_id=stale.worker_id[:64], state=TaskWorker.State.LOST,
                                         started_at=stale.heard_at, seen_at=stale.heard_at)
    if stale.why == Why.SILENT and worker.state == TaskWorker.State.RUNNING:
        if not TaskWorker.objects.filter(pk=worker.pk, state=TaskWorker.State.RUNNING,
                                         seen_at__lt=cutoff).update(state=TaskWorker.State.LOST):
            return None
        worker.state = TaskWorker.State.LOST
    return worker


# --- The worker's heartbeat -------------------------------------------------------------------------------------------


class Heartbeat:
    """Around a worker's loop: registers the worker, recovers stale tasks, then beats (and recovers again) from a
    thread of its own every lease / BEATS_PER_LEASE, so a long task does not silence its worker; a clean exit marks
    the worker stopped. A worker killed outright simply stops beating."""

    def __init__(self, *, worker_id: str, lease: dt.timedelta | None = None):
        self.worker_id = worker_id
        self.lease = task_lease() if lease is None else lease
        if self.lease.total_seconds() <= 0:
            raise ValueError("The task lease (PSOPS_TASK_LEASE_SECONDS) must be positive.")
        self.period = self.lease.total_seconds() / BEATS_PER_LEASE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"psops-heartbeat-{worker_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        worker = worker_start(worker_id=self.worker_id)
        logger.info("Worker %s on %s (pid %s): lease %g s, heartbeat every %g s", worker.worker_id, worker.hostname,
                    worker.pid, self.lease.total_seconds(), self.period)
        self.recover()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            worker_stop(worker_id=self.worker_id)
        except DatabaseError:
            logger.exception("Could not record that worker %s stopped; its tasks go back after the lease",
                             self.worker_id)

    def recover(self) -> list[Recovery]:
        recovered = stale_task_recover(lease=self.lease, alive=self.worker_id)
        for recovery in recovered:
            logger.warning("Recovered %s", recovery.describe())
        return recovered

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.period):
                try:
                    close_old_connections()
                    worker_beat(worker_id=self.worker_id)
                    self.recover()
                except Exception:
                    # The heartbeat must outlive a busy or briefly unreachable database: try again next beat.
                    logger.exception("Heartbeat of worker %s failed; trying again in %g s", self.worker_id,
                                     self.period)
        finally:
            connection.close()  # this thread's own connection
