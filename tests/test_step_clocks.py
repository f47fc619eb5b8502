"""Step clocks: the timeline starts and stops them as the process moves, and the dashboards read nearest-rank
percentiles of their durations in SQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from psops.activity.models import StepClock
from psops.activity.services import event_record, thread_for
from psops.insights import selectors
from tests.factories import make_deal, reach

pytestmark = pytest.mark.django_db


def test_the_chain_starts_and_stops_each_steps_clock(people):
    e = reach(people, "completed")
    clocks = {c.step: c for c in StepClock.objects.all()}
    assert set(clocks) == {"rom", "quote", "sow", "project"}
    for step in ("rom", "quote", "sow", "project"):
        assert clocks[step].ended_at is not None and clocks[step].seconds >= 0, step
        assert clocks[step].business_days == 0, step  # the whole chain ran within today
    assert clocks["project"].subject_id == e.project.pk
    assert clocks["rom"].thread == thread_for(e.opp)


def test_a_clock_runs_from_the_first_start_to_the_first_end(people):
    _, _, opp = make_deal(people)
    thread = thread_for(opp)
    start = timezone.now()
    StepClock.objects.create(step="quote", subject_type=ContentType.objects.get_for_model(opp), subject_id=opp.pk,
                             thread=thread, started_at=start - dt.timedelta(hours=5))
    # A second "sent" (a resend) does not restart it; the first "accepted" stops it; a later one changes nothing.
    for verb in ("quote.sent", "quote.accepted", "quote.accepted"):
        event_record(actor=None, subject=opp, verb=verb, message=verb, thread=thread)
    clock = StepClock.objects.get(step="quote", subject_id=opp.pk)
    assert clock.started_at == start - dt.timedelta(hours=5)
    assert 5 * 3600 <= clock.seconds < 5 * 3600 + 60
    assert StepClock.objects.filter(step="quote").count() == 1


def test_step_times_are_nearest_rank_percentiles_of_what_the_user_sees(people):
    _, _, mine = make_deal(people)
    _, _, theirs = make_deal(people, name="Other Co")
    theirs.owner = people["sal2"]
    theirs.save(update_fields=["owner"])
    now = timezone.now()
    opp_type = ContentType.objects.get_for_model(mine)
    for days in range(1, 11):  # ten projects of mine: 1 .. 10 business days
        StepClock.objects.create(step="project", subject_type=opp_type, subject_id=1000 + days,
                                 thread=thread_for(mine), started_at=now - dt.timedelta(days=days), ended_at=now,
                                 seconds=days * 86400, business_days=days)
    StepClock.objects.create(step="project", subject_type=opp_type, subject_id=2000, thread=thread_for(theirs),
                             started_at=now - dt.timedelta(days=50), ended_at=now, seconds=50 * 86400,
                             business_days=36)
    StepClock.objects.create(step="project", subject_type=opp_type, subject_id=3000, thread=thread_for(mine),
                             started_at=now)  # still running: not counted
    steps = {s.code: s for s in selectors.step_times(user=people["sal"])}
    assert (steps["project"].count, steps["project"].median_days, steps["project"].p90_days) == (10, 5, 9)
    assert (steps["quote"].count, steps["quote"].median_days, steps["quote"].p90_days) == (0, None, None)
    # Somebody who sees every deal counts the other deal's project too: 11 values, median the 6th, p90 the 10th.
    every = {s.code: s for s in selectors.step_times(user=people["psmanager"])}["project"]
    assert (every.count, every.median_days, every.p90_days) == (11, 6, 10)


def test_the_migration_fills_the_clocks_the_timeline_would_have_kept(people):
    import importlib

    from django.apps import apps

    reach(people, "completed")
    fields = ("step", "subject_type_id", "subject_id", "thread_id", "started_at", "ended_at", "seconds")
    live = sorted(StepClock.objects.values_list(*fields))
    StepClock.objects.all().delete()
    importlib.import_module("psops.activity.migrations.0002_step_clocks").fill(apps, None)
    filled = sorted(StepClock.objects.values_list(*fields))
    assert [row[:5] for row in filled] == [row[:5] for row in live]
    # A ROM's end is its approved request's decision in the history, a moment before the "ROM approved" event.
    for was, now in zip(live, filled, strict=True):
        assert abs(was[5] - now[5]) < dt.timedelta(seconds=1) and abs(was[6] - now[6]) <= 1


def test_the_migration_counts_the_business_days_of_clocks_already_ended(people):
    """0004 fills `business_days` of the clocks that ended before the column existed; running clocks stay empty."""
    import importlib

    from django.apps import apps

    _, _, opp = make_deal(people)
    opp_type = ContentType.objects.get_for_model(opp)
    friday = timezone.make_aware(dt.datetime(2026, 11, 20, 16, 0))  # a Friday
    ended = StepClock.objects.create(step="rom", subject_type=opp_type, subject_id=1, thread=thread_for(opp),
                                     started_at=friday, ended_at=friday + dt.timedelta(days=10), seconds=864000)
    running = StepClock.objects.create(step="quote", subject_type=opp_type, subject_id=1, thread=thread_for(opp),
                                       started_at=friday)
    importlib.import_module("psops.activity.migrations.0004_step_business_days").count_ended(apps, None)
    ended.refresh_from_db()
    running.refresh_from_db()
    # Friday 20th to Monday 30th: 23-27 less Thanksgiving (26th), and the 30th: 5 business days.
    assert ended.business_days == 5 and running.business_days is None
