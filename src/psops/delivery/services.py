"""Delivering the SOW project (step 13), completion acceptance and wrap-up (step 14), sign-off (step 15)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.roles import has_role
from psops.activity.services import notify
from psops.approvals.services import approvers_for
from psops.core.business_days import Calendar, local_date, start_of_day
from psops.core.errors import ApplicationError
from psops.core.money import parse_amount
from psops.core.permissions import require
from psops.core.quantities import HOURS, HOURS_IN_A_DAY, MONEY, Bound
from psops.core.quantities import check as check_bound
from psops.core.quantities import parse as parse_quantity
from psops.crm.customer import CustomerActor
from psops.crm.models import Contact
from psops.crm.scope import deal_scope
from psops.crm.services import contact_check, record, save_transition
from psops.documents import services as documents
from psops.documents.models import Document, Kind
from psops.links.services import link_issue
from psops.sales.models import Sow, SowMilestone

from .models import (
    AcceptanceRequest,
    Assignment,
    ChangeOrder,
    MilestoneAcceptance,
    Project,
    TimeEntry,
    WrapUp,
    WrapUpItem,
)

WRAP_UP_ITEMS = [
    ("summary-sent", "Project summary sent to the customer"),
    ("sign-off-sent", "Sign-off document sent"),
    ("notified", "Controller, PS manager and accounts payable notified"),
    ("documents", "Documents up to date"),
    ("hours-cost", "Hours and cost against budget recorded"),
    ("final-invoice", "Final invoice raised where the terms say so"),
]
WRAP_UP_WHO = "Only the project's engineers or a PS manager run the wrap-up."
# Items the system ticks itself when the thing happens.
AUTOMATIC_ITEMS = {"sign-off-sent", "final-invoice"}


def _record(actor: Any, project: Project, verb: str, message: str, data: dict | None = None) -> None:
    record(actor=actor, opportunity=project.ps_opportunity.parent, subject=project, verb=verb, message=message,
           data=data)


def _move(actor: Any, project: Project, transition: str, message: str, **changes: Any) -> Project:
    before = project.state
    getattr(project, transition)()
    for name, value in changes.items():
        setattr(project, name, value)
    save_transition(project)
    _record(actor, project, f"project.{project.state}", message, {"from": before, "to": project.state})
    return project


def project_create(*, actor: Any, sow: Sow) -> Project:
    """Step 11: the SOW project, created once per signed SOW (the database refuses a second)."""
    if sow.state != Sow.State.SIGNED:
        raise ApplicationError(code="sow-not-signed", message=f"{sow} is not signed.")
    try:
        with transaction.atomic():
            project = Project.objects.create(sow=sow, ps_opportunity=sow.ps_opportunity, name=sow.ps_opportunity.name,
                                             currency=sow.currency)
    except IntegrityError as exc:
        raise ApplicationError(code="project-exists", message=f"{sow} already has its project.") from exc
    _record(actor, project, "project.created", f"Project created from {sow}")
    notify(recipients=approvers_for([roles.PS_MANAGER]), kind="project-created",
           text=f"New SOW project to staff: {project}", subject=project)
    return project


def project_value(project: Project) -> Decimal:
    """What may be billed: the SOW's price plus change orders."""
    added = project.change_orders.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return project.sow.price + added


OPEN_STATES = (Project.State.CREATED, Project.State.STAFFED, Project.State.KICKED_OFF, Project.State.IN_DELIVERY)


def _project_open(project: Project, states: tuple[str, ...] = OPEN_STATES) -> None:
    if project.state not in states:
        raise ApplicationError(code="project-not-open", message=f"{project} is {project.get_state_display()}.")


def project_assign_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.manage_project", project, message="Only a PS manager staffs a project.")
    _project_open(project)


def project_assign_engineer(*, user: Any, project: Project, engineer: Any) -> Assignment:
    """Step 13: the PS manager assigns a PSE; the first assignment also makes them the engagement manager."""
    project_assign_check(user=user, project=project)
    if not has_role(engineer, roles.PS_ENGINEER):
        raise ApplicationError(code="not-an-engineer", message=f"{engineer} is not a PS engineer.", field="engineer")
    if project.assignments.filter(engineer=engineer).exists():
        raise ApplicationError(code="already-assigned", message=f"{engineer} is already on {project}.")
    with transaction.atomic():
        assignment = Assignment.objects.create(project=project, engineer=engineer, assigned_by=user)
        if project.engagement_manager_id is None:
            project.engagement_manager = user
        if project.state in (Project.State.CREATED, Project.State.STAFFED):
            _move(user, project, "staff", f"{user} assigned {engineer}")
        else:
            project.save(update_fields=["engagement_manager"])
            _record(user, project, "project.assigned", f"{user} assigned {engineer}")
        notify(recipients=[engineer], kind="assigned", text=f"You are assigned to {project}.", subject=project)
    return assignment


