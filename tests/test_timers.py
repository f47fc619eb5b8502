"""Timers (docs/decisions/0012-timer-table.md): the services arm them as rows of the timer table, and the sweep of
`psops worker` runs each one once it is due, exactly once, its effect and its done mark in one transaction.

To make a timer due without waiting days, a test moves its deadline into the past: the timer's `due_at` and the
record's own deadline, which the service checks again when the timer runs. Tests that run worker processes share
the test database with them: on PostgreSQL the test database itself (those tests commit for real), on SQLite a file
copy of it, loaded back afterwards.
"""

import datetime as dt
import io
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Max, Min
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from psops.activity.models import Notification, Thread, TimelineEvent
from psops.activity.services import message_post, thread_for
from psops.approvals import services as approvals
from psops.approvals.models import ApprovalRequest
from psops.core import timers
from psops.core.models import Timer
from psops.crm.models import Opportunity
from psops.crm.services import opportunity_inactivity_check, opportunity_move_stage
from psops.crm.tasks import schedule_inactivity_check
from psops.delivery import services as delivery
from psops.delivery.models import AcceptanceRequest, Project
from psops.estimating import services as estimating
from psops.sales import services as sales
from psops.sales.models import Quote
from tests.builders_concurrency import project_in_delivery, rom_waiting_for_approval, staff
from tests.factories import customer, make_deal
from tests.worker_processes import WAIT, SharedDatabase

pytestmark = pytest.mark.django_db

PSOPS = str(Path(sys.executable).parent / "psops")

Kind = Timer.Kind


def waiting(kind, subject_id):
    return Timer.objects.filter(kind=kind, subject_id=subject_id, done_at__isnull=True)


def make_due(*timers_, ago=dt.timedelta(minutes=1)):
    """Move timers' deadlines into the past (each a microsecond apart: the same timer may not wait twice)."""
    assert timers_, "no timer was armed"
    past = timezone.now() - ago
    for offset, timer in enumerate(timers_):
        Timer.objects.filter(pk=timer.pk).update(due_at=past - dt.timedelta(microseconds=offset))


def done(timer):
    timer = Timer.objects.get(pk=timer.pk)
    assert timer.done_at is not None, f"{timer} has not run (attempts {timer.attempts}: {timer.last_error})"
    return timer.outcome


def run_worker():
    """The worker as cron runs it: every timer that is due and every task, then it exits."""
    # The worker installs its own signal handlers; give pytest's back afterwards.
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command("worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0, stdout=io.StringIO())
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def events(verb, subject_id):
    return TimelineEvent.objects.filter(verb=verb, subject_id=subject_id).count()


# --- Arming -----------------------------------------------------------------------------------------------------------


def test_arming_the_same_timer_twice_makes_one_row():
    at = timezone.now() + dt.timedelta(days=3)
    timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=7, due_at=at)
    timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=7, due_at=at)
    assert waiting(Kind.QUOTE_EXPIRY, 7).count() == 1
    # Another moment, another record or another kind is another timer.
    timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=7, due_at=at + dt.timedelta(days=1))
    timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=8, due_at=at)
    timers.timer_schedule(kind=Kind.PASSIVE_ACCEPTANCE, subject_id=7, due_at=at)
    assert Timer.objects.count() == 4
    # Once it has run, the same timer may be armed again: the rule holds for waiting timers only.
    Timer.objects.filter(kind=Kind.QUOTE_EXPIRY, subject_id=7, due_at=at).update(done_at=timezone.now(),
                                                                                 outcome="false")
    timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=7, due_at=at)
    assert Timer.objects.filter(kind=Kind.QUOTE_EXPIRY, subject_id=7, due_at=at).count() == 2
    with pytest.raises(ValueError):
        timers.timer_schedule(kind="alarm-clock", subject_id=7, due_at=at)


def test_a_timer_is_armed_with_the_change_that_arms_it_or_not_at_all(people, deal):
    _account, _contact, opp = deal
    with pytest.raises(RuntimeError), transaction.atomic():
        schedule_inactivity_check(opp)
        raise RuntimeError("the change fails after arming its timer")
    assert not Timer.objects.filter(subject_id=opp.pk).exists()
    opportunity_move_stage(user=people["sal"], opportunity=opp, stage="2-scoping")
    (timer,) = waiting(Kind.OPPORTUNITY_INACTIVITY, opp.pk)
    assert timer.due_at > timezone.now() + dt.timedelta(days=44)  # a large deal is warned after 45 days


