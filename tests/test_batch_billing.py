"""Finance's batch acts: a billing run issues many drafts, a bank file records many payments. Each is all or none,
judges every record as the one-at-a-time act does (they are the same service), and costs the same number of queries
whatever its size."""

import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from psops.activity.models import TimelineEvent
from psops.billing import services
from psops.billing.imports import read_payments
from psops.billing.models import CollectionCase, Invoice, Payment
from psops.core.errors import ApplicationError
from psops.documents.services import latest_document, template_in_use
from psops.workflow import invariants
from tests.builders import signed_project
from tests.factories import make_deal

pytestmark = pytest.mark.django_db


NAMES = itertools.count(1)


def drafts(people, count, *, terms="full-on-signature"):
    """`count` engagements' draft invoices (one deal and project each)."""
    found = []
    for _ in range(count):
        _, contact, opp = make_deal(people, name=f"Batch{next(NAMES)} Co")
        found.extend(signed_project(people, opp, contact, billing_terms=terms).invoices.filter(state="draft"))
    return found


def book():
    """Everything a refused batch must leave as it was."""
    return (list(Invoice.objects.order_by("pk").values_list("pk", "state", "number", "paid_to_date", "open_balance")),
            Payment.objects.count(), TimelineEvent.objects.count(),
            list(CollectionCase.objects.order_by("pk").values_list("outstanding", "oldest_due", "state")))


def test_a_billing_run_issues_every_draft_at_a_cost_that_does_not_grow(people):
    fin = people["finance"]
    first, second = drafts(people, 2), drafts(people, 5)
    day = dt.date(2026, 11, 2)
    services.invoices_issue_check(user=fin)  # reads the user's roles once, as any first act does
    template_in_use("invoice")  # the shipped invoice template becomes version 1 on its first use, once
    with CaptureQueriesContext(connection) as small:
        services.invoices_issue(user=fin, invoices=first, issue_date=day)
    with CaptureQueriesContext(connection) as large:
        issued = services.invoices_issue(user=fin, invoices=[i.pk for i in second], issue_date=day)
    assert len(small) == len(large)
    assert [i.pk for i in issued] == sorted(i.pk for i in second)
    for invoice in Invoice.objects.filter(pk__in=[i.pk for i in first + second]):
        assert invoice.state == "issued" and invoice.number == f"INV-{invoice.pk:05d}"
        assert invoice.issue_date == day and invoice.due_date == day + dt.timedelta(days=invoice.net_days)
        assert invoice.open_balance == invoice.amount and invoice.issued_by == fin
        assert TimelineEvent.objects.filter(verb="invoice.issued", subject_id=invoice.pk,
                                            thread__isnull=False).count() == 1
        # Its PDF waits for the worker: queued in the same run, not made while Finance waits.
        queued = latest_document(invoice, "invoice")
        assert (queued.state, queued.version) == ("queued", 1)
        assert queued.opportunity == invoice.project.ps_opportunity.parent
    assert list(invariants.balances_kept()) == []


def test_a_billing_run_with_one_draft_it_cannot_issue_issues_none(people):
    fin = people["finance"]
    run = drafts(people, 3)
    services.invoice_issue(user=fin, invoice=run[1])
    before = book()
    with pytest.raises(ApplicationError) as refused:
        services.invoices_issue(user=fin, invoices=run)
    assert refused.value.code == "invoice-not-draft" and str(run[1].pk) in refused.value.message
    assert book() == before
    for who in ("sal", "controller", "pse"):
        with pytest.raises(ApplicationError) as refused:
            services.invoices_issue(user=people[who], invoices=[run[0]])
        assert refused.value.code == "forbidden"
    with pytest.raises(ApplicationError, match="Choose the drafts"):
        services.invoices_issue(user=fin, invoices=[])
    with pytest.raises(ApplicationError, match="no invoice #999999"):
        services.invoices_issue(user=fin, invoices=[run[0].pk, 999999])
    assert book() == before