def project_kick_off_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.manage_project", project, message="Only a PS manager advances a project.")
    if project.state != Project.State.STAFFED:
        raise ApplicationError(code="project-not-staffed", message="A project kicks off once it is staffed.")


def project_kick_off(*, user: Any, project: Project, kickoff_date: dt.date, go_live_date: dt.date | None = None,
                     budget_hours: Any = None) -> Project:
    project_kick_off_check(user=user, project=project)
    if go_live_date and go_live_date < kickoff_date:
        raise ApplicationError(code="invalid-dates", message="Go-live cannot be before kick-off.",
                               field="go_live_date")
    hours = _hours(budget_hours, "budget hours") if budget_hours is not None else project.budget_hours
    with transaction.atomic():
        return _move(user, project, "kick_off", f"{user} kicked off the project on {kickoff_date}",
                     kickoff_date=kickoff_date, go_live_date=go_live_date, budget_hours=hours, percent_complete=5)


def project_start_delivery_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.manage_project", project, message="Only a PS manager advances a project.")
    if project.state != Project.State.KICKED_OFF:
        raise ApplicationError(code="project-not-kicked-off", message="Delivery starts after the kick-off.")


def project_start_delivery(*, user: Any, project: Project) -> Project:
    project_start_delivery_check(user=user, project=project)
    with transaction.atomic():
        return _move(user, project, "start_delivery", f"{user} moved the project into delivery",
                     percent_complete=max(project.percent_complete, 10))


def project_set_progress_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.deliver_project", project, message="Only the project's engineers or a PS manager "
                                                               "report progress.")
    if project.state != Project.State.IN_DELIVERY:
        raise ApplicationError(code="project-not-in-delivery", message="Progress is reported during delivery.")


def project_set_progress(*, user: Any, project: Project, percent: int) -> Project:
    project_set_progress_check(user=user, project=project)
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 98:
        raise ApplicationError(code="invalid-percent", message="Progress during delivery is 0 to 98 percent; "
                                                               "99 and 100 follow the customer's acceptance.",
                               field="percent")
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(percent_complete=percent)
        project.percent_complete = percent
        _record(user, project, "project.progress", f"{user} reported {percent}% complete")
    return project


def project_hold_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.manage_project", project, message="Only a PS manager puts a project on hold.")
    _project_open(project)


def project_hold(*, user: Any, project: Project, reason: str) -> Project:
    project_hold_check(user=user, project=project)
    if not reason.strip():
        raise ApplicationError(code="reason-required", message="Say why the project is on hold.", field="reason")
    with transaction.atomic():
        return _move(user, project, "hold", f"{user} put the project on hold: {reason}", held_from=project.state)


def project_resume_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.manage_project", project, message="Only a PS manager resumes a project.")
    if project.state != Project.State.ON_HOLD:
        raise ApplicationError(code="project-not-on-hold", message=f"{project} is not on hold.")


def project_resume(*, user: Any, project: Project) -> Project:
    project_resume_check(user=user, project=project)
    with transaction.atomic():
        return _move(user, project, "resume", f"{user} resumed the project", held_from="")


def project_cancel_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.manage_project", project, message="Only a PS manager cancels a project.")
    _project_open(project, (*OPEN_STATES, Project.State.ON_HOLD))


def project_cancel(*, user: Any, project: Project, reason: str) -> Project:
    project_cancel_check(user=user, project=project)
    if not reason.strip():
        raise ApplicationError(code="reason-required", message="Say why the project is cancelled.", field="reason")
    with transaction.atomic():
        return _move(user, project, "cancel", f"{user} cancelled the project: {reason}")


def change_order_add_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.manage_project", project, message="Only a PS manager adds a change order.")
    if project.state in (Project.State.WRAPPED_UP, Project.State.CLOSED, Project.State.CANCELLED):
        raise ApplicationError(code="project-not-open", message=f"{project} is {project.get_state_display()}.")


def change_order_add(*, user: Any, project: Project, description: str, amount: Any) -> ChangeOrder:
    """A change order adds scope and value; only then may billing exceed the SOW's price."""
    change_order_add_check(user=user, project=project)
    value = parse_amount(amount, project.currency, field="change order amount")
    if value <= 0 or not (description or "").strip():
        raise ApplicationError(code="invalid-change-order", message="A change order needs a description and a "
                                                                    "positive amount.")
    # The engagement's value (and so its PS amount and every invoice) is one amount too: it stays within the bound.
    check_bound(project_value(project) + value, MONEY, field="amount",
                what=f"With this change order the engagement's value ({project.currency})")
    with transaction.atomic():
        order = ChangeOrder.objects.create(project=project, description=description.strip(), amount=value,
                                           created_by=user)
        _record(user, project, "project.change_order",
                f"{user} added change order '{description}': {project.currency} {value:,}",
                {"amount": str(value)})
    return order


def _hours(raw: Any, field: str, bound: Bound = HOURS) -> Decimal:
    """Hours as a person gives them: a decimal (never a float) from 0 to the bound, two places at most."""
    return parse_quantity(raw, bound, field=field)