# --- The sweep, in-process ----------------------------------------------------------------------------------------


def test_timers_not_due_wait_and_due_ones_run_in_due_order(monkeypatch):
    ran = []
    timers.timer_handlers()  # the apps' own handlers are registered first; this test's replaces one of them
    monkeypatch.setitem(timers._handlers, Kind.QUOTE_EXPIRY, lambda pk: ran.append(pk) or "ran")
    now = timezone.now()
    for pk, hours in [(3, -1), (1, -3), (2, -2), (4, 1)]:
        timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=pk, due_at=now + dt.timedelta(hours=hours))

    assert timers.timer_sweep(batch=2, now=now) == 2
    assert ran == [1, 2]
    assert timers.timer_sweep(now=now) == 1
    assert timers.timer_sweep(now=now) == 0  # the fourth is not due
    assert ran == [1, 2, 3]
    assert waiting(Kind.QUOTE_EXPIRY, 4).get().attempts == 0
    assert timers.timer_sweep(now=now + dt.timedelta(hours=1)) == 1
    assert ran == [1, 2, 3, 4]
    assert set(Timer.objects.values_list("outcome", flat=True)) == {"ran"}


def test_a_failing_timer_is_retried_later_and_does_not_hold_up_the_batch(people, monkeypatch):
    """The failing handler's changes are rolled back to its savepoint; the others of the batch commit; the timer is
    tried again after a delay that doubles, then given up, which its record of the timeline says."""
    timers.timer_handlers()
    owner = people["sal"]

    def flaky(pk):
        Notification.objects.create(recipient=owner, kind="test", text=f"ran {pk}")  # an effect, then ...
        if pk == 2:
            raise RuntimeError("the mail server is down")
        return pk % 2 == 1

    monkeypatch.setitem(timers._handlers, Kind.QUOTE_EXPIRY, flaky)
    t0 = timezone.now()
    for pk in (1, 2, 3):
        timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=pk, due_at=t0 - dt.timedelta(minutes=3 - pk))

    assert timers.timer_sweep(now=t0) == 3
    assert dict(Timer.objects.filter(done_at__isnull=False).values_list("subject_id", "outcome")) == {
        1: "true", 3: "true"}
    failing = Timer.objects.get(subject_id=2)
    assert (failing.done_at, failing.attempts, failing.retry_at) == (None, 1, t0 + timers.RETRY_AFTER)
    assert "RuntimeError: the mail server is down" in failing.last_error
    assert sorted(Notification.objects.filter(kind="test").values_list("text", flat=True)) == ["ran 1", "ran 3"]

    # Not before its retry time; then again, each delay twice the one before, until it is given up.
    assert timers.timer_sweep(now=t0 + timers.RETRY_AFTER - dt.timedelta(seconds=1)) == 0
    at = t0 + timers.RETRY_AFTER
    for attempt in range(2, timers.MAX_ATTEMPTS):
        assert timers.timer_sweep(now=at) == 1
        failing.refresh_from_db()
        assert (failing.attempts, failing.retry_at) == (attempt, at + timers.RETRY_AFTER * 2 ** (attempt - 1))
        at = failing.retry_at
    assert not TimelineEvent.objects.filter(verb="timer.failed").exists()
    assert timers.timer_sweep(now=at) == 1
    failing.refresh_from_db()
    assert (failing.outcome, failing.attempts, failing.done_at) == (Timer.FAILED, timers.MAX_ATTEMPTS, at)
    (event,) = TimelineEvent.objects.filter(verb="timer.failed")
    assert event.subject == failing and "the mail server is down" in event.message
    assert timers.timer_sweep(now=at + dt.timedelta(days=1)) == 0
    assert Notification.objects.filter(kind="test").count() == 2


