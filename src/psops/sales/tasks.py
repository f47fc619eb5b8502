"""The quote-expiry timer (psops.core.timers): a sent quote not answered by the end of its validity date expires."""

from __future__ import annotations

import datetime as dt

from psops.core.business_days import start_of_day
from psops.core.models import Timer
from psops.core.timers import timer_handler, timer_schedule


@timer_handler(Timer.Kind.QUOTE_EXPIRY)
def quote_expiry_timer(quote_id: int) -> bool:
    from .services import quote_expire

    return quote_expire(quote_id=quote_id)


def schedule_quote_expiry(quote) -> None:
    timer_schedule(kind=Timer.Kind.QUOTE_EXPIRY, subject_id=quote.pk,
                   due_at=start_of_day(quote.valid_until + dt.timedelta(days=1)))
