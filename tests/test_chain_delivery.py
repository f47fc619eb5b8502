"""Delivery and billing along the chain: the passive-acceptance deadline decides whether or not the timer ran, free
("investment") services reach Closed Won and close, and acts done out of order are refused.

Each test brings an engagement to a stage through the real services (`tests.factories`), then moves a deadline into
the past on the row (or passes `now=`) instead of waiting days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.billing import services as billing
from psops.billing.models import CollectionCase, Invoice
from psops.core.business_days import local_date
from psops.delivery import services as delivery
from psops.delivery.models import AcceptanceRequest, Project
from psops.sales import services as sales
from psops.sales.models import Quote
from psops.workflow import services as workflow
from tests.factories import STAGES, Engagement, assert_refused, db_state, reach
from tests.portal.conftest import AGENT, IP, link_path

pytestmark = pytest.mark.django_db

SIGN = {"name": "Casey Customer", "title": "VP Engineering"}


def advance(e: Engagement, *stages: str) -> Engagement:
    """Run the named stage builders on `e`, in the order given."""
    for name in stages:
        STAGES[name][1](e)
    return e


def overdue(request: AcceptanceRequest, days: int = 0) -> AcceptanceRequest:
    """Move the request's deadline into the past, as if `days` (and a minute) had gone by since it; the timer has not
    run."""
    AcceptanceRequest.objects.filter(pk=request.pk).update(
        passive_at=timezone.now() - dt.timedelta(days=days, minutes=1))
    request.refresh_from_db()
    return request


def fresh(request: AcceptanceRequest) -> AcceptanceRequest:
    return AcceptanceRequest.objects.get(pk=request.pk)


# --- 1. A deadline passed is a deadline passed, whether or not the worker ran -----------------------------------


def test_completion_cannot_be_refused_once_the_deadline_has_passed_even_before_the_timer_runs(people):
    e = reach(people, "completion-asked")
    request = overdue(e.completion)
    error = assert_refused(lambda: delivery.completion_reject(customer=e.buyer, request=request,
                                                              reason="The SSO integration is missing"),
                           "deadline-passed")
    day = local_date(request.passive_at)
    assert f"accepted passively on {day:%Y-%m-%d}" in error.message
    assert "no answer came within 5 business days" in error.message
    assert fresh(request).state == AcceptanceRequest.State.PENDING  # the refusal itself changed nothing
    assert Project.objects.get(pk=e.project.pk).state == Project.State.CLOSURE


def test_the_deadline_is_the_boundary_with_a_frozen_now(people):
    e = reach(people, "completion-asked")
    request = e.completion
    assert_refused(lambda: delivery.completion_reject(customer=e.buyer, request=request, reason="Not done",
                                                      now=request.passive_at), "deadline-passed")
    # One second before the deadline the customer still has the last word.
    delivery.completion_reject(customer=e.buyer, request=request, reason="Not done",
                               now=request.passive_at - dt.timedelta(seconds=1))
    assert Project.objects.get(pk=e.project.pk).state == Project.State.IN_DELIVERY


def test_a_late_acceptance_is_refused_and_the_deadline_date_is_the_completed_date(people):
    e = reach(people, "completion-asked")
    request = overdue(e.completion, days=3)
    error = assert_refused(lambda: delivery.completion_accept(customer=e.buyer, request=request, **SIGN),
                           "deadline-passed")
    assert f"accepted passively on {local_date(request.passive_at):%Y-%m-%d}" in error.message
    # The timer (or the customer's link, see below) settles it: passive, dated by the deadline, not by the run.
    assert delivery.acceptance_passive(request_id=request.pk) is True
    assert delivery.acceptance_passive(request_id=request.pk) is False  # twice changes nothing
    project = Project.objects.get(pk=e.project.pk)
    assert (project.state, project.acceptance, project.percent_complete) == ("completed", "passive", 100)
    assert project.completed_date == local_date(request.passive_at) < timezone.localdate()
    settled = fresh(request)
    assert settled.state == AcceptanceRequest.State.PASSIVE and settled.answered_at == request.passive_at
    assert not settled.signed_name


@pytest.mark.parametrize("act", ["sign", "reply", "record-reply"])
def test_sign_off_answers_after_the_deadline_are_refused(people, act):
    e = reach(people, "wrap-up-ready")
    request = overdue(e.sign_off)
    run = {
        "sign": lambda: delivery.sign_off_sign(customer=e.buyer, request=request, **SIGN),
        "reply": lambda: delivery.sign_off_reply(customer=e.buyer, request=request),
        "record-reply": lambda: delivery.sign_off_record_reply(user=people["sal"], request=request,
                                                               reply="Accepted, thanks"),
    }[act]
    error = assert_refused(run, "deadline-passed")
    assert error.message.startswith("The sign-off document was accepted passively on ")


def test_no_fresh_link_after_the_deadline(people):
    e = reach(people, "completion-asked")
    request = overdue(e.completion)
    assert_refused(lambda: delivery.acceptance_resend(user=people["pse"], request=request), "deadline-passed")


def test_the_project_page_asks_the_same_check_as_the_service(people, client):
    """One rule per act: after the deadline the page shows "Send the acceptance link again" disabled with the
    service's own reason, and a forged post gets that reason and changes nothing."""
    e = reach(people, "completion-asked")
    overdue(e.completion)
    client.force_login(people["pse"])
    page = client.get(f"/projects/{e.project.pk}/").content.decode()
    assert "Send the acceptance link again" in page and "accepted passively on" in page
    before = db_state()
    response = client.post(f"/r/project/{e.project.pk}/act/resend-acceptance/")
    assert response.status_code == 400  # the domain's refusal, with its own words
    assert "accepted passively on" in response.content.decode()
    assert db_state() == before