def test_a_timer_of_a_kind_without_handler_fails_as_any_other(monkeypatch):
    timers.timer_handlers()
    monkeypatch.delitem(timers._handlers, Kind.QUOTE_EXPIRY)
    timers.timer_schedule(kind=Kind.QUOTE_EXPIRY, subject_id=1, due_at=timezone.now())
    assert timers.timer_sweep() == 1
    (timer,) = Timer.objects.all()
    assert timer.attempts == 1 and "No handler is registered for timers of kind 'quote-expiry'" in timer.last_error


def test_a_sweep_costs_a_few_queries_per_timer(people):
    """Pinned on the deal-inactivity check that warns, the busiest of the four handlers: per timer, its savepoint
    and the service's own (4 statements) and the service's 9 queries (lock the deal, find its thread, its last
    activity, record the warning, the event, the notification, the next check); per batch 4 (claim the due timers,
    read the calendar once, mark them done with one update per outcome, the transaction)."""
    opps = idle_deals(people, 20)
    arm_due(Kind.OPPORTUNITY_INACTIVITY, opps)
    with CaptureQueriesContext(connection) as ctx:
        assert timers.timer_sweep() == 20
    assert len(ctx.captured_queries) == 20 * 13 + 5, "\n".join(q["sql"][:120] for q in ctx.captured_queries[:30])
    assert Timer.objects.filter(done_at__isnull=False, outcome="warned").count() == 20


# --- Passive completion acceptance (step 14), through the worker --------------------------------------------------


@pytest.fixture
def closure(transactional_db):
    """A project whose engineer has asked the customer to accept the work: in closure at 99%, the timer armed."""
    people = staff()
    deal = project_in_delivery(people, name="Timer Corp")
    request = delivery.completion_request(user=people["pse"], project=deal.project, contact=deal.contact)
    return people, deal, request


def completed_events(project):
    return events("project.completed", project.pk)


def test_silence_becomes_acceptance_when_the_timer_runs(closure):
    people, deal, request = closure
    project = deal.project
    assert (project.state, project.percent_complete) == (Project.State.CLOSURE, 99)

    # The timer is armed for the deadline, five business days counting the sending day.
    (timer,) = waiting(Kind.PASSIVE_ACCEPTANCE, request.pk)
    assert timer.due_at == request.passive_at == delivery.passive_acceptance_at(request.sent_at)
    assert request.passive_at > timezone.now()

    # Not due yet: the worker leaves it alone.
    run_worker()
    assert Timer.objects.get(pk=timer.pk).done_at is None
    assert Project.objects.get(pk=project.pk).state == Project.State.CLOSURE

    # The deadline passes with no answer.
    AcceptanceRequest.objects.filter(pk=request.pk).update(passive_at=timezone.now() - dt.timedelta(minutes=1))
    make_due(timer)
    today = timezone.localdate()
    run_worker()
    assert done(timer) == "true"
    project.refresh_from_db()
    assert (project.state, project.acceptance, project.percent_complete) == (
        Project.State.COMPLETED, Project.Acceptance.PASSIVE, 100)
    assert project.completed_date in (today, timezone.localdate())  # the same day, unless midnight passed
    assert AcceptanceRequest.objects.get(pk=request.pk).state == AcceptanceRequest.State.PASSIVE
    assert completed_events(project) == 1
    told = Notification.objects.filter(kind="completed", subject_id=project.pk).count()
    assert told >= 1

    # The worker runs again: nothing is due, nothing runs twice.
    run_worker()
    assert completed_events(project) == 1

    # Even if the timer runs again (say it was armed twice for the same deadline), it acts once.
    Timer.objects.filter(pk=timer.pk).update(done_at=None, outcome="")
    run_worker()
    assert done(timer) == "false"
    assert completed_events(project) == 1
    assert Notification.objects.filter(kind="completed", subject_id=project.pk).count() == told


def test_a_customer_who_accepted_in_time_is_not_overruled_by_the_timer(closure):
    people, deal, request = closure
    project = deal.project
    delivery.completion_accept(customer=customer(deal.contact), request=request, name="Casey Customer",
                               title="VP Engineering")

    AcceptanceRequest.objects.filter(pk=request.pk).update(passive_at=timezone.now() - dt.timedelta(minutes=1))
    (timer,) = waiting(Kind.PASSIVE_ACCEPTANCE, request.pk)
    make_due(timer)
    run_worker()
    assert done(timer) == "false"
    project.refresh_from_db()
    assert (project.state, project.acceptance, project.percent_complete) == (
        Project.State.COMPLETED, Project.Acceptance.SIGNED, 100)
    assert AcceptanceRequest.objects.get(pk=request.pk).state == AcceptanceRequest.State.ACCEPTED
    assert completed_events(project) == 1


