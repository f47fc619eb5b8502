"""Timers for deals, run by the database task worker (`psops worker`)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from psops.core.taskqueue import task_enqueue_once

from .choices import INACTIVITY_DAYS, Segment


@task()
def opportunity_inactivity_task(opportunity_id: int) -> str:
    from .services import opportunity_inactivity_check

    return opportunity_inactivity_check(opportunity_id=opportunity_id)


def schedule_inactivity_check(opportunity, at: dt.datetime | None = None) -> None:
    """Queue the next inactivity check after the transaction commits (the check itself is idempotent). The check
    queues its own next run, so a check run twice (its worker died) must not queue two: one per time is enough."""
    if at is None:
        warn_days, _ = INACTIVITY_DAYS[Segment(opportunity.segment)]
        at = timezone.now() + dt.timedelta(days=warn_days)
    pk = opportunity.pk
    transaction.on_commit(lambda: task_enqueue_once(opportunity_inactivity_task, pk, run_after=at))