@pytest.fixture
def sent(people, django_capture_on_commit_callbacks):
    def _sent(stage: str):
        with django_capture_on_commit_callbacks(execute=True):
            engagement = reach(people, stage)
        return engagement, link_path(engagement.contact)

    return _sent


def test_opening_a_completion_link_after_the_deadline_settles_it_and_shows_the_truth(sent, client):
    e, path = sent("completion-asked")
    request = overdue(e.completion)
    page = client.get(path).content.decode()
    assert "already answered (accepted passively)" in page
    assert f"counts as accepted since {local_date(request.passive_at):%Y-%m-%d}" in page
    assert "Accept as complete" not in page and "Not complete" not in page  # no form
    assert fresh(request).state == AcceptanceRequest.State.PASSIVE
    project = Project.objects.get(pk=e.project.pk)
    assert (project.state, project.acceptance) == ("completed", "passive")
    assert TimelineEvent.objects.filter(verb="project.completed", subject_id=project.pk).count() == 1
    before = db_state()
    assert "already answered (accepted passively)" in client.get(path).content.decode()
    assert db_state() == before  # opening it again changes nothing


def test_answering_a_completion_link_after_the_deadline_does_not_reopen_delivery(sent, client):
    e, path = sent("completion-asked")
    assert "Not complete" in client.get(path).content.decode()  # the customer opened it in time...
    overdue(e.completion)  # ...and answered after the deadline
    response = client.post(path, {"action": "reject", "reason": "Not done"}, REMOTE_ADDR=IP,
                           HTTP_USER_AGENT=AGENT)
    page = response.content.decode()
    assert response.status_code == 400 and "already answered (accepted passively) on " in page
    assert Project.objects.get(pk=e.project.pk).state == Project.State.COMPLETED
    assert fresh(e.completion).state == AcceptanceRequest.State.PASSIVE


def test_opening_a_sign_off_link_after_the_deadline_settles_it(sent, client):
    e, path = sent("wrap-up-ready")
    overdue(e.sign_off)
    page = client.get(path).content.decode()
    assert "already answered (accepted passively)" in page and "Sign the sign-off document" not in page
    assert fresh(e.sign_off).state == AcceptanceRequest.State.PASSIVE
    assert TimelineEvent.objects.filter(verb="sign_off.passive").count() == 1