def test_a_batch_larger_than_its_limit_is_refused(people, monkeypatch):
    run = drafts(people, 2)
    monkeypatch.setattr(services, "BATCH_MAX", 1)
    before = book()
    with pytest.raises(ApplicationError) as refused:
        services.invoices_issue(user=people["finance"], invoices=run)
    assert refused.value.code == "batch-too-large" and "split" in refused.value.message
    assert book() == before


def issued(people, count):
    run = drafts(people, count)
    return services.invoices_issue(user=people["finance"], invoices=run, issue_date=timezone.localdate())


def test_a_bank_file_records_its_payments_and_settles_what_it_pays_off(people):
    fin = people["finance"]
    a, b, c = issued(people, 3)
    today = timezone.localdate()
    lines = [services.PaymentLine(a, a.amount - 100, today, "B-1"), services.PaymentLine(a, "100", today, "B-2"),
             services.PaymentLine(b.pk, "250.50", today, "")]
    with CaptureQueriesContext(connection) as three:
        payments = services.payments_record(user=fin, lines=lines)
    assert [(p.invoice_id, p.amount, p.reference) for p in payments] == [
        (a.pk, a.amount - 100, "B-1"), (a.pk, Decimal("100.00"), "B-2"), (b.pk, Decimal("250.50"), "")]
    assert all(p.pk for p in payments)
    a.refresh_from_db(), b.refresh_from_db()
    assert (a.state, a.open_balance, a.paid_to_date) == ("paid", 0, a.amount)
    assert (b.state, b.open_balance) == ("issued", b.amount - Decimal("250.50"))
    assert TimelineEvent.objects.filter(verb="invoice.payment", subject_id=a.pk).count() == 2
    assert TimelineEvent.objects.filter(verb="invoice.paid", subject_id=a.pk).count() == 1
    assert list(invariants.balances_kept()) == [] and list(invariants.collections_kept()) == []
    # Six lines (one settling its invoice, as above) cost what three did.
    more = issued(people, 3)
    with CaptureQueriesContext(connection) as six:
        services.payments_record(user=fin, lines=[services.PaymentLine(more[0], more[0].amount, today, "F")] + [
            services.PaymentLine(i, amount, today, f"R-{i.pk}-{amount}") for i in more[1:] + [c]
            for amount in ("1", "2")][:5])
    assert len(six) == len(three)


@pytest.mark.parametrize("second, code, says", [
    ("more than owed", "overpayment", "Line 3: INV-"),
    ("same reference", "already-recorded", "Line 3: This payment"),
    ("paid already", "already-recorded", "Line 3: This payment"),
    ("zero", "invalid-amount", "Line 3: A payment is more than zero"),
    ("three places", "invalid-amount", "Line 3:"),
    ("tomorrow", "invalid-date", "Line 3: A payment is recorded once received"),
])
def test_one_bad_line_refuses_the_whole_file_and_names_it(people, second, code, says):
    fin = people["finance"]
    (a,) = issued(people, 1)
    today = timezone.localdate()
    half = (a.amount / 2).quantize(Decimal("0.01"))
    if second == "paid already":
        services.payment_record(user=fin, invoice=a, amount="10", received_on=today, reference="OLD")
    third = {"more than owed": services.PaymentLine(a, a.amount - half + 1, today, "X-2", line=3),
             "same reference": services.PaymentLine(a, half, today, "x-1", line=3),
             "paid already": services.PaymentLine(a, "10", today, "old", line=3),
             "zero": services.PaymentLine(a, "0", today, "X-3", line=3),
             "three places": services.PaymentLine(a, "1.001", today, "X-3", line=3),
             "tomorrow": services.PaymentLine(a, "1", today + dt.timedelta(days=1), "X-4", line=3)}[second]
    before = book()
    with pytest.raises(ApplicationError) as refused:
        services.payments_record(user=fin, lines=[services.PaymentLine(a, half, today, "X-1", line=2), third])
    assert refused.value.code == code and refused.value.message.startswith(says), refused.value.message
    assert book() == before


