"""Business-day arithmetic: weekends, the country's public holidays and the administrator's company holidays.

Used by passive completion acceptance (5 business days, the day the notice was sent counting as day 1) and by the
3-business-day service levels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache

import holidays as holidays_lib
from django.conf import settings

from .errors import ApplicationError

# Estimates, approvals, SOWs and scoping questions: within 3 business days (the handbook's service levels).
SERVICE_LEVEL_DAYS = 3


@lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays_lib.country_holidays(country, years=year).keys())


@dataclass
class Calendar:
    """A working calendar. Build it with `Calendar.current()` to include the administrator's holidays."""

    country: str = "US"
    extra: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def current(cls) -> Calendar:
        shared = _shared_calendar.get()
        if shared is not None:
            return shared
        from .models import Holiday

        return cls(
            country=settings.PSOPS["HOLIDAY_COUNTRY"],
            extra=frozenset(Holiday.objects.values_list("date", flat=True)),
        )

    def is_business_day(self, day: dt.date) -> bool:
        if day.weekday() >= 5:
            return False
        if day in self.extra:
            return False
        return day not in _public_holidays(self.country, day.year)

    def next_business_day(self, day: dt.date) -> dt.date:
        """The first business day strictly after `day`."""
        day += dt.timedelta(days=1)
        while not self.is_business_day(day):
            day += dt.timedelta(days=1)
        return day

    def nth_business_day(self, start: dt.date, n: int) -> dt.date:
        """The n-th business day counting `start` as day 1 (or, if `start` is not a business day, the next one)."""
        if n < 1:
            raise ApplicationError(code="invalid-days", message="Count business days from 1.")
        day = start if self.is_business_day(start) else self.next_business_day(start)
        for _ in range(n - 1):
            day = self.next_business_day(day)
        return day

    def business_days_between(self, start: dt.date, end: dt.date) -> int:
        """Business days after `start` up to and including `end` (0 when end <= start): the age of a waiting item.
        Counted in constant time per year spanned (weekdays by arithmetic, less the holidays on weekdays), so a
        dashboard may ask it of every step a firm ever measured."""
        if end <= start:
            return 0
        off = {day for year in range(start.year, end.year + 1) for day in _public_holidays(self.country, year)}
        off |= self.extra
        holidays_in = sum(1 for day in off if start < day <= end and day.weekday() < 5)
        return _weekdays_through(end) - _weekdays_through(start) - holidays_in


def _weekdays_through(day: dt.date) -> int:
    """Monday to Friday from 0001-01-01 (a Monday) to `day`, inclusive."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


_shared_calendar: ContextVar[Calendar | None] = ContextVar("psops_shared_calendar", default=None)


@contextmanager
def calendar_shared() -> Iterator[Calendar]:
    """Within the block, `Calendar.current()` is the calendar read as it began: a batch of timers asks for it once
    per timer, and one read serves the whole batch (it runs in one transaction)."""
    calendar = Calendar.current()
    token = _shared_calendar.set(calendar)
    try:
        yield calendar
    finally:
        _shared_calendar.reset(token)


def local_date(moment: dt.datetime) -> dt.date:
    from django.utils import timezone

    return timezone.localtime(moment).date()


def last_day(moment: dt.datetime) -> dt.date:
    """The last day a deadline leaves usable: its own day, or the day before when it falls at midnight (a link that
    stops working at 00:00 on the 1st is last usable on the 31st)."""
    local = local_date(moment)
    from django.utils import timezone

    return local - dt.timedelta(days=1) if timezone.localtime(moment).time() == dt.time.min else local


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the business time zone, aware."""
    from django.utils import timezone

    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