# --- Inactivity in 1-Discovery and 2-Scoping ---------------------------------------------------------------------


def backdate(opportunity, when):
    """Pretend every act on the deal happened at `when`."""
    TimelineEvent.objects.filter(thread=thread_for(opportunity)).update(created_at=when)
    Opportunity.objects.filter(pk=opportunity.pk).update(stage_changed_at=when, created_at=when)


def scoping_deal(people, *, segment, name):
    _account, _contact, opp = make_deal(people, segment=segment, name=name)
    opportunity_move_stage(user=people["sal"], opportunity=opp, stage="2-scoping")
    return opp


def warnings_to(user, opp):
    return Notification.objects.filter(recipient=user, kind="inactivity-warning", subject_id=opp.pk).count()


@pytest.mark.django_db(transaction=True)
def test_an_idle_smb_deal_is_warned_then_closed_as_lost_by_the_worker():
    people = staff()
    sal = people["sal"]
    before = timezone.now()
    opp = scoping_deal(people, segment="smb", name="Idle Co")
    after = timezone.now()

    # Moving into 2-Scoping armed the first check for the warning day (7 days for SMB).
    (first,) = waiting(Kind.OPPORTUNITY_INACTIVITY, opp.pk)
    assert before + dt.timedelta(days=7) <= first.due_at <= after + dt.timedelta(days=7)

    # Eight days without activity: the owner is warned.
    backdate(opp, timezone.now() - dt.timedelta(days=8))
    make_due(first)
    run_worker()
    assert done(first) == "warned"
    assert warnings_to(sal, opp) == 1
    opp.refresh_from_db()
    assert opp.stage == "2-scoping" and opp.inactivity_warned_at is not None
    # ... and the check armed the next one, in the same transaction, for the closing day: 15 days after the last
    # activity.
    (second,) = waiting(Kind.OPPORTUNITY_INACTIVITY, opp.pk)
    assert abs(second.due_at - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=5)

    # Sixteen days without activity: the deal closes as lost.
    backdate(opp, timezone.now() - dt.timedelta(days=16))
    make_due(second)
    run_worker()
    assert done(second) == "closed"
    opp.refresh_from_db()
    assert opp.stage == "8-closed-lost"
    assert Notification.objects.filter(recipient=sal, kind="inactivity-closed", subject_id=opp.pk).count() == 1
    assert events("opportunity.auto_closed", opp.pk) == 1
    assert warnings_to(sal, opp) == 1
    assert not waiting(Kind.OPPORTUNITY_INACTIVITY, opp.pk).exists()  # a closed deal is not watched

    # Checks after that do nothing.
    assert opportunity_inactivity_check(opportunity_id=opp.pk) == "not-applicable"


def test_an_inactivity_check_run_twice_arms_one_next_check(people):
    _account, _contact, opp = make_deal(people, segment="smb", name="Twice Run Co")
    opportunity_move_stage(user=people["sal"], opportunity=opp, stage="2-scoping")
    eight_days_ago = timezone.now() - dt.timedelta(days=8)
    Opportunity.objects.filter(pk=opp.pk).update(stage_changed_at=eight_days_ago, created_at=eight_days_ago)
    TimelineEvent.objects.filter(thread=thread_for(opp)).update(created_at=eight_days_ago)

    def armed():
        return list(waiting(Kind.OPPORTUNITY_INACTIVITY, opp.pk).order_by("due_at").values_list("due_at", flat=True))

    (first_check,) = armed()
    # The check runs, and runs again: one warning, one next check.
    now = timezone.now()
    assert opportunity_inactivity_check(opportunity_id=opp.pk, now=now) == "warned"
    assert opportunity_inactivity_check(opportunity_id=opp.pk, now=now) == "waiting"
    assert Notification.objects.filter(kind="inactivity-warning", subject_id=opp.pk).count() == 1
    assert armed() == [first_check, eight_days_ago + dt.timedelta(days=15)]