def test_a_payment_alone_is_refused_in_its_own_words(people):
    (a,) = issued(people, 1)
    with pytest.raises(ApplicationError) as refused:
        services.payment_record(user=people["finance"], invoice=a, amount=a.amount + 1,
                                received_on=timezone.localdate())
    assert refused.value.code == "overpayment" and refused.value.message.startswith("INV-")
    assert refused.value.field == "amount"
    before = book()
    with pytest.raises(ApplicationError) as refused:  # a payment that has not come yet is not recorded
        services.payment_record(user=people["finance"], invoice=a, amount="1",
                                received_on=timezone.localdate() + dt.timedelta(days=1))
    assert (refused.value.code, refused.value.field) == ("invalid-date", "received_on") and book() == before


def csv_of(*rows, head="invoice,amount,received_on,reference"):
    return ("\n".join([head, *rows]) + "\n").encode()


@pytest.mark.parametrize("data, says", [
    (b"\xff\xfe\x00i", "not UTF-8"),
    (b"invoice,amount\nINV-1,2\n", "missing: received_on"),
    (b"invoice,amount,received_on\n", "no payments"),
    (b"", "missing: invoice, amount, received_on"),
    (csv_of("INV-99999,10,2026-11-01,"), "Line 2: there is no invoice numbered INV-99999"),
    (csv_of(",10,2026-11-01,"), "Line 2: the invoice number is empty"),
    (csv_of("{n},10,30/11/2026,"), "Line 2: received_on '30/11/2026' is not a date"),
    (csv_of("{n},10,2026-11-01,a,b"), "Line 2: more values"),
    (csv_of("{n},10,2026-11-01," + "r" * 101), "Line 2: the reference is longer"),
    (csv_of("", "{n},10,2026-11-01,", '"{n},10'), "Line 4"),
])
def test_a_bank_file_that_is_not_one_is_refused_naming_the_line(people, data, says):
    (a,) = issued(people, 1)
    data = data.replace(b"{n}", a.number.encode())
    with pytest.raises(ApplicationError) as refused:
        read_payments(data)
    assert says in refused.value.message and refused.value.field == "file"


def test_a_bank_file_reads_its_columns_in_any_order_with_a_bom_and_blank_lines(people):
    (a,) = issued(people, 1)
    data = "\ufeffReference,Received_On,Amount,Invoice,Memo\nR-9,2026-11-03,12.50,{n},hello\n\n".replace(
        "{n}", a.number).encode()
    (line,) = read_payments(data)
    assert (line.invoice, line.amount, line.received_on, line.reference, line.line) == (
        a.pk, "12.50", dt.date(2026, 11, 3), "R-9", 2)


def test_the_command_records_a_bank_file_or_nothing(people, tmp_path):
    a, b = issued(people, 2)
    good = tmp_path / "bank.csv"
    good.write_bytes(csv_of(f"{a.number},{a.amount},2026-11-20,B-1", f"{b.number},5.00,2026-11-20,B-2"))
    out = io.StringIO()
    call_command("payments_import", str(good), "--as", "finance", stdout=out)
    assert out.getvalue().startswith("Recorded 2 payments on 2 invoices") and "1 of them now paid" in out.getvalue()
    one = tmp_path / "one.csv"  # a file of one line still names it
    one.write_bytes(csv_of(f"{b.number},{b.amount},2026-11-21,B-3"))
    before = book()
    for args, says in [((str(good), "--as", "finance"), "Line 2: This payment"),
                       ((str(good), "--as", "nobody"), "No user named 'nobody'"),
                       ((str(good), "--as", "sal"), "Only Finance records payments"),
                       ((str(tmp_path / "missing.csv"), "--as", "finance"), "Cannot read"),
                       ((str(one), "--as", "finance"), "Line 2: INV-")]:
        with pytest.raises(CommandError) as refused:
            call_command("payments_import", *args)
        assert refused.value.returncode == 2 and says in str(refused.value), str(refused.value)
    assert book() == before