def time_log_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.log_time", project, message="Only engineers on the project log time to it.")
    if project.state not in (Project.State.KICKED_OFF, Project.State.IN_DELIVERY, Project.State.CLOSURE):
        raise ApplicationError(code="project-not-in-delivery",
                               message=f"{project} is {project.get_state_display().lower()}; time is logged "
                                       "between kick-off and completion.")


def time_log(*, user: Any, project: Project, date: dt.date, hours: Any, note: str = "") -> TimeEntry:
    time_log_check(user=user, project=project)
    value = _hours(hours, "hours", HOURS_IN_A_DAY)
    if not Decimal(0) < value <= 24:
        raise ApplicationError(code="invalid-hours", message="Hours in a day are more than 0 and at most 24.",
                               field="hours")
    if date > timezone.localdate():
        raise ApplicationError(code="invalid-date", message="Time is logged for today or earlier.", field="date")
    with transaction.atomic():
        logged = (TimeEntry.objects.select_for_update().filter(engineer=user, date=date)
                  .aggregate(t=Sum("hours"))["t"] or Decimal(0))
        if logged + value > 24:
            raise ApplicationError(code="invalid-hours",
                                   message=f"{user} already logged {logged} h on {date}; a day has 24 hours.",
                                   field="hours")
        entry = TimeEntry.objects.create(project=project, engineer=user, date=date, hours=value, note=note)
        _record(user, project, "time.logged", f"{user} logged {value} h on {date}")
    return entry


def time_approve(*, user: Any, entries: list[TimeEntry]) -> int:
    """The PS manager approves time; engineers never approve their own. One timeline event per project, saying
    whose hours and how many."""
    if not entries:
        return 0
    for entry in entries:
        require(user, "delivery.manage_project", entry.project, message="Only a PS manager approves time.")
        if entry.engineer_id == user.pk:
            raise ApplicationError(code="segregation-of-duties", message="Nobody approves their own time.")
    waiting = [e for e in entries if e.approved_at is None]
    with transaction.atomic():
        now = timezone.now()
        TimeEntry.objects.filter(pk__in=[e.pk for e in waiting], approved_at__isnull=True).update(
            approved_by=user, approved_at=now)
        for entry in waiting:
            entry.approved_by, entry.approved_at = user, now
        by_project: dict[int, list[TimeEntry]] = {}
        for entry in waiting:
            by_project.setdefault(entry.project_id, []).append(entry)
        for project_entries in by_project.values():
            hours = sum((e.hours for e in project_entries), Decimal(0))
            people = sorted({str(e.engineer) for e in project_entries})
            _record(user, project_entries[0].project, "time.approved",
                    f"{user} approved {len(project_entries)} time entries ({hours} h) of {', '.join(people)}")
    return len(waiting)


def time_approve_week_check(*, user: Any, engineer: Any = None) -> None:
    """Who approves a week of time: a PS manager, never for their own hours."""
    require(user, "delivery.manage_project", message="Only a PS manager approves time.")
    if engineer is not None and engineer.pk == user.pk:
        raise ApplicationError(code="segregation-of-duties", message="Nobody approves their own time.")


def time_approve_week(*, user: Any, engineer: Any, week: dt.date) -> int:
    """Approve every entry `engineer` logged in the week starting on Monday `week` that waits for approval on a
    project of a deal `user` sees. Returns how many were approved."""
    time_approve_week_check(user=user, engineer=engineer)
    if week.weekday() != 0:
        raise ApplicationError(code="invalid-week", message="A week starts on a Monday.", field="week")
    entries = list(TimeEntry.objects.filter(deal_scope(user, via="project__ps_opportunity__parent__"),
                                            engineer=engineer, approved_at__isnull=True, date__gte=week,
                                            date__lt=week + dt.timedelta(days=7))
                   .select_related("project", "engineer"))
    if not entries:
        raise ApplicationError(code="nothing-to-approve",
                               message=f"{engineer} has no time waiting for approval in the week of {week}.")
    with transaction.atomic():
        count = time_approve(user=user, entries=entries)
        hours = sum((e.hours for e in entries), Decimal(0))
        notify(recipients=[engineer], kind="time-approved", subject=entries[0].project,
               text=f"{user} approved your {hours} h of the week of {week:%Y-%m-%d}.")
    return count


# --- Acceptance (step 14) and sign-off (step 15) -----------------------------------------------------------------


def passive_acceptance_at(sent_at: dt.datetime) -> dt.datetime:
    """The moment silence becomes acceptance: the start of the day after the 5th business day, counting the sending
    day as day 1."""
    days = settings.PSOPS["PASSIVE_ACCEPTANCE_BUSINESS_DAYS"]
    last_day = Calendar.current().nth_business_day(local_date(sent_at), days)
    return start_of_day(last_day + dt.timedelta(days=1))