def test_a_persons_activity_after_the_warning_resets_the_clock(people):
    sal = people["sal"]
    opp = scoping_deal(people, segment="smb", name="Busy Again Co")
    backdate(opp, timezone.now() - dt.timedelta(days=8))
    warned_at = timezone.now()
    assert opportunity_inactivity_check(opportunity_id=opp.pk, now=warned_at) == "warned"
    assert opportunity_inactivity_check(opportunity_id=opp.pk, now=warned_at) == "waiting"  # warned once only
    assert warnings_to(sal, opp) == 1

    message_post(user=people["sa"], thread=thread_for(opp), body="The customer sent the repository list.")
    posted_at = TimelineEvent.objects.filter(verb="message.comment", subject_id=opp.pk).latest("created_at").created_at

    # Sixteen days after the old activity would have closed it; the message was only eight days before.
    sixteen_days_after_old = warned_at + dt.timedelta(days=8)
    assert opportunity_inactivity_check(opportunity_id=opp.pk, now=sixteen_days_after_old) == "warned"
    assert Opportunity.objects.get(pk=opp.pk).stage == "2-scoping"
    assert warnings_to(sal, opp) == 2  # a new idle spell, a new warning

    assert opportunity_inactivity_check(opportunity_id=opp.pk,
                                        now=posted_at + dt.timedelta(days=15, seconds=-1)) == "waiting"
    assert opportunity_inactivity_check(opportunity_id=opp.pk, now=posted_at + dt.timedelta(days=15)) == "closed"
    assert Opportunity.objects.get(pk=opp.pk).stage == "8-closed-lost"


def test_system_events_are_not_activity(people):
    opp = scoping_deal(people, segment="smb", name="Quiet Co")
    backdate(opp, timezone.now() - dt.timedelta(days=8))
    assert opportunity_inactivity_check(opportunity_id=opp.pk) == "warned"  # writes a system event, now
    # The warning itself does not restart the clock.
    assert opportunity_inactivity_check(opportunity_id=opp.pk, now=timezone.now() + dt.timedelta(days=7)) == "closed"


@pytest.mark.parametrize(("segment", "warn_days", "close_days"), [
    ("large", 45, 90),
    ("pubsec", 45, 90),
    ("mid-market", 21, 45),
    ("smb", 7, 15),
])
def test_warn_and_close_thresholds_by_segment(people, segment, warn_days, close_days):
    opp = scoping_deal(people, segment=segment, name=f"Threshold {segment}")
    start = timezone.now()
    backdate(opp, start)
    second = dt.timedelta(seconds=1)

    def check(at):
        return opportunity_inactivity_check(opportunity_id=opp.pk, now=start + at)

    assert check(dt.timedelta(days=warn_days) - second) == "waiting"
    assert warnings_to(people["sal"], opp) == 0
    assert check(dt.timedelta(days=warn_days)) == "warned"
    assert warnings_to(people["sal"], opp) == 1
    assert check(dt.timedelta(days=close_days) - second) == "waiting"
    assert Opportunity.objects.get(pk=opp.pk).stage == "2-scoping"
    assert check(dt.timedelta(days=close_days)) == "closed"
    assert Opportunity.objects.get(pk=opp.pk).stage == "8-closed-lost"
    assert warnings_to(people["sal"], opp) == 1


def test_only_discovery_and_scoping_are_watched(people):
    opp = scoping_deal(people, segment="smb", name="Moving On Co")
    opportunity_move_stage(user=people["sal"], opportunity=opp, stage="3-technical-evaluation")
    backdate(opp, timezone.now() - dt.timedelta(days=30))
    assert opportunity_inactivity_check(opportunity_id=opp.pk) == "not-applicable"
    assert Opportunity.objects.get(pk=opp.pk).stage == "3-technical-evaluation"


# --- The data migration -------------------------------------------------------------------------------------------

OLD_PATHS = {
    Kind.QUOTE_EXPIRY: "psops.sales.tasks.quote_expiry_task",
    Kind.OPPORTUNITY_INACTIVITY: "psops.crm.tasks.opportunity_inactivity_task",
    Kind.PASSIVE_ACCEPTANCE: "psops.delivery.tasks.passive_acceptance_task",
    Kind.APPROVAL_SERVICE_LEVEL: "psops.approvals.tasks.approval_service_level_task",
}


