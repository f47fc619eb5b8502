"""Housekeeping: the operational rows that only grow (done timers, finished tasks, workers long gone) are deleted
once they are older than the days kept, so the tables the workers read stay the size of the recent past.

Kept whatever their age: timers given up (`Timer.FAILED`) and failed tasks, which somebody should read first;
waiting timers, and tasks ready or running; workers still running. What the business did is on the timeline, which
is never pruned: a timer's effect (a quote expired, a deal warned) has its own event there."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from .models import TaskWorker, Timer

logger = logging.getLogger(__name__)

KEEP_DAYS = 30
BATCH = 5000

# Apps above core add the rows of theirs that only grow (the API's idempotency answers, webhook deliveries):
# a name for the summary -> the rows to delete, given the cutoff.
_more: dict[str, Callable[[dt.datetime], QuerySet]] = {}
# ... and what is not rows (the uploads of finished imports): a name -> a call that deletes what is older than the
# cutoff and returns how many it deleted.
_calls: dict[str, Callable[[dt.datetime], int]] = {}


def prune_register(name: str, rows: Callable[[dt.datetime], QuerySet]) -> None:
    """Add `rows(cutoff)` (what is done and older than the cutoff) to every prune, reported as `name`."""
    _more[name] = rows


def prune_call_register(name: str, call: Callable[[dt.datetime], int]) -> None:
    """Add `call(cutoff)` to every prune, its count reported as `name`."""
    _calls[name] = call


def _delete_in_batches(rows: QuerySet, batch: int) -> int:
    """Delete `rows` `batch` at a time, each batch its own short transaction, walking the primary key."""
    deleted, last = 0, None
    while True:
        page = rows.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
        last = ids[-1]


def prune(*, keep_days: int = KEEP_DAYS, now: dt.datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Delete the done timers, successful tasks and stopped or lost workers older than `keep_days`; returns how many
    of each were deleted."""
    if keep_days < 1:
        raise ValueError("keep_days is at least 1")
    cutoff = (now or timezone.now()) - dt.timedelta(days=keep_days)
    counts = {
        "timers": _delete_in_batches(Timer.objects.filter(done_at__lt=cutoff).exclude(outcome=Timer.FAILED), batch),
        "tasks": _delete_in_batches(DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL,
                                                                finished_at__lt=cutoff), batch),
        "workers": _delete_in_batches(TaskWorker.objects.exclude(state=TaskWorker.State.RUNNING)
                                      .filter(seen_at__lt=cutoff), batch),
    }
    for name, rows in _more.items():
        counts[name] = _delete_in_batches(rows(cutoff), batch)
    for name, call in _calls.items():
        counts[name] = call(cutoff)
    logger.info("Pruned what was done before %s: %s", cutoff.isoformat(), counts)
    return counts
