"""Hand-offs from one stage of the process to a later one.

Each act here crosses apps in process order (sales -> delivery -> billing), so no earlier app imports a later one.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from psops.billing import services as billing
from psops.billing.models import CollectionCase, Invoice
from psops.core.errors import ApplicationError
from psops.core.permissions import require
from psops.core.quantities import MONEY
from psops.core.quantities import check as check_bound
from psops.crm.customer import CustomerActor
from psops.crm.models import PSOpportunity
from psops.crm.services import ps_alive_check, ps_amount_follow, ps_stage, record
from psops.delivery import services as delivery
from psops.delivery.models import ChangeOrder, MilestoneAcceptance, Project, WrapUp
from psops.sales.models import Sow, SowMilestone


def ps_opportunity_close_won_check(*, user: Any, ps_opportunity: PSOpportunity) -> Sow:
    """May `user` mark this PS opportunity Closed Won now? Returns the signed SOW it stands on."""
    require(user, "crm.change_ps_opportunity", ps_opportunity,
            message="Only the deal's sales rep (or their manager) marks it Closed Won.")
    sow = Sow.objects.filter(ps_opportunity=ps_opportunity, state=Sow.State.SIGNED).first()
    if sow is None:
        raise ApplicationError(code="sow-not-signed", message="Closed Won needs a SOW signed by the customer.")
    ps_alive_check(ps_opportunity)
    if ps_opportunity.stage != "sow-signed":
        raise ApplicationError(code="not-ready", message=f"The PS opportunity is {ps_opportunity.get_stage_display()}"
                                                         "; it cannot be marked Closed Won.")
    return sow


def ps_opportunity_close_won(*, user: Any, ps_opportunity: PSOpportunity) -> Project:
    """Steps 10-12: the SAL marks the PS opportunity Closed Won, only once its SOW is signed. That creates the SOW
    project exactly once and drafts the invoices the SOW's billing terms call for now."""
    sow = ps_opportunity_close_won_check(user=user, ps_opportunity=ps_opportunity)
    with transaction.atomic():
        ps_opportunity.closed_at = timezone.now()
        ps_stage(actor=user, ps_opportunity=ps_opportunity, transition="mark_closed_won", why="SOW signed")
        project = delivery.project_create(actor=user, sow=sow)
        billing.invoices_draft_on_win(actor=user, project=project)
    return project


def milestone_accept(*, customer: CustomerActor, project: Project, milestone: SowMilestone) -> MilestoneAcceptance:
    """The customer accepts a milestone; per-milestone terms then bill it."""
    with transaction.atomic():
        acceptance = delivery.milestone_accept(customer=customer, project=project, milestone=milestone)
        billing.invoice_draft_milestone(actor=customer, acceptance=acceptance)
    return acceptance


def change_order_add(*, user: Any, project: Project, description: str, amount: Any) -> ChangeOrder:
    """A change order raises the project's value and its PS amount, and is billed in full when agreed."""
    with transaction.atomic():
        order = delivery.change_order_add(user=user, project=project, description=description, amount=amount)
        ps = project.ps_opportunity
        # The PS amount is one amount too (it equals the engagement's value, which the change order kept in bounds).
        amount = check_bound(ps.ps_amount + order.amount, MONEY, field="amount", what="The PS amount")
        ps_amount_follow(actor=user, ps_opportunity=ps, amount=amount, why=f"change order: {order.description}")
        billing.invoice_draft_change_order(actor=user, change_order=order)
    return order


def wrap_up_start(*, user: Any, project: Project) -> WrapUp:
    """Step 14: the PSE starts the financial wrap-up; the final invoice is raised here where the terms say so."""
    with transaction.atomic():
        wrap = delivery.wrap_up_start(user=user, project=project)
        final = billing.invoice_draft_final(actor=user, project=project)
        delivery.wrap_up_tick_final_invoice(
            wrap=wrap, note=f"drafted for {final.currency} {final.amount:,}" if final else "not required by the terms")
    return wrap


def wrap_up_finish(*, user: Any, wrap: WrapUp) -> CollectionCase:
    """The wrap-up is done: the project is wrapped up and Finance owns every open balance (step 16)."""
    with transaction.atomic():
        project = delivery.wrap_up_finish(user=user, wrap=wrap)
        drafts = project.invoices.filter(state=Invoice.State.DRAFT).count()
        case = billing.collection_open(actor=user, project=project)
        if drafts:
            record(actor=user, opportunity=project.ps_opportunity.parent, subject=case, verb="collection.note",
                   message=f"{drafts} draft invoice(s) still to issue")
    return case