TASKS_APP = ("django_tasks_database", "0021_conditional_partial_index_ordering")


def migrate(target):
    """Migrate the core app to `target`; the models (the task table's among them) as they stand there."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target, TASKS_APP]).apps


def latest() -> None:
    """Every app at its latest migration again: going back unapplied the later migrations that depend on core."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_waiting_timer_tasks_into_the_timer_table():
    old = migrate(("core", "0002_taskworker"))
    try:
        Task = old.get_model("django_tasks_database", "DBTaskResult")
        t0 = timezone.now().replace(microsecond=0) + dt.timedelta(days=2)

        def queued(path, args, *, status="READY", run_after=t0, kwargs=None):
            return Task.objects.create(status=status, args_kwargs={"args": args, "kwargs": kwargs or {}},
                                       task_path=path, backend_name="default", run_after=run_after)

        ready = {kind: queued(path, [10 + i], run_after=t0 + dt.timedelta(hours=i))
                 for i, (kind, path) in enumerate(OLD_PATHS.items())}
        queued(OLD_PATHS[Kind.QUOTE_EXPIRY], [], kwargs={"quote_id": 20})  # queued by keyword
        twice = queued(OLD_PATHS[Kind.QUOTE_EXPIRY], [10])  # the same timer queued twice: one timer
        running = queued(OLD_PATHS[Kind.PASSIVE_ACCEPTANCE], [30], status="RUNNING")  # its worker died
        kept = [queued(OLD_PATHS[Kind.QUOTE_EXPIRY], [40], status="SUCCESSFUL"),  # history stays as it is
                queued("psops.other.tasks.mail_task", [50]),  # not a timer
                queued(OLD_PATHS[Kind.QUOTE_EXPIRY], ["not an id"])]  # nothing to make of it
    finally:
        latest()

    from django_tasks_db.models import DBTaskResult

    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {t.pk for t in kept}
    moved = {(t.kind, t.subject_id, t.due_at) for t in Timer.objects.filter(done_at__isnull=True)}
    assert moved == {(Kind.QUOTE_EXPIRY, 10, t0), (Kind.OPPORTUNITY_INACTIVITY, 11, t0 + dt.timedelta(hours=1)),
                     (Kind.PASSIVE_ACCEPTANCE, 12, t0 + dt.timedelta(hours=2)),
                     (Kind.APPROVAL_SERVICE_LEVEL, 13, t0 + dt.timedelta(hours=3)), (Kind.QUOTE_EXPIRY, 20, t0),
                     (Kind.PASSIVE_ACCEPTANCE, 30, t0)}
    assert Timer.objects.count() == 6
    assert {ready[Kind.QUOTE_EXPIRY].pk, twice.pk, running.pk}.isdisjoint(DBTaskResult.objects.values_list("pk",
                                                                                                         flat=True))

    # Going back queues each waiting timer again as the task the older code runs.
    Timer.objects.filter(kind=Kind.PASSIVE_ACCEPTANCE, subject_id=30).update(done_at=timezone.now(), outcome="true")
    old = migrate(("core", "0002_taskworker"))
    try:
        Task = old.get_model("django_tasks_database", "DBTaskResult")
        back = {(t.task_path, tuple(t.args_kwargs["args"]), t.run_after)
                for t in Task.objects.filter(status="READY").exclude(pk__in=[t.pk for t in kept])}
    finally:
        latest()
    assert back == {(OLD_PATHS[kind], (subject_id,), due_at) for kind, subject_id, due_at in moved
                    if subject_id != 30}


# --- Worker processes ---------------------------------------------------------------------------------------------


@pytest.fixture
def shared(tmp_path):
    group = SharedDatabase(tmp_path)
    yield group
    group.kill_all()


