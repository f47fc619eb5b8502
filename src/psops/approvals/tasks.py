"""The 3-business-day service level on approvals: a timer per request (psops.core.timers) that tells people when it
is breached."""

from __future__ import annotations

import datetime as dt

from psops.core.business_days import SERVICE_LEVEL_DAYS, Calendar, local_date, start_of_day
from psops.core.models import Timer
from psops.core.timers import timer_handler, timer_schedule


def service_level_deadline(submitted_at: dt.datetime) -> dt.datetime:
    """The start of the day after the 3rd business day after submission: from then on the request is late."""
    calendar = Calendar.current()
    day = local_date(submitted_at)
    for _ in range(SERVICE_LEVEL_DAYS):
        day = calendar.next_business_day(day)
    return start_of_day(day + dt.timedelta(days=1))


@timer_handler(Timer.Kind.APPROVAL_SERVICE_LEVEL)
def approval_service_level_timer(request_id: int) -> bool:
    from .services import approval_service_level_check

    return approval_service_level_check(request_id=request_id)


def schedule_service_level_check(request) -> None:
    timer_schedule(kind=Timer.Kind.APPROVAL_SERVICE_LEVEL, subject_id=request.pk,
                   due_at=service_level_deadline(request.submitted_at))