def test_a_project_closes_on_a_sign_off_whose_deadline_passed_before_the_timer_ran(people):
    e = reach(people, "wrapped-up")
    overdue(e.sign_off)
    delivery.project_close(user=people["psmanager"], project=e.project)
    assert Project.objects.get(pk=e.project.pk).state == Project.State.CLOSED
    assert fresh(e.sign_off).state == AcceptanceRequest.State.PASSIVE


# --- 2. Free ("investment") services reach Closed Won and close ---------------------------------------------------


def test_an_investment_engagement_runs_from_quote_to_closed_without_an_invoice(people):
    e = reach(people, "rom-approved")
    sal = people["sal"]
    e.quote = sales.quote_create(user=sal, ps_opportunity=e.ps, discount_percent="100", investment=True,
                                 valid_until=timezone.localdate() + dt.timedelta(days=30))
    assert (e.quote.total, e.quote.investment) == (Decimal("0.00"), True)
    e.quote_request = sales.quote_submit(user=sal, quote=e.quote)
    (investment,) = [r for r in e.quote_request.requirements.all() if r.code == "investment"]
    assert (investment.mode, sorted(investment.approvers)) == ("all", ["vp_global_services", "vp_sales"])
    for role in ("dircs", "vpsales"):
        sales.quote_decide(user=people[role], request=e.quote_request, outcome="approve")
    assert Quote.objects.get(pk=e.quote.pk).state != Quote.State.APPROVED  # the VP of global services too
    sales.quote_decide(user=people["vpgs"], request=e.quote_request, outcome="approve")
    e.quote.refresh_from_db(fields=["state"])
    assert e.quote.state == Quote.State.APPROVED

    advance(e, "quote-sent", "quote-accepted", "sow", "sow-in-review", "sow-approved", "sow-sent", "sow-signed")
    assert e.sow.price == Decimal("0.00")
    advance(e, "won")  # Closed Won, with nothing to bill
    assert e.ps.stage == "closed-won" and e.invoice is None
    assert delivery.project_value(e.project) == Decimal("0.00")
    assert TimelineEvent.objects.filter(verb="invoice.not_required").count() == 1

    advance(e, "invoiced", "staffed", "kicked-off", "in-delivery")
    # Explicit acts that bill still refuse nothing.
    assert_refused(lambda: workflow.change_order_add(user=people["psmanager"], project=e.project,
                                                     description="Free extra", amount="0"), "invalid-change-order")
    advance(e, "completion-asked", "completed", "wrap-up")
    final = e.wrap.items.get(code="final-invoice")
    assert final.done_at is not None and final.note == "not required: nothing to bill"
    advance(e, "wrap-up-ready", "wrapped-up")
    assert e.case.state == CollectionCase.State.CLOSED  # nothing owed: closed as it opens
    assert TimelineEvent.objects.filter(verb="collection.closed", subject_id=e.case.pk).count() == 1
    advance(e, "signed-off")
    delivery.project_close(user=people["psmanager"], project=e.project)

    project = Project.objects.get(pk=e.project.pk)
    assert project.state == Project.State.CLOSED
    assert not Invoice.objects.filter(project=project).exists()
    assert delivery.project_value(project) == Decimal("0.00") and billing.outstanding(project) == 0


# --- 3. Acts out of order, and dead ends ---------------------------------------------------------------------------


def test_no_second_sign_off_once_the_customer_has_signed_off(people):
    e = reach(people, "signed-off")
    error = assert_refused(lambda: delivery.sign_off_send(user=people["sal"], project=e.project, contact=e.contact),
                           "already-signed-off")
    assert "already signed off" in error.message


def test_voiding_the_last_draft_closes_the_collection_it_kept_open(people):
    e = reach(people, "won")  # the invoice stays a draft through the wrap-up
    advance(e, "staffed", "kicked-off", "in-delivery", "completion-asked", "completed", "wrap-up", "wrap-up-ready",
            "wrapped-up")
    assert e.case.state == CollectionCase.State.OPEN
    billing.invoice_void(user=people["finance"], invoice=e.invoice, reason="Billed outside the system")
    e.case.refresh_from_db()
    assert e.case.state == CollectionCase.State.CLOSED and e.case.closed_at is not None
    assert TimelineEvent.objects.filter(verb="collection.closed", subject_id=e.case.pk).count() == 1
