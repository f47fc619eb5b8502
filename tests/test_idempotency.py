"""Doubles (decision 0008): the same payment or the same thread message sent twice (a double click, a resubmitted
form, two tabs) is stored once. A payment's double is refused with "already-recorded" (409 on the page) and changes
nothing; a message's double returns the message already posted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from psops.activity.models import Message, Notification, TimelineEvent
from psops.activity.services import MESSAGE_DOUBLE_WINDOW, message_post, thread_for
from psops.billing import services as billing
from psops.billing.models import Invoice, Payment
from psops.workflow import services as workflow
from tests.factories import assert_refused, reach

TODAY = timezone.localdate


def pay(people, invoice, amount, *, reference="", received_on=None):
    return billing.payment_record(user=people["finance"], invoice=invoice, amount=amount,
                                  received_on=received_on or TODAY(), reference=reference)


def backdate(model, minutes: int) -> None:
    """Make every row of `model` look recorded `minutes` ago."""
    model.objects.update(created_at=timezone.now() - dt.timedelta(minutes=minutes))


# --- Payments, at the service --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_payment_with_its_reference_is_recorded_once(people):
    invoice = reach(people, "invoiced").invoice
    pay(people, invoice, "10000", reference="WIRE-1")
    error = assert_refused(lambda: pay(people, invoice, "10000.00", reference="WIRE-1"), "already-recorded")
    assert "already recorded" in error.message and "WIRE-1" in error.message and error.http_status == 409
    # The same reference typed again with other spacing or case is the same payment; an hour later it still is.
    backdate(Payment, 60)
    assert_refused(lambda: pay(people, invoice, "10000", reference="  wire-1 "), "already-recorded")
    assert Payment.objects.filter(invoice=invoice).count() == 1


@pytest.mark.django_db
def test_another_reference_amount_or_date_is_another_payment(people):
    invoice = reach(people, "invoiced").invoice
    pay(people, invoice, "10000", reference="WIRE-1")
    pay(people, invoice, "10000", reference="WIRE-2")
    pay(people, invoice, "9000", reference="WIRE-1")
    pay(people, invoice, "10000", reference="WIRE-1", received_on=TODAY() - dt.timedelta(days=1))
    assert Payment.objects.filter(invoice=invoice).count() == 4
    assert billing.invoice_balance(Invoice.objects.get(pk=invoice.pk)) == invoice.amount - 39000


@pytest.mark.django_db
def test_without_a_reference_a_repeat_within_minutes_is_a_double(people):
    invoice = reach(people, "invoiced").invoice
    pay(people, invoice, "5000")
    error = assert_refused(lambda: pay(people, invoice, "5000"), "already-recorded")
    assert "own reference" in error.message  # says how to record a genuine second payment
    pay(people, invoice, "5000", reference="CHQ-2")  # ... like this
    # Later than the window, the same unreferenced amount is taken for a second payment.
    backdate(Payment, int(billing.PAYMENT_DOUBLE_WINDOW.total_seconds() // 60) + 1)
    pay(people, invoice, "5000")
    assert Payment.objects.filter(invoice=invoice).count() == 3


@pytest.mark.django_db
def test_a_double_of_the_payment_that_settled_the_invoice_says_already_recorded(people):
    invoice = reach(people, "invoiced").invoice
    pay(people, invoice, invoice.amount, reference="FULL-1")
    assert Invoice.objects.get(pk=invoice.pk).state == Invoice.State.PAID
    assert_refused(lambda: pay(people, invoice, invoice.amount, reference="FULL-1"), "already-recorded")
    # A different payment on the paid invoice is still refused for what it is.
    assert_refused(lambda: pay(people, invoice, "1", reference="OTHER"), "invoice-not-open")


# --- Thread messages, at the service ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_message_posted_twice_is_stored_once(people, deal):
    _account, _contact, opp = deal
    thread = thread_for(opp)
    counts = (Message.objects.count(), Notification.objects.count(), TimelineEvent.objects.count())
    first = message_post(user=people["sa"], thread=thread, body="Repository list received. @sal")
    again = message_post(user=people["sa"], thread=thread, body="  Repository list received. @sal ")
    assert again.pk == first.pk and again.already_posted and not first.already_posted
    # One message, one notification for the person mentioned, one timeline event.
    assert (Message.objects.count(), Notification.objects.count(), TimelineEvent.objects.count()) == (
        counts[0] + 1, counts[1] + 1, counts[2] + 1)


@pytest.mark.django_db
def test_a_message_is_new_when_its_author_words_reply_or_time_differ(people, deal):
    _account, _contact, opp = deal
    thread = thread_for(opp)
    first = message_post(user=people["sa"], thread=thread, body="Scoping call booked.")
    others = [
        message_post(user=people["sal"], thread=thread, body="Scoping call booked."),
        message_post(user=people["sa"], thread=thread, body="Scoping call booked for Tuesday."),
        message_post(user=people["sa"], thread=thread, body="Scoping call booked.", parent=first),
        message_post(user=people["sa"], thread=thread, body="Scoping call booked.", kind=Message.Kind.ANSWER),
    ]
    assert len({first.pk, *(m.pk for m in others)}) == 5 and not any(m.already_posted for m in others)
    backdate(Message, int(MESSAGE_DOUBLE_WINDOW.total_seconds() // 60) + 1)
    later = message_post(user=people["sa"], thread=thread, body="Scoping call booked.")
    assert later.pk != first.pk and not later.already_posted


# --- Through the pages ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_payment_posted_twice_from_two_tabs_is_stored_once(client, people):
    invoice = reach(people, "invoiced").invoice
    client.force_login(people["finance"])
    form = {"payment-amount": "12000.00", "payment-received_on": TODAY().isoformat(), "payment-reference": "WIRE-77"}
    url = f"/r/invoice/{invoice.pk}/act/payment/"
    first = client.post(url, form)
    assert first.status_code == 302
    second = client.post(url, form)
    page = second.content.decode()
    assert second.status_code == 409 and "already recorded" in page and "nothing was added" in page
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert TimelineEvent.objects.filter(verb="invoice.payment").count() == 1


@pytest.mark.django_db
def test_a_message_posted_twice_from_the_page_is_stored_once(client, people, deal):
    _account, _contact, opp = deal
    client.force_login(people["sa"])
    url = f"/r/opportunity/{opp.pk}/message/"
    before = Message.objects.count()
    first = client.post(url, {"body": "Customer confirmed 800 users.", "kind": "comment"}, follow=True)
    assert "Posted to the engagement" in first.content.decode()
    second = client.post(url, {"body": "Customer confirmed 800 users.", "kind": "comment"}, follow=True)
    assert second.status_code == 200 and "Already posted" in second.content.decode()
    assert Message.objects.count() == before + 1


# --- Two tabs at the same moment (PostgreSQL: the row locks do the work) -----------------------------------------

ON_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs PostgreSQL: run with DATABASE_URL=postgres://psops:psops@127.0.0.1:5432/psops"),
]


def on_postgres(test):
    for mark in ON_POSTGRES:
        test = mark(test)
    return test


def _issued_invoice(people, name):
    from tests.builders_concurrency import sow_signed

    deal = sow_signed(people, name=name)
    project = workflow.ps_opportunity_close_won(user=people["sal"], ps_opportunity=deal.ps)
    invoice = project.invoices.get()
    billing.invoice_issue(user=people["finance"], invoice=invoice)
    return deal, invoice


def _payer(invoice_pk, reference):
    def prepare():
        user = get_user_model().objects.get(username="finance")
        invoice = Invoice.objects.get(pk=invoice_pk)
        return lambda: billing.payment_record(user=user, invoice=invoice, amount="1000", received_on=TODAY(),
                                              reference=reference)
    return prepare


@on_postgres
@pytest.mark.parametrize("reference", ["WIRE-9", ""])
def test_two_tabs_record_the_same_payment_at_the_same_moment(reference):
    from tests.builders_concurrency import race, staff

    people = staff()
    for round_ in range(3):
        _deal, invoice = _issued_invoice(people, f"Payment Race {reference or 'none'} {round_}")
        outcomes = race(_payer(invoice.pk, reference), _payer(invoice.pk, reference))
        losers = [o for o in outcomes if o.refused is not None]
        assert len(losers) == 1 and losers[0].refused.code == "already-recorded", outcomes
        assert Payment.objects.filter(invoice=invoice).count() == 1


def _poster(thread_pk, body):
    def prepare():
        from psops.activity.models import Thread

        user = get_user_model().objects.get(username="sa")
        thread = Thread.objects.get(pk=thread_pk)
        return lambda: message_post(user=user, thread=thread, body=body)
    return prepare


@on_postgres
def test_two_tabs_post_the_same_message_at_the_same_moment():
    from tests.builders_concurrency import race, staff
    from tests.factories import make_deal

    people = staff()
    _account, _contact, opp = make_deal(people, name="Message Race")
    thread = thread_for(opp)
    for round_ in range(3):
        outcomes = race(_poster(thread.pk, f"Round {round_}"), _poster(thread.pk, f"Round {round_}"))
        assert len({o.value.pk for o in outcomes}) == 1 and sum(o.value.already_posted for o in outcomes) == 1
        assert Message.objects.filter(thread=thread, body=f"Round {round_}").count() == 1