def acceptance_past_deadline(request: AcceptanceRequest, now: dt.datetime | None = None) -> bool:
    """The one question every door asks: is this request still waiting although its deadline has passed?

    From `passive_at` on, silence is acceptance whether or not the timer has run yet, so the customer's answers,
    a resend, a recorded reply, the project's close, the timer itself and the customer's link page all ask this,
    and only this, to know whether the deadline has decided."""
    return request.state == AcceptanceRequest.State.PENDING and (now or timezone.now()) >= request.passive_at


def passive_acceptance_date(request: AcceptanceRequest) -> dt.date:
    """The day silence became acceptance (the day after the last day to answer)."""
    return local_date(request.passive_at)


def _before_deadline(request: AcceptanceRequest, now: dt.datetime | None = None, *, then: str = "") -> None:
    """Refuse an answer (or a resend) once the deadline has decided: the request counts as accepted passively."""
    if not acceptance_past_deadline(request, now):
        return
    days = settings.PSOPS["PASSIVE_ACCEPTANCE_BUSINESS_DAYS"]
    what = "The work was" if request.kind == AcceptanceRequest.Kind.COMPLETION else "The sign-off document was"
    raise ApplicationError(
        code="deadline-passed",
        message=f"{what} accepted passively on {passive_acceptance_date(request):%Y-%m-%d} because no answer came "
                f"within {days} business days of the notice sent on {local_date(request.sent_at):%Y-%m-%d} (the "
                f"last day to answer was {passive_acceptance_date(request) - dt.timedelta(days=1):%Y-%m-%d})."
                + (f" {then}" if then else ""))


def _open_request(*, user: Any, project: Project, kind: str, contact: Contact) -> AcceptanceRequest:
    contact_check(contact=contact, opportunity=project.ps_opportunity.parent)
    now = timezone.now()
    try:
        with transaction.atomic():
            request = AcceptanceRequest.objects.create(project=project, kind=kind, contact=contact, sent_by=user,
                                                       sent_at=now, passive_at=passive_acceptance_at(now))
    except IntegrityError as exc:
        raise ApplicationError(code="already-asked", message="The customer has already been asked; wait for their "
                                                             "answer.") from exc
    from .tasks import schedule_passive_acceptance

    schedule_passive_acceptance(request)
    return request


def completion_request_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.deliver_project", project, message="Only the project's engineers or a PS manager ask "
                                                               "for acceptance.")
    if project.state != Project.State.IN_DELIVERY:
        raise ApplicationError(code="project-not-in-delivery", message="Acceptance is asked at the end of delivery.")


def completion_request(*, user: Any, project: Project, contact: Contact) -> AcceptanceRequest:
    """The engineer reports the work complete and asks the customer to accept it (project to closure, 99%)."""
    completion_request_check(user=user, project=project)
    with transaction.atomic():
        request = _open_request(user=user, project=project, kind=AcceptanceRequest.Kind.COMPLETION, contact=contact)
        _move(user, project, "ask_acceptance", f"{user} asked {contact} to accept the work as complete; passive "
                                               f"acceptance at {timezone.localtime(request.passive_at):%Y-%m-%d}",
              percent_complete=99)
        _acceptance_link(user, request)
    return request


def _acceptance_link(user: Any, request: AcceptanceRequest, attached: list[Document] | None = None) -> str:
    """The customer's private link to answer a completion acceptance or sign-off request, e-mailed on commit (with
    the sign-off document, for a sign-off)."""
    if attached is None:
        attached = [request.document] if request.document is not None else []
    project, contact = request.project, request.contact
    deadline = f"{local_date(request.passive_at) - dt.timedelta(days=1):%Y-%m-%d}"  # the last business day
    who = user.get_full_name() or user.username
    if request.kind == AcceptanceRequest.Kind.COMPLETION:
        title = f"{project.name}: please accept the work as complete"
        ask = (f"{who} reports the work on {project.name} complete. Open the link below to accept it, or tell us "
               f"what is not complete. Without an answer by the end of {deadline}, the work counts as accepted.")
    else:
        title = f"{project.name}: sign-off document"
        ask = (f"{who} sent you the sign-off document for {project.name}. Open the link below to sign it, or "
               f"simply answer \"Accepted\" there. Without an answer by the end of {deadline}, it counts as accepted.")
    # The request kinds are named as the link purposes: "completion" and "sign-off".
    return link_issue(subject=request, purpose=request.kind, contact=contact, email_to=contact.email,
                      email_subject=title, text=f"Hello {contact.name},\n\n{ask}",
                      attachments=documents.attachments(attached))


def acceptance_resend_check(*, user: Any, request: AcceptanceRequest) -> None:
    if request.kind == AcceptanceRequest.Kind.COMPLETION:
        require(user, "delivery.deliver_project", request.project,
                message="Only the project's engineers or a PS manager ask for acceptance.")
    else:
        require(user, "delivery.send_sign_off", request.project,
                message="Only the deal's sales rep or a TAM sends the sign-off document.")
    _answerable(request, None)
    _before_deadline(request, then="A new link would change nothing.")


