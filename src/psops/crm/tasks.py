"""The deal-inactivity timer (psops.core.timers): an idle deal in 1-Discovery or 2-Scoping is warned, then closed."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from psops.core.models import Timer
from psops.core.timers import timer_handler, timer_schedule

from .choices import INACTIVITY_DAYS, Segment


@timer_handler(Timer.Kind.OPPORTUNITY_INACTIVITY)
def opportunity_inactivity_timer(opportunity_id: int) -> str:
    from .services import opportunity_inactivity_check

    return opportunity_inactivity_check(opportunity_id=opportunity_id)


def schedule_inactivity_check(opportunity, at: dt.datetime | None = None) -> None:
    """Arm the next inactivity check (the check itself is idempotent). The check arms its own next run, so a check
    run twice arms that run once: the timer table keeps one waiting timer per deal and moment."""
    if at is None:
        warn_days, _ = INACTIVITY_DAYS[Segment(opportunity.segment)]
        at = timezone.now() + dt.timedelta(days=warn_days)
    timer_schedule(kind=Timer.Kind.OPPORTUNITY_INACTIVITY, subject_id=opportunity.pk, due_at=at)
