"""Step 16: after the wrap-up Finance knows every open balance and its ageing, at a fixed cost."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from psops.billing import selectors, services
from psops.billing.ageing import bucket
from psops.billing.models import Invoice
from tests.builders import signed_project
from tests.factories import make_deal

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("days_late, expected", [
    (-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"),
    (90, "61-90"), (91, "over-90"), (400, "over-90"),
])
def test_ageing_buckets(days_late, expected):
    today = dt.date(2026, 11, 25)
    assert bucket(today - dt.timedelta(days=days_late), today) == expected


def _wrapped_up_case(people, name, issued_days_ago, before_wrap_up=None):
    """A project whose invoice was issued `issued_days_ago`, wrapped up into collections (via the services)."""
    from psops.delivery import services as delivery
    from psops.workflow import services as workflow
    from tests.factories import customer

    _, contact, opp = make_deal(people, name=name)
    project = signed_project(people, opp, contact)
    invoice = project.invoices.get()
    services.invoice_issue(user=people["finance"], invoice=invoice,
                           issue_date=timezone.localdate() - dt.timedelta(days=issued_days_ago))
    delivery.project_assign_engineer(user=people["psmanager"], project=project, engineer=people["pse"])
    delivery.project_kick_off(user=people["psmanager"], project=project, kickoff_date=timezone.localdate())
    delivery.project_start_delivery(user=people["psmanager"], project=project)
    if before_wrap_up is not None:
        before_wrap_up(project)
    request = delivery.completion_request(user=people["pse"], project=project, contact=contact)
    delivery.completion_accept(customer=customer(contact), request=request, name="C", title="CTO")
    project.refresh_from_db()
    wrap = workflow.wrap_up_start(user=people["pse"], project=project)
    for code in ("summary-sent", "notified", "documents"):
        delivery.wrap_up_tick(user=people["pse"], wrap=wrap, code=code)
    delivery.wrap_up_tick(user=people["pse"], wrap=wrap, code="hours-cost", actual_hours="10", actual_cost="1500")
    delivery.sign_off_send(user=people["sal"], project=project, contact=contact)
    return workflow.wrap_up_finish(user=people["pse"], wrap=wrap), invoice


def test_finance_sees_open_balances_with_their_ageing_at_a_fixed_cost(people):
    fin = people["finance"]
    case_a, invoice_a = _wrapped_up_case(people, "Alpha Co", issued_days_ago=75)  # due 45 days ago
    with CaptureQueriesContext(connection) as one:
        cases = selectors.collection_list(user=fin, limit=25)
    assert [(c.pk, c.outstanding, c.bucket) for c in cases] == [(case_a.pk, invoice_a.amount, "31-60")]
    case_b, invoice_b = _wrapped_up_case(people, "Beta Co", issued_days_ago=10)
    services.payment_record(user=fin, invoice=invoice_b, amount="1000", received_on=timezone.localdate())
    with CaptureQueriesContext(connection) as two:
        cases = selectors.collection_list(user=fin, limit=25)
    assert len(one) == len(two) == 1
    assert [(c.pk, c.outstanding, c.bucket) for c in cases] == [
        (case_a.pk, invoice_a.amount, "31-60"), (case_b.pk, invoice_b.amount - Decimal("1000"), "current")]
    report = selectors.ageing(user=fin)
    assert report["31-60"] == invoice_a.amount and report["current"] == invoice_b.amount - 1000
    # Nobody outside Finance sees receivables.
    assert selectors.collection_list(user=people["sal"], limit=25) == []
    assert not selectors.collections_open(user=people["pse"]).exists()
    assert set(selectors.ageing(user=people["pse"]).values()) == {Decimal("0.00")}


def test_paying_everything_closes_the_case(people):
    case, invoice = _wrapped_up_case(people, "Gamma Co", issued_days_ago=40)
    services.payment_record(user=people["finance"], invoice=invoice, amount=invoice.amount,
                            received_on=timezone.localdate())
    case.refresh_from_db()
    assert case.state == "closed" and Invoice.objects.get(pk=invoice.pk).state == "paid"
    assert selectors.collection_list(user=people["finance"], limit=25) == []


def test_a_case_stays_open_while_a_draft_invoice_waits(people):
    from psops.workflow import services as workflow

    def late_change_order(project):
        workflow.change_order_add(user=people["psmanager"], project=project, description="Extra day", amount="2000")

    case, invoice = _wrapped_up_case(people, "Delta Co", issued_days_ago=5, before_wrap_up=late_change_order)
    draft = invoice.project.invoices.get(state="draft")
    services.payment_record(user=people["finance"], invoice=invoice, amount=invoice.amount,
                            received_on=timezone.localdate())
    case.refresh_from_db()
    assert case.state == "open", "closed while a draft invoice was still to issue"
    services.invoice_issue(user=people["finance"], invoice=draft)
    services.payment_record(user=people["finance"], invoice=draft, amount="2000", received_on=timezone.localdate())
    case.refresh_from_db()
    assert case.state == "closed"
