"""Work queues: what each person has to do next, read across the whole chain at a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.roles import roles_of
from psops.approvals.models import ApprovalRequest
from psops.approvals.selectors import with_age
from psops.approvals.services import may_decide
from psops.billing.models import Invoice
from psops.billing.selectors import collection_list
from psops.crm.models import Opportunity, PSOpportunity
from psops.crm.scope import deal_scope, owned_by
from psops.delivery.models import Project
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow


@dataclass
class Queue:
    kind: str  # which row layout shows it: deals, approvals, sows, projects, quotes, invoices, collections, setup
    title: str
    empty: str
    rows: list[Any] = field(default_factory=list)


def next_step(ps: PSOpportunity | None, opp: Opportunity) -> str:
    """The next act on a deal, in the words of the process."""
    if ps is None:
        roms = list(opp.roms.all())
        if not roms:
            return "Build a ROM with the calculator (step 2)"
        rom = roms[0]
        return {
            Rom.Status.DRAFT: "Send the ROM for approval (step 3)",
            Rom.Status.SUBMITTED: "Create the PS opportunity (step 4)",
            Rom.Status.NEEDS_DISCOVERY: "Answer the discovery questions and revise the ROM (step 7)",
            Rom.Status.REJECTED: "Revise the ROM or close the deal",
            Rom.Status.APPROVED: "Create the PS opportunity (step 4)",
        }[rom.status]
    if ps.stage == "rom-approval":
        roms = list(opp.roms.all())
        status = roms[0].status if roms else ""
        waiting: dict[str, str] = {
            Rom.Status.DRAFT: "Send the revised ROM for approval (step 3)",
            Rom.Status.NEEDS_DISCOVERY: "Answer the discovery questions and revise the ROM (step 7)",
            Rom.Status.REJECTED: "Revise the ROM or close the PS opportunity as lost",
        }
        return waiting.get(status, "Waiting for the ROM decision (step 6)")
    return {
        "approved": "Build and send the quote (step 8)",
        "quoted": "Waiting for the customer to accept the quote",
        "quote-accepted": "Waiting for the PSE's SOW (step 9)",
        "sow-out": "Waiting for the customer's signature",
        "sow-signed": "Mark Closed Won (step 10)",
        "closed-won": "Won: delivery under way",
        "closed-lost": "Lost",
    }[ps.stage]


def _approvals_waiting_for(user: Any) -> list[ApprovalRequest]:
    """Pending requests this user may still decide (the same rule the decision service applies), oldest first."""
    pending = (ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING)
               .exclude(Q(submitted_by=user) | Q(author=user))
               .select_related("policy", "submitted_by").prefetch_related("requirements", "decisions")
               .order_by("submitted_at"))
    return with_age(request for request in pending if may_decide(user, request))


def work_queue(user: Any) -> list[Queue]:
    """The sections of this user's home page, in the order they matter to them. Every row is on a deal the user sees
    (psops.crm.scope), whatever the section's own rule."""
    mine = roles_of(user) if not user.is_superuser else frozenset(roles.ROLES)
    via = "ps_opportunity__parent__"  # from a quote, SOW or project to its deal
    queues: list[Queue] = []
    if roles.SALES_REP in mine:
        deals = (Opportunity.objects.filter(owned_by(user))
                 .exclude(stage__in=["closed-won", "8-closed-lost", "9-unqualified", "10-duplicate"])
                 .select_related("account")
                 .prefetch_related(Prefetch("roms", queryset=Rom.objects.order_by("-created_at")),
                                   Prefetch("ps_opportunities", queryset=PSOpportunity.objects.order_by("-created_at")))
                 .order_by("close_date"))
        rows = []
        for opp in deals:
            children = list(opp.ps_opportunities.all())
            for ps in children or [None]:
                rows.append({"opportunity": opp, "ps": ps, "next": next_step(ps, opp)})
        queues.append(Queue("deals", "My deals and their next step",
                            "No open deals. Create an opportunity to start.", rows))
    if mine & {roles.PS_MANAGER, roles.DIR_CS, roles.TECHNICAL_ARCHITECT, roles.DIRECTOR_PS, roles.VP_SALES,
               roles.VP_GLOBAL_SERVICES}:
        queues.append(Queue("approvals", "Approvals waiting for you", "Nothing waits for your approval.",
                            _approvals_waiting_for(user)))
    if mine & {roles.PS_MANAGER, roles.DIR_CS, roles.DIRECTOR_PS}:
        queues.append(Queue("sows", "SOWs to review", "No SOW waits for review.",
                            list(Sow.objects.filter(deal_scope(user, via=via), state=Sow.State.IN_REVIEW)
                                 .exclude(author=user)
                                 .select_related("ps_opportunity", "author"))))
    if roles.PS_MANAGER in mine:
        queues.append(Queue("projects", "Projects to staff or advance", "Every project is moving.",
                            list(Project.objects.filter(deal_scope(user, via=via), state__in=[
                                Project.State.CREATED, Project.State.STAFFED, Project.State.KICKED_OFF,
                                Project.State.COMPLETED, Project.State.WRAPPED_UP, Project.State.ON_HOLD])
                                 .select_related("ps_opportunity__parent__account", "engagement_manager"))))
    if roles.PS_ENGINEER in mine:
        queues.append(Queue("quotes", "SOWs to write", "No accepted quote waits for a SOW.",
                            list(Quote.objects.filter(deal_scope(user, via=via), state=Quote.State.ACCEPTED,
                                                      sow__isnull=True)
                                 .select_related("ps_opportunity__parent__account"))))
        queues.append(Queue("sows", "My SOW drafts", "No SOW draft of yours is open.",
                            list(Sow.objects.filter(deal_scope(user, via=via), author=user, state=Sow.State.DRAFT)
                                 .select_related("ps_opportunity"))))
        queues.append(Queue("projects", "My projects and wrap-ups", "You are not on any open project.",
                            list(Project.objects.filter(deal_scope(user, via=via), assignments__engineer=user)
                                 .exclude(state__in=[Project.State.CLOSED, Project.State.CANCELLED])
                                 .select_related("ps_opportunity__parent__account").distinct())))
    if mine & {roles.FINANCE, roles.CONTROLLER}:
        today = timezone.localdate()
        queues.append(Queue("invoices", "Invoices to review and issue", "No draft invoice waits.",
                            list(Invoice.objects.filter(deal_scope(user, via=f"project__{via}"),
                                                        state=Invoice.State.DRAFT)
                                 .select_related("project__ps_opportunity__parent__account"))))
        queues.append(Queue("invoices", "Overdue invoices", "Nothing is overdue.",
                            list(Invoice.objects.filter(deal_scope(user, via=f"project__{via}"),
                                                        state=Invoice.State.ISSUED, due_date__lt=today)
                                 .select_related("project__ps_opportunity__parent__account").order_by("due_date"))))
        queues.append(Queue("collections", "Collections", "No open collection.", collection_list(user=user)))
    if roles.ADMINISTRATOR in mine or user.is_superuser:
        queues.append(Queue("setup", "Set-up", "Nothing is set up yet.", _setup_rows()))
    return queues