def idle_deals(people, count):
    """`count` deals idle in 2-Scoping for eight days (SMB: warned after seven), each with its thread as a deal
    created through the services has, written in bulk (test data)."""
    account, _contact, _opp = make_deal(people, segment="smb", name=f"Idle Bulk {count} Co")
    Opportunity.objects.bulk_create(
        Opportunity(account=account, owner=people["sal"], name=f"Idle deal {i}", segment="smb", stage="2-scoping",
                    close_date=timezone.localdate() + dt.timedelta(days=60)) for i in range(count))
    opps = Opportunity.objects.filter(account=account, name__startswith="Idle deal ")
    eight_days_ago = timezone.now() - dt.timedelta(days=8)
    opps.update(stage_changed_at=eight_days_ago, created_at=eight_days_ago)
    ids = list(opps.values_list("pk", flat=True))
    root = ContentType.objects.get_for_model(Opportunity)
    Thread.objects.bulk_create(Thread(root_type=root, root_id=pk, title=f"Idle deal {pk}") for pk in ids)
    return ids


def arm_due(kind, subject_ids, ago=dt.timedelta(minutes=1)):
    past = timezone.now() - ago
    Timer.objects.bulk_create(Timer(kind=kind, subject_id=pk, due_at=past) for pk in subject_ids)


def quote_with_the_customer(people, *, name):
    """Steps 1-8 but the answer: the ROM approved, the quote sent to the customer, who has not answered."""
    deal = rom_waiting_for_approval(people, name=name)
    approvals.rom_decide(user=people["psmanager"], request=deal.request, outcome="approve")
    deal.rom.refresh_from_db()
    ps = estimating.rom_open_ps_opportunity(user=people["sal"], rom=deal.rom, name=f"{name} SaaS migration")
    quote = sales.quote_create(user=people["sal"], ps_opportunity=ps,
                               valid_until=timezone.localdate() + dt.timedelta(30))
    assert sales.quote_submit(user=people["sal"], quote=quote) is None
    sales.quote_send(user=people["sal"], quote=quote, contact=deal.contact)
    return quote


def runs_of_each_timer() -> dict[int, int]:
    """Timer id -> the runs that took effect, as tests/worker_hooks.py counts them."""
    return dict(TimelineEvent.objects.filter(verb="test.timer_ran").values_list("subject_id")
                .annotate(n=Count("id")).values_list("subject_id", "n"))


