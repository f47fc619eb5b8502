"""Two people doing the same act at the same moment: exactly one wins and nothing is doubled.

Only PostgreSQL has the row locks these acts rely on under real concurrency; SQLite serialises whole-database
writes, so there the tests skip. CI runs them on PostgreSQL and checks that they ran (`.ci/run`).
"""

from django.contrib.auth import get_user_model

from psops.activity.models import TimelineEvent
from psops.approvals import services as approvals
from psops.approvals.models import ApprovalRequest, Decision
from psops.billing import services as billing
from psops.billing.models import Invoice, Payment
from psops.crm.models import PSOpportunity
from psops.delivery.models import Project
from psops.estimating import services as estimating
from psops.estimating.models import Rom
from psops.workflow import services as workflow
from tests.builders_concurrency import (
    ON_POSTGRES,
    project_in_delivery,
    race,
    rom_waiting_for_approval,
    sow_signed,
    staff,
)

pytestmark = ON_POSTGRES

ROUNDS = 5
User = get_user_model()


def approver(username, request_pk):
    """An approver in a browser of their own: their own copies of the records, then the decision."""
    def prepare():
        user = User.objects.get(username=username)
        request = ApprovalRequest.objects.get(pk=request_pk)
        return lambda: approvals.rom_decide(user=user, request=request, outcome="approve",
                                            comment=f"approved by {username}")
    return prepare


def closer(username, ps_pk):
    def prepare():
        user = User.objects.get(username=username)
        ps = PSOpportunity.objects.get(pk=ps_pk)
        return lambda: workflow.ps_opportunity_close_won(user=user, ps_opportunity=ps)
    return prepare


def test_two_approvers_decide_the_same_rom_at_once():
    people = staff()
    for round_ in range(ROUNDS):
        deal = rom_waiting_for_approval(people, name=f"Approval Race {round_}")
        request_pk = deal.request.pk

        outcomes = race(approver("psmanager", request_pk), approver("dircs", request_pk))

        winners = [o for o in outcomes if o.refused is None]
        losers = [o for o in outcomes if o.refused is not None]
        assert len(winners) == 1 and len(losers) == 1, f"round {round_}: {outcomes}"
        assert losers[0].refused.code in ("already-decided", "conflict"), f"round {round_}: {losers[0].refused}"
        assert winners[0].value.state == ApprovalRequest.State.APPROVED

        request = ApprovalRequest.objects.get(pk=request_pk)
        assert request.state == ApprovalRequest.State.APPROVED
        assert Decision.objects.filter(request=request).count() == 1
        assert Rom.objects.get(pk=deal.rom.pk).status == Rom.Status.APPROVED
        assert TimelineEvent.objects.filter(verb="approval.approve", subject_id=request_pk).count() == 1


def test_two_people_mark_the_same_deal_closed_won_at_once():
    people = staff()
    for round_ in range(ROUNDS):
        deal = sow_signed(people, name=f"Close Race {round_}")
        ps_pk = deal.ps.pk

        # The SAL who owns the deal and their manager, both allowed to close it.
        outcomes = race(closer("sal", ps_pk), closer("salesmgr", ps_pk))

        winners = [o for o in outcomes if o.refused is None]
        losers = [o for o in outcomes if o.refused is not None]
        assert len(winners) == 1 and len(losers) == 1, f"round {round_}: {outcomes}"
        assert losers[0].refused.code in ("conflict", "not-ready"), f"round {round_}: {losers[0].refused}"

        assert PSOpportunity.objects.get(pk=ps_pk).stage == "closed-won"
        (project,) = Project.objects.filter(ps_opportunity_id=ps_pk)
        assert project == winners[0].value and project.sow_id == deal.sow.pk
        assert Invoice.objects.filter(project=project).count() == 1
        assert TimelineEvent.objects.filter(verb="project.created", subject_id=project.pk).count() == 1
        assert TimelineEvent.objects.filter(verb="ps_opportunity.stage", subject_id=ps_pk,
                                            data__to="closed-won").count() == 1


def opener(username, rom_pk):
    def prepare():
        user = User.objects.get(username=username)
        rom = Rom.objects.get(pk=rom_pk)
        return lambda: estimating.rom_open_ps_opportunity(user=user, rom=rom, name=f"opened by {username}")
    return prepare


def test_four_posts_of_create_the_ps_opportunity_open_one():
    """The race of issue 6: four simultaneous "Create the PS opportunity" posts on one approved ROM once made four
    PS opportunities; the ROM row lock and the conditional update let exactly one through."""
    people = staff()
    for round_ in range(ROUNDS):
        deal = rom_waiting_for_approval(people, name=f"Open Race {round_}")
        assert deal.request is not None
        approvals.rom_decide(user=people["psmanager"], request=deal.request, outcome="approve")
        rom_pk = deal.rom.pk

        outcomes = race(*(opener(who, rom_pk) for who in ("sal", "sal", "salesmgr", "salesmgr")))

        winners = [o for o in outcomes if o.refused is None]
        losers = [o for o in outcomes if o.refused is not None]
        assert len(winners) == 1 and len(losers) == 3, f"round {round_}: {outcomes}"
        assert {o.refused.code for o in losers} <= {"ps-exists", "conflict"}, f"round {round_}: {losers}"
        (ps,) = PSOpportunity.objects.filter(parent=deal.opportunity)
        assert ps == winners[0].value
        assert Rom.objects.get(pk=rom_pk).ps_opportunity_id == ps.pk
        assert TimelineEvent.objects.filter(verb="ps_opportunity.created", subject_id=ps.pk).count() == 1


def bank_file(username, invoice_pks, reference):
    """Finance importing a bank file that pays the invoices in full, in the order given."""
    def prepare():
        user = User.objects.get(username=username)
        invoices = [Invoice.objects.get(pk=pk) for pk in invoice_pks]
        return lambda: billing.payments_record(user=user, lines=[
            billing.PaymentLine(i, i.amount, i.issue_date, f"{reference}-{i.pk}") for i in invoices])
    return prepare


def test_two_bank_files_paying_the_same_invoices_at_once_record_one():
    """Two imports that pay the same invoices, listed in opposite orders: the invoices are locked in id order, so
    neither waits on the other in a circle (no deadlock); the second finds them paid and records nothing."""
    people = staff()
    fin = people["finance"]
    for round_ in range(ROUNDS):
        pks = []
        for n in range(3):
            project = project_in_delivery(people, name=f"Bank Race {round_} {n}").project
            invoice = project.invoices.get()
            billing.invoice_issue(user=fin, invoice=invoice)
            pks.append(invoice.pk)

        outcomes = race(bank_file("finance", pks, "A"), bank_file("finance", list(reversed(pks)), "B"))

        winners = [o for o in outcomes if o.refused is None]
        losers = [o for o in outcomes if o.refused is not None]
        assert len(winners) == 1 and len(losers) == 1, f"round {round_}: {outcomes}"
        assert losers[0].refused.code == "invoice-not-open", f"round {round_}: {losers}"
        assert Payment.objects.filter(invoice_id__in=pks).count() == 3
        assert set(Invoice.objects.filter(pk__in=pks).values_list("state", "open_balance")) == {("paid", 0)}
        assert TimelineEvent.objects.filter(verb="invoice.paid", subject_id__in=pks).count() == 3
