"""Work queues: what each person has to do next, read across the whole chain at a fixed number of queries.

A queue shows its most urgent QUEUE_SIZE rows (LIMIT in SQL) and how many wait in all (COUNT in SQL), so a home page
costs the same with 10 invoices or 1,000,000. Each queue's urgency order is chosen for its work: the approval
waiting longest, the deal closing soonest, the invoice overdue longest, the SOW or project waiting longest. Where a
list page can show the whole queue in the same order, the queue names it (`list_name`, `list_params`); the filters
that page applies are the ones defined here (`my_open_deals`, `projects_to_advance`, `projects_of_engineer`,
`invoices_overdue`), so the home's count and the list's count are one rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from psops.accounts import roles
from psops.accounts.roles import roles_of
from psops.approvals.models import ApprovalRequest
from psops.approvals.selectors import decidable_by, with_age
from psops.billing.models import Invoice
from psops.billing.selectors import collection_list, collections_open
from psops.core.business_days import local_date
from psops.core.counting import capped_count, count_label
from psops.crm.choices import OPEN_STAGES, PSStage
from psops.crm.models import Opportunity, PSOpportunity
from psops.crm.scope import deal_scope, owned_by
from psops.delivery.models import STATES_TO_ADVANCE, AcceptanceRequest, Assignment, Project
from psops.delivery.selectors import time_weeks
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow

QUEUE_SIZE = 25  # rows a home section shows; the rest are counted and, where a list page exists, linked


@dataclass
class Queue:
    kind: str  # which row layout shows it: deals, approvals, sows, projects, quotes, invoices, collections, setup
    title: str
    empty: str
    rows: list[Any] = field(default_factory=list)
    total: int = 0  # how many wait in all, counted up to psops.core.counting.COUNT_CAP
    uncounted: bool = False  # more wait than were counted
    shown: int = 0  # how many of them `rows` shows (a deal with two PS opportunities takes two rows but counts once)
    list_name: str = ""  # the URL name of the list page that shows the whole queue, "" where there is none
    list_params: dict[str, str] = field(default_factory=dict)  # the filters and sort that page needs for it
    overview: bool = False  # a role the user does not hold (a superuser's home): the count and the link, no rows

    @property
    def more(self) -> bool:
        """Some rows wait beyond those shown."""
        return self.total > self.shown

    @property
    def total_label(self) -> str:
        return count_label(self.total, self.uncounted)

    @property
    def list_query(self) -> str:
        return urlencode(self.list_params)


def _queue(kind: str, title: str, empty: str, rows: QuerySet, *, list_name: str = "",
           list_params: dict[str, str] | None = None, overview: bool = False) -> Queue:
    """The first QUEUE_SIZE of `rows` (already in urgency order) and their total (counted up to the cap): two
    queries, whatever the size. An `overview` reads the total alone."""
    top = [] if overview else list(rows[:QUEUE_SIZE])
    total, uncounted = capped_count(rows)
    return Queue(kind, title, empty, top, total=total, uncounted=uncounted, shown=len(top), list_name=list_name,
                 list_params=list_params or {}, overview=overview)


# --- What the queues hold, as filters: the home counts and shows them, the list pages filter by them ------------

PROJECT_STATES_TO_ADVANCE = STATES_TO_ADVANCE
PROJECT_STATES_DONE = (Project.State.CLOSED, Project.State.CANCELLED)


def my_open_deals(user: Any) -> Q:
    """Open deals `user` owns, or someone who reports to them owns."""
    return owned_by(user) & Q(stage__in=OPEN_STAGES)


def projects_to_advance() -> Q:
    """Projects waiting for the PS manager: to staff, kick off, wrap up, close or take off hold."""
    return Q(state__in=PROJECT_STATES_TO_ADVANCE)


def projects_of_engineer(user: Any) -> Q:
    """Projects `user` is assigned to that are neither closed nor cancelled. The engineer's projects are read first
    (one query through the assignments' engineer index): as a subquery, the database walked every project by date
    looking for theirs."""
    mine = list(Assignment.objects.filter(engineer=user).values_list("project_id", flat=True))
    return Q(pk__in=mine) & ~Q(state__in=PROJECT_STATES_DONE)


def sows_to_write() -> Q:
    """Accepted quotes on PS opportunities still at that stage that have no SOW yet (read from the few PS
    opportunities at the stage, not from every accepted quote ever)."""
    return Q(ps_opportunity__stage=PSStage.QUOTE_ACCEPTED, state=Quote.State.ACCEPTED, sow__isnull=True)


def invoices_overdue(today: dt.date | None = None) -> Q:
    """Issued invoices past their due date."""
    return Q(state=Invoice.State.ISSUED, due_date__lt=today or timezone.localdate())


ACCEPTED_SIGN_OFF = (AcceptanceRequest.State.ACCEPTED, AcceptanceRequest.State.REPLIED,
                     AcceptanceRequest.State.PASSIVE)


def with_sign_off(projects: QuerySet, now: dt.datetime | None = None) -> QuerySet:
    """Annotate each project with whether the customer's sign-off is given (signed, replied, passive, or pending
    past its deadline, which closing settles) and, while one waits, when silence becomes acceptance: two subqueries,
    so a queue of projects costs the same whatever it holds."""
    now = now or timezone.now()
    sign_offs = AcceptanceRequest.objects.filter(project=OuterRef("pk"), kind=AcceptanceRequest.Kind.SIGN_OFF)
    given = sign_offs.filter(Q(state__in=ACCEPTED_SIGN_OFF)
                             | Q(state=AcceptanceRequest.State.PENDING, passive_at__lte=now))
    waiting = sign_offs.filter(state=AcceptanceRequest.State.PENDING).values("passive_at")[:1]
    return projects.annotate(sign_off_given=Exists(given), sign_off_passive_at=Subquery(waiting))


def sign_offs_to_send(user: Any) -> Q:
    """Completed or wrapped-up projects whose sign-off is neither given nor waiting for the customer (none sent, or
    the last one not accepted), on deals `user` owns (a sales rep) or is the named TAM of. Step 15."""
    mine = Q(pk__in=[])
    if roles.has_role(user, roles.SALES_REP):
        mine |= owned_by(user, via="ps_opportunity__parent__")
    if roles.has_role(user, roles.TAM):
        mine |= Q(ps_opportunity__parent__tam=user)
    open_or_given = AcceptanceRequest.objects.filter(
        project=OuterRef("pk"), kind=AcceptanceRequest.Kind.SIGN_OFF,
        state__in=(AcceptanceRequest.State.PENDING, *ACCEPTED_SIGN_OFF))
    return mine & Q(~Exists(open_or_given), state__in=(Project.State.COMPLETED, Project.State.WRAPPED_UP))


def project_next_step(project: Project) -> str:
    """The next act on a project, in the words of the process (reads the `with_sign_off` annotations)."""
    if project.state == Project.State.WRAPPED_UP:
        if getattr(project, "sign_off_given", False):
            return "Close the project (step 16): the customer has signed off"
        until = getattr(project, "sign_off_passive_at", None)
        if until is not None:
            return f"Waiting for the customer's sign-off; accepted without an answer on {local_date(until):%Y-%m-%d}"
        return "Waiting for the sign-off to be sent (step 15: the sales rep or TAM)"
    return {
        Project.State.CREATED: "Assign an engineer",
        Project.State.STAFFED: "Kick off the project (step 13)",
        Project.State.KICKED_OFF: "Start delivery",
        Project.State.IN_DELIVERY: "Deliver, then ask the customer to accept completion (step 14)",
        Project.State.CLOSURE: "Waiting for the customer's completion acceptance",
        Project.State.COMPLETED: "Run the financial wrap-up (step 14)",
        Project.State.ON_HOLD: "Resume or cancel the project",
    }.get(project.state, project.get_state_display())


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


def work_queue(user: Any) -> list[Queue]:
    """The sections of this user's home page, in the order they matter to them, each its QUEUE_SIZE most urgent rows
    and its total. Every row is on a deal the user sees (psops.crm.scope), whatever the section's own rule."""
    held = roles_of(user)
    mine = held if not user.is_superuser else frozenset(roles.ROLES)

    def overview(*needed: str) -> bool:
        """A superuser sees the queues of the roles they do not hold as counts with links, not as rows."""
        return not held & set(needed)

    via = "ps_opportunity__parent__"  # from a quote, SOW or project to its deal
    queues: list[Queue] = []
    if roles.SALES_REP in mine:
        queues.append(_deals_queue(user, overview=overview(roles.SALES_REP)))
    if roles.SOLUTIONS_ARCHITECT in mine:
        queues.append(_deals_queue(user, overview=overview(roles.SOLUTIONS_ARCHITECT), title="Deals you scope",
                                   rule=Q(solutions_architect=user, stage__in=OPEN_STAGES), list_params={},
                                   empty="No open deal names you as its solutions architect. A sales rep names "
                                         "you on the deal's page (Name the deal team)."))
    if roles.TAM in mine:
        queues.append(_deals_queue(user, overview=overview(roles.TAM), title="Deals you are the TAM of",
                                   rule=Q(tam=user, stage__in=OPEN_STAGES), list_params={},
                                   empty="No open deal names you as its TAM. A sales rep names you on the deal's "
                                         "page (Name the deal team)."))
    if mine & {roles.SALES_REP, roles.TAM}:
        queues.append(_queue("projects", "Sign-offs to send", "No completed project waits for its sign-off.",
                             with_sign_off(Project.objects.filter(deal_scope(user, via=via), sign_offs_to_send(user))
                                           .select_related("ps_opportunity__parent__account"))
                             .order_by("created_at", "pk"),
                             overview=overview(roles.SALES_REP, roles.TAM)))
    approvers = {roles.PS_MANAGER, roles.DIR_CS, roles.TECHNICAL_ARCHITECT, roles.DIRECTOR_PS, roles.VP_SALES,
                 roles.VP_GLOBAL_SERVICES}
    if mine & approvers:
        waiting = _queue("approvals", "Approvals waiting for you", "Nothing waits for your approval.",
                         ApprovalRequest.objects.filter(decidable_by(user)).select_related("policy", "submitted_by")
                         .order_by("submitted_at", "pk"),  # the one waiting longest first
                         list_name="web:approvals", list_params={"waiting": "1", "sort": "submitted"},
                         overview=overview(*approvers))
        waiting.rows = with_age(waiting.rows)
        queues.append(waiting)
    if mine & {roles.PS_MANAGER, roles.DIR_CS, roles.DIRECTOR_PS}:
        queues.append(_queue("sows", "SOWs to review", "No SOW waits for review.",
                             Sow.objects.filter(deal_scope(user, via=via), state=Sow.State.IN_REVIEW)
                             .exclude(author=user).select_related("ps_opportunity", "author")
                             .order_by("created_at", "pk"),  # the oldest SOW first
                             overview=overview(roles.PS_MANAGER, roles.DIR_CS, roles.DIRECTOR_PS)))
    if roles.PS_MANAGER in mine:
        queues.append(_queue("projects", "Projects to staff or advance", "Every project is moving.",
                             with_sign_off(Project.objects.filter(deal_scope(user, via=via), projects_to_advance())
                                           .select_related("ps_opportunity__parent__account", "engagement_manager"))
                             .order_by("created_at", "pk"),  # the project waiting longest first
                             list_name="web:projects", list_params={"advance": "1", "sort": "created"},
                             overview=overview(roles.PS_MANAGER)))
    if roles.PS_MANAGER in mine:
        weeks = time_weeks(user=user)
        overview_time = overview(roles.PS_MANAGER)
        top = [] if overview_time else [{**w, "week_end": w["week"] + dt.timedelta(days=6)}
                                         for w in weeks[:QUEUE_SIZE]]
        total = weeks.count()
        queues.append(Queue("time", "Time to approve", "No time waits for your approval.", top, total=total,
                            shown=len(top), list_name="web:time", overview=overview_time))
    if roles.PS_ENGINEER in mine:
        engineer_overview = overview(roles.PS_ENGINEER)
        queues.append(_queue("quotes", "SOWs to write", "No accepted quote waits for a SOW.",
                             Quote.objects.filter(deal_scope(user, via=via), sows_to_write())
                             .select_related("ps_opportunity__parent__account")
                             .order_by("answered_at", "pk"),  # accepted longest ago first
                             overview=engineer_overview))
        queues.append(_queue("sows", "My SOW drafts", "No SOW draft of yours is open.",
                             Sow.objects.filter(deal_scope(user, via=via), author=user, state=Sow.State.DRAFT)
                             .select_related("ps_opportunity", "author").order_by("created_at", "pk"),
                             overview=engineer_overview))
        queues.append(_queue("projects", "My projects and wrap-ups", "You are not on any open project.",
                             with_sign_off(Project.objects.filter(deal_scope(user, via=via), projects_of_engineer(user))
                                           .select_related("ps_opportunity__parent__account"))
                             .order_by("created_at", "pk"),
                             list_name="web:projects", list_params={"mine": "1", "sort": "created"},
                             overview=engineer_overview))
    if mine & {roles.FINANCE, roles.CONTROLLER}:
        finance_overview = overview(roles.FINANCE, roles.CONTROLLER)
        invoices = (Invoice.objects.filter(deal_scope(user, via=f"project__{via}"))
                    .select_related("project__ps_opportunity__parent__account"))
        queues.append(_queue("invoices", "Invoices to review and issue", "No draft invoice waits.",
                             invoices.filter(state=Invoice.State.DRAFT).order_by("created_at", "pk"),
                             list_name="web:invoices", list_params={"state": "draft", "sort": "created"},
                             overview=finance_overview))
        queues.append(_queue("invoices", "Overdue invoices", "Nothing is overdue.",
                             invoices.filter(invoices_overdue()).order_by("due_date", "pk"),  # longest overdue first
                             list_name="web:invoices", list_params={"overdue": "1", "sort": "due"},
                             overview=finance_overview))
        cases = [] if finance_overview else collection_list(user=user, limit=QUEUE_SIZE)  # longest overdue first
        total, uncounted = capped_count(collections_open(user=user))
        queues.append(Queue("collections", "Collections", "No open collection.", cases, total=total,
                            uncounted=uncounted, shown=len(cases),
                            list_name="web:collections", list_params={"sort": "due"}, overview=finance_overview))
    if roles.ADMINISTRATOR in mine or user.is_superuser:
        setup = _setup_rows()
        queues.append(Queue("setup", "Set-up", "Nothing is set up yet.", setup, total=len(setup), shown=len(setup)))
    return queues


def _deals_queue(user: Any, *, overview: bool = False, title: str = "My deals and their next step",
                 rule: Q | None = None, list_params: dict[str, str] | None = None,
                 empty: str = "No open deals. Start one from Deals > New deal.") -> Queue:
    """Open deals, the soonest to close first, each with its PS opportunities and next step: the sales rep's own
    (`my_open_deals`), or those `rule` picks (the deals naming a solutions architect or TAM)."""
    deals = (Opportunity.objects.filter(deal_scope(user), rule if rule is not None else my_open_deals(user))
             .select_related("account")
             .prefetch_related(Prefetch("roms", queryset=Rom.objects.order_by("-created_at")),
                               Prefetch("ps_opportunities", queryset=PSOpportunity.objects.order_by("-created_at")))
             .order_by("close_date", "pk"))
    params = {"mine": "1", "sort": "close"} if list_params is None else list_params
    queue = _queue("deals", title, empty, deals, list_name="web:deals" if params else "", list_params=params,
                   overview=overview)
    queue.rows = [{"opportunity": opp, "ps": ps, "next": next_step(ps, opp)}
                  for opp in queue.rows for ps in list(opp.ps_opportunities.all()) or [None]]
    return queue


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