def acceptance_resend(*, user: Any, request: AcceptanceRequest) -> AcceptanceRequest:
    """Send the customer a fresh link to a completion acceptance or sign-off still waiting for their answer. The
    earlier link stops working; the passive-acceptance deadline stays where it was."""
    acceptance_resend_check(user=user, request=request)
    with transaction.atomic():
        _acceptance_link(user, request)
        verb = "completion.resent" if request.kind == AcceptanceRequest.Kind.COMPLETION else "sign_off.resent"
        _record(user, request.project, verb, f"{user} sent the {request.get_kind_display().lower()} again to "
                                             f"{request.contact}; the earlier link no longer works")
    return request


def _answerable(request: AcceptanceRequest, customer: CustomerActor | None) -> None:
    if customer is not None:
        customer.check_account(request.project.ps_opportunity.parent.account_id)
    if request.state != AcceptanceRequest.State.PENDING:
        passive = (f" on {passive_acceptance_date(request):%Y-%m-%d}: no answer came within "
                   f"{settings.PSOPS['PASSIVE_ACCEPTANCE_BUSINESS_DAYS']} business days"
                   if request.state == AcceptanceRequest.State.PASSIVE else "")
        raise ApplicationError(code="already-answered",
                               message=f"This {request.get_kind_display().lower()} was already answered "
                                       f"({request.get_state_display().lower()}){passive}.")


def _close_request(request: AcceptanceRequest, state: str, *, customer: CustomerActor | None = None, name: str = "",
                   title: str = "", note: str = "") -> None:
    request.state = state
    # Silence is acceptance at the deadline, whenever the timer (or a customer's visit) records it.
    request.answered_at = request.passive_at if state == AcceptanceRequest.State.PASSIVE else timezone.now()
    request.signed_name = name
    request.signed_title = title
    request.note = note[:500]
    if customer is not None:
        request.ip_address = customer.ip_address
        request.user_agent = customer.user_agent[:400]
    request.save()


def completion_accept(*, customer: CustomerActor | None, request: AcceptanceRequest, name: str = "",
                      title: str = "", now: dt.datetime | None = None) -> Project:
    """The customer accepts the work (typed name and title), or silence does (customer None, after the deadline).
    The project is then completed: 100%, completed date, signed or passive.

    A customer's acceptance after the deadline is refused ("deadline-passed") rather than recorded: the work already
    counts as accepted passively on the deadline, and a signature dated after it would misstate how and when it was
    accepted. The refusal says so with the date; the customer's link page settles the request passively first (see
    `acceptance_passive`), so the customer sees the same truth there."""
    if request.kind != AcceptanceRequest.Kind.COMPLETION:
        raise ApplicationError(code="wrong-kind", message="This is not a completion acceptance.")
    _answerable(request, customer)
    if customer is not None:
        _before_deadline(request, now)
    if customer is not None and not ((name or "").strip() and (title or "").strip()):
        raise ApplicationError(code="signature-incomplete", message="Type your full name and your title to accept.")
    # Only the timer accepts for a silent customer, and only once the deadline has passed.
    if customer is None and not acceptance_past_deadline(request, now):
        raise ApplicationError(code="not-yet-passive", message="The customer still has time to answer.")
    project = request.project
    passive = customer is None
    with transaction.atomic():
        _close_request(request, AcceptanceRequest.State.PASSIVE if passive else AcceptanceRequest.State.ACCEPTED,
                       customer=customer, name=(name or "").strip(), title=(title or "").strip())
        who = customer if customer else None
        _move(who, project, "complete",
              "Accepted passively: no answer within 5 business days" if passive
              else f"{name} ({title}) accepted the work as complete",
              percent_complete=100,
              completed_date=passive_acceptance_date(request) if passive else timezone.localdate(),
              acceptance=Project.Acceptance.PASSIVE if passive else Project.Acceptance.SIGNED)
        notify(recipients=[*project.engineers.all(), project.engagement_manager], kind="completed",
               text=f"{project} is accepted as complete: start the financial wrap-up.", subject=project)
    return project


def completion_reject(*, customer: CustomerActor, request: AcceptanceRequest, reason: str,
                      now: dt.datetime | None = None) -> Project:
    """The customer says the work is not complete: delivery reopens. Not once the deadline has passed: silence has
    accepted the work by then, whether or not the timer has run ("deadline-passed")."""
    if request.kind != AcceptanceRequest.Kind.COMPLETION:
        raise ApplicationError(code="wrong-kind", message="This is not a completion acceptance.")
    _answerable(request, customer)
    _before_deadline(request, now)
    if not (reason or "").strip():
        raise ApplicationError(code="reason-required", message="Tell us what is not complete.", field="reason")
    project = request.project
    with transaction.atomic():
        _close_request(request, AcceptanceRequest.State.REJECTED, customer=customer, note=reason)
        _move(customer, project, "reopen_delivery", f"{customer.label} did not accept: {reason}",
              percent_complete=95)
        notify(recipients=[*project.engineers.all(), project.engagement_manager], kind="not-accepted",
               text=f"The customer did not accept {project}: {reason}", subject=project)
    return project


