"""Business days: weekends, the country's public holidays and the administrator's, and the passive acceptance deadline
they set (5 business days, the day the notice was sent counting as day 1)."""

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from psops.core.business_days import Calendar
from psops.core.errors import ApplicationError
from psops.core.models import Holiday
from psops.delivery.services import passive_acceptance_at

US = Calendar(country="US")
D = dt.date


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(("day", "business"), [
    (D(2026, 11, 20), True),    # Friday
    (D(2026, 11, 21), False),   # Saturday
    (D(2026, 11, 22), False),   # Sunday
    (D(2026, 11, 23), True),    # Monday
    (D(2026, 11, 26), False),   # Thanksgiving (Thursday)
    (D(2026, 11, 27), True),    # the Friday after: a working day unless the administrator says otherwise
    (D(2026, 12, 25), False),   # Christmas (Friday)
    (D(2027, 1, 1), False),     # New Year's Day (Friday)
    (D(2026, 7, 3), False),     # Independence Day falls on a Saturday: observed on the Friday
    (D(2027, 12, 31), False),   # New Year's Day 2028 falls on a Saturday: observed on Friday 31 December 2027
    (D(2027, 12, 30), True),
])
def test_weekends_and_public_holidays(day, business):
    assert US.is_business_day(day) is business


@pytest.mark.parametrize(("n", "expected"), [
    (1, D(2026, 11, 20)),  # Friday: the sending day is day 1
    (2, D(2026, 11, 23)),  # Monday, over the weekend
    (3, D(2026, 11, 24)),
    (4, D(2026, 11, 25)),
    (5, D(2026, 11, 27)),  # Friday, over Thanksgiving
])
def test_nth_business_day_counts_the_start_as_day_one(n, expected):
    assert US.nth_business_day(D(2026, 11, 20), n) == expected


@pytest.mark.parametrize(("n", "expected"), [
    (1, D(2026, 11, 23)),  # sent on a Saturday: day 1 is the next business day, Monday
    (2, D(2026, 11, 24)),
    (3, D(2026, 11, 25)),
    (4, D(2026, 11, 27)),
    (5, D(2026, 11, 30)),
])
def test_a_start_on_a_weekend_counts_from_the_next_business_day(n, expected):
    assert US.nth_business_day(D(2026, 11, 21), n) == expected


def test_counting_across_the_year_end():
    # Christmas on Friday 25 December 2026, New Year's Day on Friday 1 January 2027.
    assert [US.nth_business_day(D(2026, 12, 24), n) for n in range(1, 7)] == [
        D(2026, 12, 24), D(2026, 12, 28), D(2026, 12, 29), D(2026, 12, 30), D(2026, 12, 31), D(2027, 1, 4)]
    # A year later both holidays fall on a Saturday and are observed on the Fridays before, one of them in the old
    # year for the new one.
    assert US.nth_business_day(D(2027, 12, 23), 6) == D(2028, 1, 3)
    assert US.business_days_between(D(2026, 12, 24), D(2027, 1, 4)) == 5


def test_next_business_day_is_strictly_after():
    assert US.next_business_day(D(2026, 11, 20)) == D(2026, 11, 23)
    assert US.next_business_day(D(2026, 11, 25)) == D(2026, 11, 27)
    assert US.next_business_day(D(2026, 12, 31)) == D(2027, 1, 4)


def test_business_days_between():
    assert US.business_days_between(D(2026, 11, 20), D(2026, 11, 27)) == 4  # Mon, Tue, Wed, Fri
    assert US.business_days_between(D(2026, 11, 20), D(2026, 11, 22)) == 0  # only the weekend after
    assert US.business_days_between(D(2026, 11, 20), D(2026, 11, 20)) == 0
    assert US.business_days_between(D(2026, 11, 27), D(2026, 11, 20)) == 0  # end before start


def test_counting_starts_at_one():
    with pytest.raises(ApplicationError) as refused:
        US.nth_business_day(D(2026, 11, 20), 0)
    assert refused.value.code == "invalid-days"


def test_extra_days_off():
    calendar = Calendar(country="US", extra=frozenset({D(2026, 11, 27)}))
    assert not calendar.is_business_day(D(2026, 11, 27))
    assert calendar.nth_business_day(D(2026, 11, 20), 5) == D(2026, 11, 30)


@pytest.mark.django_db
def test_the_administrators_holidays_join_the_public_ones():
    assert Calendar.current().is_business_day(D(2026, 11, 27))
    Holiday.objects.create(date=D(2026, 11, 27), name="Day after Thanksgiving")
    calendar = Calendar.current()
    assert calendar.country == "US"
    assert not calendar.is_business_day(D(2026, 11, 27))
    assert not calendar.is_business_day(D(2026, 11, 26))  # still Thanksgiving
    assert calendar.nth_business_day(D(2026, 11, 20), 5) == D(2026, 11, 30)