@pytest.mark.postgres  # runs on both; marked so that CI's PostgreSQL-only run proves the SKIP LOCKED path ran
@pytest.mark.django_db(transaction=True)
def test_two_workers_run_each_of_a_thousand_due_timers_exactly_once(shared):
    people = staff()
    # One timer of each kind that acts, on records built through the services ...
    closing = project_in_delivery(people, name="Sweep Delivery Corp")
    request = delivery.completion_request(user=people["pse"], project=closing.project, contact=closing.contact)
    AcceptanceRequest.objects.filter(pk=request.pk).update(passive_at=timezone.now() - dt.timedelta(minutes=5))
    late = rom_waiting_for_approval(people, name="Sweep Approval Corp").request
    ApprovalRequest.objects.filter(pk=late.pk).update(submitted_at=timezone.now() - dt.timedelta(days=30))
    quote = quote_with_the_customer(people, name="Sweep Quote Corp")
    Quote.objects.filter(pk=quote.pk).update(valid_until=timezone.localdate() - dt.timedelta(days=2))
    # ... every timer those services armed made due (most find nothing to do), a second one on the late request
    # (its second run must find the breach told) ...
    make_due(*Timer.objects.all(), ago=dt.timedelta(minutes=2))
    arm_due(Kind.APPROVAL_SERVICE_LEVEL, [late.pk])
    # ... and the rest of the thousand on idle deals, each to be warned.
    deals = idle_deals(people, 1000 - Timer.objects.count())
    arm_due(Kind.OPPORTUNITY_INACTIVITY, deals)
    queue = set(Timer.objects.values_list("pk", flat=True))
    assert len(queue) == 1000
    shared.share()

    began = time.monotonic()
    a, b = shared.start("sweep-a", "--batch"), shared.start("sweep-b", "--batch")
    assert (shared.wait(a), shared.wait(b)) == (0, 0), shared.logs()
    elapsed = time.monotonic() - began
    shared.load_back()

    # Every timer ran once: done, and one committed run each, whichever worker took it.
    assert Timer.objects.filter(pk__in=queue, done_at__isnull=True).count() == 0
    assert not Timer.objects.filter(outcome=Timer.FAILED).exists(), shared.logs()
    assert runs_of_each_timer() == dict.fromkeys(queue, 1)
    # Each handler's effect happened once.
    assert events("project.completed", closing.project.pk) == 1
    assert Project.objects.get(pk=closing.project.pk).acceptance == Project.Acceptance.PASSIVE
    assert events("approval.service_level_breached", late.pk) == 1
    assert events("quote.expired", quote.pk) == 1
    warned = dict(TimelineEvent.objects.filter(verb="opportunity.inactivity_warning", subject_id__in=deals)
                  .values_list("subject_id").annotate(n=Count("id")).values_list("subject_id", "n"))
    assert warned == dict.fromkeys(deals, 1)
    assert Notification.objects.filter(kind="inactivity-warning", subject_id__in=deals).count() == len(deals)
    # ... and each warning armed one closing check, in the transaction that warned.
    armed = Timer.objects.filter(kind=Kind.OPPORTUNITY_INACTIVITY, subject_id__in=deals, done_at__isnull=True)
    assert armed.count() == len(deals) and armed.values("subject_id").distinct().count() == len(deals)
    ran = TimelineEvent.objects.filter(verb="test.timer_ran").aggregate(first=Min("created_at"),
                                                                      last=Max("created_at"))
    sweeping = (ran["last"] - ran["first"]).total_seconds()
    print(f"\n2 workers on {connection.vendor}: 1,000 due timers in {elapsed:.1f} s from their start "
          f"({1000 / elapsed:.0f}/s), {sweeping:.1f} s from the first run to the last ({1000 / sweeping:.0f}/s)")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sweep_loses_no_timer_and_doubles_no_effect(shared):
    people = staff()
    late = rom_waiting_for_approval(people, name="Killed Sweep Corp").request
    ApprovalRequest.objects.filter(pk=late.pk).update(submitted_at=timezone.now() - dt.timedelta(days=30))
    Timer.objects.all().delete()  # only the timers below
    arm_due(Kind.APPROVAL_SERVICE_LEVEL, [late.pk], ago=dt.timedelta(minutes=5))  # the first of the batch
    deals = idle_deals(people, 5)
    arm_due(Kind.OPPORTUNITY_INACTIVITY, deals)
    queue = set(Timer.objects.values_list("pk", flat=True))
    shared.share()
    table = Timer._meta.db_table

    # Worker A runs the first timer, its effect written in the batch's transaction, and hangs before committing.
    a = shared.start("killed", "--batch", PSOPS_TEST_HANG="timer")
    shared.wait_for("worker A to hang in the sweep", (shared.folder / "hung").exists, watch=a)
    assert shared.read(f"SELECT COUNT(*) FROM {table} WHERE done_at IS NOT NULL") == 0
    os.kill(a.pid, signal.SIGKILL)
    assert a.wait(timeout=WAIT) == -signal.SIGKILL

    # Worker B (polling, as a service runs it) finds every timer waiting, the first one's effect undone, and runs
    # them all once.
    b = shared.start("survivor", "--interval", "0.1")
    shared.wait_for("worker B to run every timer",
                    lambda: shared.read(f"SELECT COUNT(*) FROM {table} WHERE done_at IS NULL "
                                        f"AND id IN ({','.join(map(str, queue))})") == 0, watch=b)
    b.send_signal(signal.SIGTERM)
    assert shared.wait(b) == 0, shared.logs()
    shared.load_back()

    assert runs_of_each_timer() == dict.fromkeys(queue, 1)  # A's run was rolled back with its batch
    assert events("approval.service_level_breached", late.pk) == 1
    assert Notification.objects.filter(kind="service-level", subject_id=late.pk).values("recipient").distinct() \
        .count() == Notification.objects.filter(kind="service-level", subject_id=late.pk).count()
    assert TimelineEvent.objects.filter(verb="opportunity.inactivity_warning", subject_id__in=deals).count() == 5


def test_every_kind_has_its_handler():
    """Each kind has its handler, found in the apps' `tasks` modules whichever were imported before."""
    handlers = timers.timer_handlers()
    assert set(handlers) == set(Kind.values)
    assert {h.__module__ for h in handlers.values()} == {
        "psops.sales.tasks", "psops.crm.tasks", "psops.delivery.tasks", "psops.approvals.tasks"}