def milestone_accept(*, customer: CustomerActor, project: Project, milestone: SowMilestone) -> MilestoneAcceptance:
    customer.check_account(project.ps_opportunity.parent.account_id)
    if milestone.sow_id != project.sow_id:
        raise ApplicationError(code="milestone-not-found", message="That milestone is not part of this project.")
    if project.state not in (Project.State.KICKED_OFF, Project.State.IN_DELIVERY, Project.State.CLOSURE):
        raise ApplicationError(code="project-not-in-delivery", message="Milestones are accepted during delivery.")
    try:
        with transaction.atomic():
            acceptance = MilestoneAcceptance.objects.create(project=project, milestone=milestone,
                                                            contact=customer.contact)
    except IntegrityError as exc:
        raise ApplicationError(code="already-accepted",
                               message=f"Milestone '{milestone}' was accepted already.") from exc
    _record(customer, project, "milestone.accepted", f"{customer.label} accepted milestone '{milestone}'")
    return acceptance


def sign_off_send(*, user: Any, project: Project, contact: Contact) -> AcceptanceRequest:
    """Step 15: the SAL or the TAM sends the sign-off document once the work is accepted."""
    sign_off_send_check(user=user, project=project)
    with transaction.atomic():
        request = _open_request(user=user, project=project, kind=AcceptanceRequest.Kind.SIGN_OFF, contact=contact)
        sent = documents.documents_for_sending(user=user, record=project, kind=Kind.SIGN_OFF)
        request.document = sent[0]
        request.save(update_fields=["document"])
        _record(user, project, "sign_off.sent", f"{user} sent the sign-off document to {contact}")
        _acceptance_link(user, request, sent)
        wrap = WrapUp.objects.filter(project=project).first()
        if wrap is not None:
            _tick(wrap, "sign-off-sent", user, "sent")
    return request


def sign_off_send_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.send_sign_off", project, message="Only the deal's sales rep or a TAM sends the "
                                                             "sign-off document.")
    if project.state not in (Project.State.COMPLETED, Project.State.WRAPPED_UP):
        raise ApplicationError(code="project-not-completed", message="The sign-off document follows the customer's "
                                                                     "acceptance of the work.")
    sign_offs = list(project.acceptance_requests.filter(kind=AcceptanceRequest.Kind.SIGN_OFF))
    given = next((r for r in sign_offs if r.is_accepted), None)
    if given is not None:
        raise ApplicationError(code="already-signed-off",
                               message=f"The customer has already signed off ({given.get_state_display().lower()} "
                                       f"on {local_date(given.answered_at or given.passive_at):%Y-%m-%d}); there is "
                                       "nothing more to send.")
    for waiting in sign_offs:
        _before_deadline(waiting, then="There is nothing more to send.")


def _shown_sign_off(request: AcceptanceRequest, sha256: str | None) -> str:
    """The SHA-256 of the sign-off document the customer's page showed, which must be the one sent with the
    request; "" when the caller passes none (a service called without a page) or the request has no document."""
    if sha256 is None or request.document is None:
        return ""
    if sha256 != request.document.sha256:
        raise ApplicationError(code="document-changed", message="The document changed since it was shown to you; "
                                                                "reload the page and read the current version.")
    return sha256


def sign_off_sign(*, customer: CustomerActor, request: AcceptanceRequest, name: str, title: str,
                  now: dt.datetime | None = None, document_sha256: str | None = None) -> AcceptanceRequest:
    """The customer signs the sign-off document (typed name and title), before its deadline; after it, the document
    counts as accepted passively and a signature is refused ("deadline-passed"), as for completion. The SHA-256 of
    the document their page showed is kept with the signature."""
    if request.kind != AcceptanceRequest.Kind.SIGN_OFF:
        raise ApplicationError(code="wrong-kind", message="This is not a sign-off document.")
    _answerable(request, customer)
    _before_deadline(request, now)
    if not ((name or "").strip() and (title or "").strip()):
        raise ApplicationError(code="signature-incomplete", message="Type your full name and your title to sign.")
    shown = _shown_sign_off(request, document_sha256)
    with transaction.atomic():
        request.document_sha256 = shown
        _close_request(request, AcceptanceRequest.State.ACCEPTED, customer=customer, name=name.strip(),
                       title=title.strip())
        _record(customer, request.project, "sign_off.signed", f"{name} ({title}) signed the sign-off document")
        _tell_signed_off(request.project, "signed the sign-off document")
    return request


