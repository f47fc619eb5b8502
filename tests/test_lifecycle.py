"""The executable specification: the 16 steps of the process, in order, each named by its number."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from psops.activity.models import Message, TimelineEvent
from psops.activity.services import message_post, thread_for
from psops.approvals import services as approvals
from psops.approvals.models import ApprovalRequest
from psops.billing import services as billing
from psops.billing.ageing import bucket
from psops.billing.models import CollectionCase, Invoice
from psops.crm import services as crm
from psops.crm.models import PSOpportunity
from psops.delivery import services as delivery
from psops.delivery.models import Project
from psops.estimating import services as estimating
from psops.estimating.models import Rom
from psops.sales import services as sales
from psops.sales.models import Quote, Sow
from psops.workflow import services as workflow
from tests.factories import customer

pytestmark = pytest.mark.django_db


def test_the_sixteen_steps(people, deal):
    sal, sa, psm, ta, pse, fin = (people[k] for k in ("sal", "sa", "psmanager", "ta", "pse", "finance"))
    account, contact, opp = deal
    thread = thread_for(opp)
    buyer = customer(contact)

    # Step 1: the SAL and the SA discuss services with the customer during scoping.
    crm.opportunity_move_stage(user=sal, opportunity=opp, stage="2-scoping")
    message_post(user=sa, thread=thread, body="Customer wants to move 800 users and ~1,500 projects to SaaS. @sal")
    assert opp.stage == "2-scoping"

    # Step 2: the SA turns the answers into a ROM with the services calculator.
    rom = estimating.rom_create(user=sa, opportunity=opp, template="sm-to-saas",
                                answers={"users": 800, "projects": 1500, "large_repos": 3})
    v1 = rom.current
    assert (v1.low, v1.high) == (Decimal("67000.00"), Decimal("77000.00"))  # band 1000x2000 + one block of 12,000
    assert "technical-architect-review" in v1.flag_codes

    # Step 3: the SAL sends the ROM for approval; the policy names PS manager or Dir. CS, and (over $50k) a TA.
    request = approvals.rom_submit(user=sal, rom=rom)
    assert request.policy.version == 1
    assert [r.code for r in request.requirements.all()] == ["rom-approval", "technical-review"]

    # Step 4: the SAL creates the child PS opportunity.
    ps = estimating.rom_open_ps_opportunity(user=sal, rom=rom, name="Acme SaaS migration")
    assert ps.parent == opp and ps.stage == "rom-approval"

    # Step 5: the PS amount starts as the ROM's value; only the PS opportunity carries it.
    assert ps.ps_amount == Decimal("77000.00")
    assert not hasattr(opp, "ps_amount")

    # Step 6: the PS manager decides there is not enough information yet.
    approvals.rom_decide(user=psm, request=request, outcome="needs-discovery",
                         questions="How many repositories are over 5 GB, really?")
    rom.refresh_from_db()
    assert rom.status == "needs-discovery"
    assert thread.messages.filter(kind=Message.Kind.QUESTION).count() == 1

    # Step 7: discovery in the one thread, then a revised ROM (a new version) is resubmitted and approved.
    message_post(user=sa, thread=thread, kind=Message.Kind.ANSWER, body="Eleven of them, per the customer. @psmanager")
    v2 = estimating.rom_revise(user=sa, rom=rom, answers={"users": 800, "projects": 1500, "large_repos": 11})
    assert v2.number == 2 and v2.high == Decimal("89000.00")
    request2 = approvals.rom_submit(user=sal, rom=rom)
    approvals.rom_decide(user=psm, request=request2, outcome="approve", comment="Scope is clear now.")
    approvals.rom_decide(user=ta, request=request2, outcome="approve")
    rom.refresh_from_db()
    ps.refresh_from_db()
    assert rom.status == "approved" and rom.approved_version == v2
    assert request2.__class__.objects.get(pk=request2.pk).state == ApprovalRequest.State.APPROVED
    assert ps.stage == "approved" and ps.ps_amount == Decimal("89000.00")

    # Step 8: the SAL builds the quote from the approved ROM with the PS SOW template; the customer accepts it.
    quote = sales.quote_create(user=sal, ps_opportunity=ps, valid_until=timezone.localdate() + dt.timedelta(30))
    assert sales.quote_submit(user=sal, quote=quote) is None  # no discount, standard terms: nothing to approve
    sales.quote_send(user=sal, quote=quote, contact=contact)
    sales.quote_accept(customer=buyer, quote=quote)
    ps.refresh_from_db()
    assert quote.state == Quote.State.ACCEPTED and ps.ps_amount == quote.total == Decimal("89000.00")

    # Step 9: a PSE writes the SOW; it is reviewed, sent and signed by the customer.
    sow = sales.sow_create(user=pse, quote=quote)
    sales.sow_submit_review(user=pse, sow=sow)
    sales.sow_review(user=psm, sow=sow, approve=True)
    sales.sow_send(user=pse, sow=sow, contact=contact)
    sales.sow_sign(customer=buyer, sow=sow, name="Casey Customer", title="VP Engineering")
    assert sow.state == Sow.State.SIGNED and sow.signature.content_hash == sow.content_hash()

    # Step 10: the SAL marks the PS opportunity Closed Won.
    project = workflow.ps_opportunity_close_won(user=sal, ps_opportunity=ps)
    assert PSOpportunity.objects.get(pk=ps.pk).stage == "closed-won"

    # Step 11: that created the SOW project, exactly once.
    assert Project.objects.filter(sow=sow).count() == 1 and project.state == Project.State.CREATED

    # Step 12: Finance bills the entire amount, net 30.
    (invoice,) = Invoice.objects.filter(project=project)
    assert invoice.amount == Decimal("89000.00") and invoice.state == Invoice.State.DRAFT
    billing.invoice_issue(user=fin, invoice=invoice, issue_date=timezone.localdate() - dt.timedelta(days=40))
    assert invoice.due_date == invoice.issue_date + dt.timedelta(days=30)

    # Step 13: the PS manager staffs and advances the project; the PSE delivers.
    delivery.project_assign_engineer(user=psm, project=project, engineer=pse)
    delivery.project_kick_off(user=psm, project=project, kickoff_date=timezone.localdate(), budget_hours="120")
    delivery.project_start_delivery(user=psm, project=project)
    delivery.time_log(user=pse, project=project, date=timezone.localdate(), hours="7.5")
    delivery.project_set_progress(user=pse, project=project, percent=80)
    assert project.state == Project.State.IN_DELIVERY

    # Step 14: the customer accepts the work as complete; the PSE runs the financial wrap-up.
    acceptance = delivery.completion_request(user=pse, project=project, contact=contact)
    assert project.percent_complete == 99
    delivery.completion_accept(customer=buyer, request=acceptance, name="Casey Customer", title="VP Engineering")
    project.refresh_from_db()
    assert (project.state, project.percent_complete, project.acceptance) == ("completed", 100, "signed")
    wrap = workflow.wrap_up_start(user=pse, project=project)
    for code in ("summary-sent", "notified", "documents"):
        delivery.wrap_up_tick(user=pse, wrap=wrap, code=code)
    delivery.wrap_up_tick(user=pse, wrap=wrap, code="hours-cost", actual_hours="112", actual_cost="16800")

    # Step 15: the SAL sends the sign-off document; the customer signs it.
    signoff = delivery.sign_off_send(user=sal, project=project, contact=contact)
    delivery.sign_off_sign(customer=buyer, request=signoff, name="Casey Customer", title="VP Engineering")
    case = workflow.wrap_up_finish(user=pse, wrap=wrap)
    project.refresh_from_db()
    assert project.state == Project.State.WRAPPED_UP

    # Step 16: Finance owns the open balance, knows its ageing, collects, and the case closes when paid.
    assert case.state == CollectionCase.State.OPEN
    assert billing.outstanding(project) == Decimal("89000.00")
    assert bucket(invoice.due_date, timezone.localdate()) == "1-30"
    billing.collection_remind(user=fin, case=case)
    billing.payment_record(user=fin, invoice=invoice, amount="89000.00", received_on=timezone.localdate())
    case.refresh_from_db()
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.PAID and case.state == CollectionCase.State.CLOSED
    delivery.project_close(user=psm, project=project)
    assert project.state == Project.State.CLOSED

    # One thread ran across the whole chain, and every act left a timeline event.
    verbs = set(TimelineEvent.objects.filter(thread=thread).values_list("verb", flat=True))
    assert {"rom.created", "approval.requested", "quote.accepted", "sow.signed", "project.created",
            "invoice.issued", "sign_off.signed", "collection.closed", "project.closed"} <= verbs
    assert Rom.objects.get(pk=rom.pk).versions.count() == 2
