"""Money invariants under any sequence of billing acts: totals reconcile, nothing is billed twice, payments never
exceed invoices, and a refused act changes nothing."""

import datetime as dt
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from psops.billing import services as billing
from psops.billing.models import CollectionCase, CreditNote, Invoice, Payment, WriteOff
from psops.core.errors import ApplicationError
from psops.delivery.services import project_value
from psops.workflow import invariants
from psops.workflow import services as workflow
from tests.builders import signed_project
from tests.factories import make_deal, make_staff

cents = st.integers(min_value=1, max_value=6_000_000).map(lambda c: Decimal(c) / 100)
# An amount relative to the picked invoice's open balance, to reach the edges (all of it, a cent more, twice).
shares = st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal("1"), Decimal("1.0001"), Decimal("2")])
amounts = st.one_of(cents, shares.map(lambda s: ("share", s)))
acts = st.lists(st.one_of(
    st.tuples(st.just("issue"), st.integers(0, 5)),
    st.tuples(st.just("pay"), st.integers(0, 5), amounts),
    st.tuples(st.just("credit"), st.integers(0, 5), amounts),
    st.tuples(st.just("write-off"), st.integers(0, 5), amounts),
    st.tuples(st.just("change-order"), cents),
    st.tuples(st.just("final")),
    # The batch acts: a bank file of a few payments (all or none), and a billing run over every draft.
    st.tuples(st.just("pay-batch"), st.lists(st.tuples(st.integers(0, 5), amounts), min_size=2, max_size=4)),
    st.tuples(st.just("issue-run")),
), min_size=1, max_size=12)


def snapshot(project):
    return (
        list(Invoice.objects.filter(project=project).order_by("pk")
             .values_list("pk", "state", "amount", "paid_to_date", "open_balance")),
        Payment.objects.filter(invoice__project=project).aggregate(t=Sum("amount"))["t"],
        CreditNote.objects.filter(invoice__project=project).aggregate(t=Sum("amount"))["t"],
        list(WriteOff.objects.filter(invoice__project=project).values_list("pk", "state")),
        list(CollectionCase.objects.filter(project=project).values_list("state", "outstanding", "oldest_due")),
    )


class BillingInvariants(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.people = make_staff()
        _, cls.contact, opp = make_deal(cls.people)
        cls.project = signed_project(cls.people, opp, cls.contact, billing_terms="50-50")
        # A collection case from the start, so every act below also keeps the case's figures (decision 0014).
        billing.collection_open(actor=cls.people["finance"], project=cls.project)

    def check_invariants(self):
        project = self.project
        invoices = list(Invoice.objects.filter(project=project))
        live = [i for i in invoices if i.state != Invoice.State.VOID]
        keys = [i.billing_key for i in live]
        assert len(keys) == len(set(keys)), "an event was billed twice"
        assert billing.billed_total(project) <= project_value(project), "billed above the SOW's value"
        for invoice in invoices:
            balance = billing.invoice_balance(invoice)
            assert balance >= 0, f"{invoice} owes a negative amount"
            if invoice.state == Invoice.State.PAID:
                assert balance == 0
            paid = invoice.payments.aggregate(t=Sum("amount"))["t"] or 0
            assert paid <= invoice.amount
        # The balances kept on the rows agree with the money history, to the cent.
        assert list(invariants.balances_kept()) == []
        # So do the collection case's outstanding amount and oldest due date, against a reference read in Python.
        case = CollectionCase.objects.get(project=project)
        still_owed = [i for i in invoices if i.state == Invoice.State.ISSUED]
        assert case.outstanding == sum((i.open_balance for i in still_owed), Decimal("0.00"))
        assert case.oldest_due == min((i.due_date for i in still_owed), default=None)
        assert list(invariants.collections_kept()) == []

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(acts)
    def test_any_sequence_of_billing_acts_keeps_the_books_straight(self, sequence):
        people, project = self.people, self.project
        fin, ctrl, psm = people["finance"], people["controller"], people["psmanager"]
        today = timezone.localdate()
        for invoice in Invoice.objects.filter(project=project, state=Invoice.State.DRAFT):
            billing.invoice_issue(user=fin, invoice=invoice, issue_date=today - dt.timedelta(days=45))

        def amount(invoice, raw):
            if isinstance(raw, tuple):
                return (billing.invoice_balance(invoice) * raw[1]).quantize(Decimal("0.01")) or Decimal("0.01")
            return raw

        for act in sequence:
            invoices = list(Invoice.objects.filter(project=project).order_by("pk"))
            def pick(i, invoices=invoices):
                return invoices[i % len(invoices)] if invoices else None

            before = snapshot(project)
            try:
                kind = act[0]
                if kind == "issue" and pick(act[1]):
                    billing.invoice_issue(user=fin, invoice=pick(act[1]), issue_date=today - dt.timedelta(days=45))
                elif kind == "pay" and pick(act[1]):
                    billing.payment_record(user=fin, invoice=pick(act[1]), amount=amount(pick(act[1]), act[2]),
                                           received_on=today)
                elif kind == "credit" and pick(act[1]):
                    billing.credit_note_issue(user=fin, invoice=pick(act[1]), amount=amount(pick(act[1]), act[2]),
                                              reason="goodwill")
                elif kind == "write-off" and pick(act[1]):
                    w = billing.write_off_request(user=fin, invoice=pick(act[1]), amount=amount(pick(act[1]), act[2]),
                                                  reason="small")
                    billing.write_off_decide(user=ctrl, write_off=w, approve=True)
                elif kind == "change-order":
                    workflow.change_order_add(user=psm, project=project, description="More scope",
                                              amount=act[1] if not isinstance(act[1], tuple) else "100")
                elif kind == "final":
                    billing.invoice_draft_final(actor=psm, project=project)
                elif kind == "pay-batch" and invoices:
                    billing.payments_record(user=fin, lines=[
                        billing.PaymentLine(pick(i), amount(pick(i), raw), today, f"bank-{n}")
                        for n, (i, raw) in enumerate(act[1])])
                elif kind == "issue-run":
                    billing.invoices_issue(user=fin, invoices=[i for i in invoices if i.state == Invoice.State.DRAFT],
                                           issue_date=today - dt.timedelta(days=45))
            except ApplicationError as refusal:
                assert refusal.message and refusal.code
                assert snapshot(project) == before, f"refused {act} but something changed"
            self.check_invariants()
