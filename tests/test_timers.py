"""Timers: the services queue tasks with `run_after`, and the real database worker (`db_worker --batch`) runs them
once they are due. The tests commit for real, since the tasks are queued when the transaction commits and the worker
reads them from the database.

To make a timer due without waiting days, a test moves its deadline into the past: the queued task's `run_after`
and the record's own deadline, which the service checks again when the task runs.
"""

import datetime as dt
import io
import signal

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from psops.activity.models import Notification, TimelineEvent
from psops.activity.services import message_post, thread_for
from psops.crm.models import Opportunity
from psops.crm.services import opportunity_inactivity_check, opportunity_move_stage
from psops.delivery import services as delivery
from psops.delivery.models import AcceptanceRequest, Project
from tests.builders_concurrency import project_in_delivery, staff
from tests.factories import customer, make_deal

pytestmark = pytest.mark.django_db(transaction=True)

PASSIVE_TASK = "psops.delivery.tasks.passive_acceptance_task"
INACTIVITY_TASK = "psops.crm.tasks.opportunity_inactivity_task"


def queued(task_path, pk):
    return DBTaskResult.objects.filter(task_path=task_path, args_kwargs__args=[pk]).order_by("enqueued_at")


def run_worker():
    """The worker as it runs in production, once: it runs every task that is due, then exits."""
    # The worker installs its own signal handlers; give pytest's back afterwards.
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", verbosity=0, stdout=io.StringIO())
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def make_due(tasks):
    ids = [t.pk for t in tasks]
    assert ids, "no task was queued"
    DBTaskResult.objects.filter(pk__in=ids).update(run_after=timezone.now() - dt.timedelta(minutes=1))
    return ids


def ran(task_id):
    task = DBTaskResult.objects.get(pk=task_id)
    assert task.status == "SUCCESSFUL", task.traceback
    return task.return_value


def completed_events(project):
    return TimelineEvent.objects.filter(verb="project.completed", subject_id=project.pk).count()


# --- Passive completion acceptance (step 14) ---------------------------------------------------------------------


@pytest.fixture
def closure():
    """A project whose engineer has asked the customer to accept the work: in closure at 99%, the timer queued."""
    people = staff()
    deal = project_in_delivery(people, name="Timer Corp")
    request = delivery.completion_request(user=people["pse"], project=deal.project, contact=deal.contact)
    return people, deal, request


def test_silence_becomes_acceptance_when_the_timer_runs(closure):
    people, deal, request = closure
    project = deal.project
    assert (project.state, project.percent_complete) == (Project.State.CLOSURE, 99)

    # The timer is queued for the deadline, five business days counting the sending day.
    (task,) = queued(PASSIVE_TASK, request.pk)
    assert task.status == "READY"
    assert task.run_after == request.passive_at == delivery.passive_acceptance_at(request.sent_at)
    assert request.passive_at > timezone.now()

    # Not due yet: the worker leaves it alone.
    run_worker()
    assert DBTaskResult.objects.get(pk=task.pk).status == "READY"
    assert Project.objects.get(pk=project.pk).state == Project.State.CLOSURE

    # The deadline passes with no answer.
    AcceptanceRequest.objects.filter(pk=request.pk).update(passive_at=timezone.now() - dt.timedelta(minutes=1))
    make_due([task])
    today = timezone.localdate()
    run_worker()
    assert ran(task.pk) is True
    project.refresh_from_db()
    assert (project.state, project.acceptance, project.percent_complete) == (
        Project.State.COMPLETED, Project.Acceptance.PASSIVE, 100)
    assert project.completed_date in (today, timezone.localdate())  # the same day, unless midnight passed
    assert AcceptanceRequest.objects.get(pk=request.pk).state == AcceptanceRequest.State.PASSIVE
    assert completed_events(project) == 1
    told = Notification.objects.filter(kind="completed", subject_id=project.pk).count()
    assert told >= 1

    # The worker restarts: nothing is due, nothing runs twice.
    run_worker()
    assert completed_events(project) == 1

    # Even if a worker died after running the task but before recording it, and the task runs again.
    DBTaskResult.objects.filter(pk=task.pk).update(status="READY")
    run_worker()
    assert ran(task.pk) is False
    assert completed_events(project) == 1
    assert Notification.objects.filter(kind="completed", subject_id=project.pk).count() == told


def test_a_customer_who_accepted_in_time_is_not_overruled_by_the_timer(closure):
    people, deal, request = closure
    project = deal.project
    delivery.completion_accept(customer=customer(deal.contact), request=request, name="Casey Customer",
                               title="VP Engineering")

    AcceptanceRequest.objects.filter(pk=request.pk).update(passive_at=timezone.now() - dt.timedelta(minutes=1))
    (task_id,) = make_due(queued(PASSIVE_TASK, request.pk))
    run_worker()
    assert ran(task_id) is False
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


def test_an_idle_smb_deal_is_warned_then_closed_as_lost_by_the_worker():
    people = staff()
    sal = people["sal"]
    before = timezone.now()
    opp = scoping_deal(people, segment="smb", name="Idle Co")
    after = timezone.now()

    # Moving into 2-Scoping queued the first check for the warning day (7 days for SMB).
    (first,) = queued(INACTIVITY_TASK, opp.pk)
    assert before + dt.timedelta(days=7) <= first.run_after <= after + dt.timedelta(days=7)

    # Eight days without activity: the owner is warned.
    backdate(opp, timezone.now() - dt.timedelta(days=8))
    make_due([first])
    run_worker()
    assert ran(first.pk) == "warned"
    assert warnings_to(sal, opp) == 1
    opp.refresh_from_db()
    assert opp.stage == "2-scoping" and opp.inactivity_warned_at is not None
    # ... and the next check is queued for the closing day: 15 days after the last activity.
    (second,) = queued(INACTIVITY_TASK, opp.pk).filter(status="READY")
    assert abs(second.run_after - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=5)

    # Sixteen days without activity: the deal closes as lost.
    backdate(opp, timezone.now() - dt.timedelta(days=16))
    make_due([second])
    run_worker()
    assert ran(second.pk) == "closed"
    opp.refresh_from_db()
    assert opp.stage == "8-closed-lost"
    assert Notification.objects.filter(recipient=sal, kind="inactivity-closed", subject_id=opp.pk).count() == 1
    assert TimelineEvent.objects.filter(verb="opportunity.auto_closed", subject_id=opp.pk).count() == 1
    assert warnings_to(sal, opp) == 1

    # Checks after that do nothing.
    assert opportunity_inactivity_check(opportunity_id=opp.pk) == "not-applicable"


def test_a_persons_activity_after_the_warning_resets_the_clock():
    people = staff()
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


def test_system_events_are_not_activity():
    people = staff()
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
def test_warn_and_close_thresholds_by_segment(segment, warn_days, close_days):
    people = staff()
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


def test_only_discovery_and_scoping_are_watched():
    people = staff()
    opp = scoping_deal(people, segment="smb", name="Moving On Co")
    opportunity_move_stage(user=people["sal"], opportunity=opp, stage="3-technical-evaluation")
    backdate(opp, timezone.now() - dt.timedelta(days=30))
    assert opportunity_inactivity_check(opportunity_id=opp.pk) == "not-applicable"
    assert Opportunity.objects.get(pk=opp.pk).stage == "3-technical-evaluation"