def sign_off_reply(*, customer: CustomerActor, request: AcceptanceRequest, now: dt.datetime | None = None,
                   document_sha256: str | None = None) -> AcceptanceRequest:
    """The customer answers the sign-off document with a plain "accepted" through their link, without signing:
    recorded as an acceptance by reply, with the address and browser it came from. Refused after the deadline
    ("deadline-passed"): the document counts as accepted passively by then."""
    if request.kind != AcceptanceRequest.Kind.SIGN_OFF:
        raise ApplicationError(code="wrong-kind", message="This is not a sign-off document.")
    _answerable(request, customer)
    _before_deadline(request, now)
    shown = _shown_sign_off(request, document_sha256)
    with transaction.atomic():
        request.document_sha256 = shown
        _close_request(request, AcceptanceRequest.State.REPLIED, customer=customer, note="Accepted")
        _record(customer, request.project, "sign_off.replied", f"{customer.label} replied \"accepted\" to the "
                                                               "sign-off document",
                {"ip": customer.ip_address, "user_agent": customer.user_agent[:400]})
        _tell_signed_off(request.project, "replied \"accepted\" to the sign-off document")
    return request


def _tell_signed_off(project: Project, how: str) -> None:
    """The customer's sign-off is news for the deal's rep, the engineers and the engagement manager."""
    notify(recipients=[project.ps_opportunity.owner, *project.engineers.all(), project.engagement_manager],
           kind="signed-off", text=f"The customer {how} for {project}.", subject=project)


def sign_off_record_reply_check(*, user: Any, request: AcceptanceRequest, now: dt.datetime | None = None) -> None:
    require(user, "delivery.send_sign_off", request.project, message="Only the deal's sales rep or a TAM records "
                                                                     "the customer's reply.")
    if request.kind != AcceptanceRequest.Kind.SIGN_OFF:
        raise ApplicationError(code="wrong-kind", message="This is not a sign-off document.")
    _answerable(request, None)
    _before_deadline(request, now)


def sign_off_record_reply(*, user: Any, request: AcceptanceRequest, reply: str,
                          now: dt.datetime | None = None) -> AcceptanceRequest:
    """The customer simply replied "accepted"; the SAL or TAM records it, before the deadline (after it, the
    document counts as accepted passively and a late record is refused: "deadline-passed")."""
    sign_off_record_reply_check(user=user, request=request, now=now)
    if "accept" not in (reply or "").lower():
        raise ApplicationError(code="not-an-acceptance", message="Only a reply that says the customer accepts counts.",
                               field="reply")
    with transaction.atomic():
        _close_request(request, AcceptanceRequest.State.REPLIED, note=reply)
        _record(user, request.project, "sign_off.replied", f"{user} recorded the customer's reply: {reply[:200]}")
        _tell_signed_off(request.project, "accepted the sign-off by reply")
    return request