def _setup_rows() -> list[dict[str, Any]]:
    """What the administrator keeps: people, the price book, calculator tables, the policy and the calendar."""
    from django.contrib.auth import get_user_model

    from psops.approvals.models import ApprovalPolicy
    from psops.core.models import Holiday
    from psops.estimating.models import MigrationMatrix, PriceBook, RateCard

    def active(model) -> str:
        version = model.objects.filter(is_active=True).values_list("version", flat=True).first()
        return f"v{version} active" if version else "none active"

    def admin_url(model) -> str:
        return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"

    user_model = get_user_model()
    return [
        {"label": "Users and roles", "state": f"{user_model.objects.filter(is_active=True).count()} active users",
         "url": admin_url(user_model)},
        {"label": "Price book", "state": active(PriceBook), "url": admin_url(PriceBook)},
        {"label": "Migration matrix", "state": active(MigrationMatrix), "url": admin_url(MigrationMatrix)},
        {"label": "Rate card", "state": active(RateCard), "url": admin_url(RateCard)},
        {"label": "Approval policy", "state": active(ApprovalPolicy), "url": admin_url(ApprovalPolicy)},
        {"label": "Holiday calendar", "state": f"{Holiday.objects.count()} company holidays (plus public ones)",
         "url": admin_url(Holiday)},
    ]