# --- The passive acceptance deadline -------------------------------------------------------------------------------


@pytest.fixture
def utc_business_time(settings):
    settings.TIME_ZONE = "UTC"


@pytest.mark.django_db
@pytest.mark.usefixtures("utc_business_time")
@pytest.mark.parametrize("sent_at", [utc(2026, 11, 20, 0, 0), utc(2026, 11, 20, 9, 30), utc(2026, 11, 20, 23, 59)])
def test_passive_acceptance_of_a_notice_sent_on_the_friday_before_thanksgiving(sent_at):
    # Day 1 Friday 20, 2 Monday 23, 3 Tuesday 24, 4 Wednesday 25, (Thanksgiving), 5 Friday 27: silence is acceptance
    # from the start of Saturday 28 November.
    assert passive_acceptance_at(sent_at) == utc(2026, 11, 28)


@pytest.mark.django_db
@pytest.mark.usefixtures("utc_business_time")
def test_passive_acceptance_of_a_notice_sent_on_a_saturday():
    # Day 1 is Monday 23; Tuesday 24, Wednesday 25, Friday 27, Monday 30 make five.
    assert passive_acceptance_at(utc(2026, 11, 21, 15, 0)) == utc(2026, 12, 1)


@pytest.mark.django_db
@pytest.mark.usefixtures("utc_business_time")
def test_passive_acceptance_moves_with_the_administrators_holidays():
    Holiday.objects.create(date=D(2026, 11, 27), name="Day after Thanksgiving")
    assert passive_acceptance_at(utc(2026, 11, 20, 9, 30)) == utc(2026, 12, 1)


@pytest.mark.django_db
@pytest.mark.usefixtures("utc_business_time")
def test_passive_acceptance_across_the_year_end():
    assert passive_acceptance_at(utc(2026, 12, 24, 12, 0)) == utc(2027, 1, 1)  # day 5 is Thursday 31 December
    assert passive_acceptance_at(utc(2026, 12, 28, 12, 0)) == utc(2027, 1, 5)  # ... then Monday 4 January


@pytest.mark.django_db
def test_passive_acceptance_counts_days_in_the_business_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    # 03:00 UTC on Friday is 22:00 on Thursday 19 November in New York: Thursday is day 1, Wednesday 25 day 5.
    deadline = passive_acceptance_at(utc(2026, 11, 20, 3, 0))
    assert timezone.localtime(deadline).replace(tzinfo=None) == dt.datetime(2026, 11, 26)
    assert deadline == utc(2026, 11, 26, 5, 0)


# --- Properties ----------------------------------------------------------------------------------------------------

days = st.dates(min_value=D(2020, 1, 1), max_value=D(2035, 12, 31))
days_off = st.frozensets(st.dates(min_value=D(2020, 1, 1), max_value=D(2036, 6, 30)), max_size=20)


@hypothesis_settings(deadline=None)  # the first use of a year builds its holiday list
@given(start=days, n=st.integers(min_value=1, max_value=40), extra=days_off)
def test_nth_business_day_lands_on_a_business_day_n_minus_one_days_later(start, n, extra):
    calendar = Calendar(country="US", extra=extra)
    assume(calendar.is_business_day(start))
    result = calendar.nth_business_day(start, n)
    assert calendar.is_business_day(result)
    assert result >= start
    assert calendar.business_days_between(start, result) == n - 1


@hypothesis_settings(deadline=None)
@given(start=days, n=st.integers(min_value=1, max_value=40))
def test_a_start_that_is_no_business_day_counts_from_the_next_one(start, n):
    first = US.nth_business_day(start, 1)
    assert US.is_business_day(first)
    assert first == (start if US.is_business_day(start) else US.next_business_day(start))
    assert US.nth_business_day(start, n) == US.nth_business_day(first, n)
    # Nothing between the start and the first business day is one.
    assert US.business_days_between(start, first) == (0 if first == start else 1)


@hypothesis_settings(max_examples=200, deadline=None)  # budget: 200 pairs of days, each counted day by day as well
@given(start=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)), span=st.integers(-10, 800))
def test_counting_business_days_by_arithmetic_agrees_with_walking_the_days(start, span):
    calendar = Calendar(country="US", extra=frozenset({dt.date(2026, 12, 24), dt.date(2027, 7, 5)}))
    end = start + dt.timedelta(days=span)
    walked = sum(1 for k in range(1, span + 1) if calendar.is_business_day(start + dt.timedelta(days=k)))
    assert calendar.business_days_between(start, end) == walked