def acceptance_passive(*, request_id: int, now: dt.datetime | None = None) -> bool:
    """Timer: accept a request that the customer left unanswered past its deadline. It acts once; later runs, or
    runs after the customer answered, do nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        request = (AcceptanceRequest.objects.select_for_update().select_related("project__ps_opportunity__parent")
                   .filter(pk=request_id).first())
        if request is None or not acceptance_past_deadline(request, now):
            return False
        if request.kind == AcceptanceRequest.Kind.COMPLETION:
            completion_accept(customer=None, request=request, now=now)
        else:
            _close_request(request, AcceptanceRequest.State.PASSIVE)
            _record(None, request.project, "sign_off.passive",
                    "Sign-off accepted passively: no answer within 5 business days")
            _tell_signed_off(request.project, "did not answer within 5 business days: the sign-off is accepted")
    return True


# --- Financial wrap-up (step 14) -------------------------------------------------------------------------------


def wrap_up_start_check(*, user: Any, project: Project) -> None:
    require(user, "delivery.deliver_project", project, message=WRAP_UP_WHO)
    if project.state != Project.State.COMPLETED:
        raise ApplicationError(code="project-not-completed", message="The wrap-up starts once the customer has "
                                                                     "accepted the work.")
    if WrapUp.objects.filter(project=project).exists():
        raise ApplicationError(code="wrap-up-exists", message="The wrap-up has started already.")


def wrap_up_start(*, user: Any, project: Project) -> WrapUp:
    wrap_up_start_check(user=user, project=project)
    with transaction.atomic():
        wrap = WrapUp.objects.create(project=project, started_by=user)
        WrapUpItem.objects.bulk_create(WrapUpItem(wrap_up=wrap, code=c, label=label) for c, label in WRAP_UP_ITEMS)
        if project.acceptance_requests.filter(kind=AcceptanceRequest.Kind.SIGN_OFF).exists():
            _tick(wrap, "sign-off-sent", user, "sent before the wrap-up started")
        _record(user, project, "wrap_up.started", f"{user} started the financial wrap-up")
    return wrap


def _tick(wrap: WrapUp, code: str, user: Any, note: str = "") -> None:
    WrapUpItem.objects.filter(wrap_up=wrap, code=code, done_at__isnull=True).update(
        done_by=user if getattr(user, "pk", None) else None, done_at=timezone.now(), note=note[:300])


def wrap_up_tick_check(*, user: Any, wrap: WrapUp, code: str | None = None) -> WrapUpItem | None:
    """Whether `user` may tick items of this wrap-up now; given a code, whether that item may be ticked (returns
    it)."""
    require(user, "delivery.deliver_project", wrap.project, message=WRAP_UP_WHO)
    if wrap.completed_at:
        raise ApplicationError(code="wrap-up-done", message="The wrap-up is complete.")
    if code is None:
        return None
    item = wrap.items.filter(code=code).first()
    if item is None:
        raise ApplicationError(code="item-not-found", message=f"No wrap-up item '{code}'.", field="code")
    if code in AUTOMATIC_ITEMS:
        raise ApplicationError(code="automatic-item", message=f"'{item.label}' is ticked when it happens.",
                               field="code")
    if item.done_at:
        raise ApplicationError(code="already-done", message=f"'{item.label}' is done already.", field="code")
    return item


def wrap_up_tick(*, user: Any, wrap: WrapUp, code: str, note: str = "", actual_hours: Any = None,
                 actual_cost: Any = None) -> WrapUpItem:
    """Tick a checklist item. Recording hours and cost needs the figures; notifying tells the controller, the PS
    manager and accounts payable (finance) for real."""
    project = wrap.project
    item = cast(WrapUpItem, wrap_up_tick_check(user=user, wrap=wrap, code=code))
    with transaction.atomic():
        if code == "hours-cost":
            if actual_hours is None or actual_cost is None:
                raise ApplicationError(code="figures-required", message="Record the actual hours and cost.")
            wrap.actual_hours = _hours(actual_hours, "actual hours")
            wrap.actual_cost = parse_amount(actual_cost, project.currency, field="actual cost")
            wrap.save(update_fields=["actual_hours", "actual_cost"])
            budget = project.budget_hours
            note = note or f"{wrap.actual_hours} h against a budget of {budget} h; cost {wrap.actual_cost:,}"
        if code == "notified":
            people = get_user_model().objects.filter(
                is_active=True, groups__name__in=[roles.CONTROLLER, roles.PS_MANAGER, roles.FINANCE]).distinct()
            notify(recipients=people, kind="wrap-up", text=f"Financial wrap-up of {project} under way.",
                   subject=project)
        _tick(wrap, code, user, note)
        item.refresh_from_db()
        _record(user, project, "wrap_up.checked", f"{user} ticked '{item.label}'")
    return item


def wrap_up_finish_check(*, user: Any, wrap: WrapUp) -> None:
    """The wrap-up finishes when every item is done (the final invoice is ticked when the wrap-up starts)."""
    require(user, "delivery.deliver_project", wrap.project, message=WRAP_UP_WHO)
    if wrap.completed_at:
        raise ApplicationError(code="wrap-up-done", message="The wrap-up is complete.")
    left = [i.label for i in wrap.items.all() if i.done_at is None]
    if left:
        raise ApplicationError(code="wrap-up-incomplete", message="Still to do: " + "; ".join(left) + ".")


def wrap_up_finish(*, user: Any, wrap: WrapUp) -> Project:
    """All items done: the project is wrapped up. Called by the workflow, which first ticks the final invoice."""
    wrap_up_finish_check(user=user, wrap=wrap)
    project = wrap.project
    with transaction.atomic():
        wrap.completed_at = timezone.now()
        wrap.save(update_fields=["completed_at"])
        return _move(user, project, "mark_wrapped_up", f"{user} completed the financial wrap-up")


def wrap_up_tick_final_invoice(*, wrap: WrapUp, note: str) -> None:
    _tick(wrap, "final-invoice", None, note)


def project_close(*, user: Any, project: Project) -> Project:
    """The PS manager closes a wrapped-up project whose sign-off the customer has given (signed, replied or
    passive)."""
    overdue = project_close_check(user=user, project=project)
    with transaction.atomic():
        for request in overdue:
            acceptance_passive(request_id=request.pk)
        return _move(user, project, "close", f"{user} closed the project")


def project_close_check(*, user: Any, project: Project) -> list[AcceptanceRequest]:
    """Whether the project may close now; returns the sign-off requests past their deadline that closing settles."""
    require(user, "delivery.manage_project", project, message="Only a PS manager closes a project.")
    if project.state != Project.State.WRAPPED_UP:
        raise ApplicationError(code="project-not-wrapped-up", message="A project closes after its wrap-up.")
    sign_offs = list(project.acceptance_requests.filter(kind=AcceptanceRequest.Kind.SIGN_OFF))
    signed = any(r.is_accepted for r in sign_offs)
    # A sign-off whose deadline has passed is accepted, whether or not the timer has run: settle it as the timer
    # would (same service, idempotent) rather than keep the project from closing.
    overdue = [r for r in sign_offs if acceptance_past_deadline(r)]
    if not signed and not overdue:
        waiting = next((r for r in sign_offs if r.state == AcceptanceRequest.State.PENDING), None)
        raise ApplicationError(code="no-sign-off", message="The customer has not signed off yet." + (
            f" Without an answer, the sign-off counts as accepted on {passive_acceptance_date(waiting):%Y-%m-%d}."
            if waiting is not None else ""))
    return overdue
