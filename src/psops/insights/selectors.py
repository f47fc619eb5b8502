"""Reads for the dashboards: figures across the whole chain, each at a fixed number of queries.

Every figure covers only what the user sees (decision 0008): pipeline, bookings, backlog and the time spent in each
step count the deals within their reach (psops.crm.scope: a sales rep their own and their reports', other roles
every deal, someone without a role none); approvals waiting count the requests the approvals list would show them
(psops.approvals.selectors.approval_scope); receivables are Finance's. Filters are in SQL, so a figure costs the
same number of queries whoever asks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from psops.activity.models import StepClock
from psops.activity.steps import STEPS
from psops.approvals.models import ApprovalRequest
from psops.approvals.selectors import SERVICE_LEVEL_DAYS, approval_scope, with_age
from psops.billing.selectors import ageing_by_currency, may_list_invoices
from psops.crm.choices import PS_OPEN_STAGES, PSStage
from psops.crm.models import Opportunity, PSOpportunity
from psops.crm.scope import ALL, deal_reach, deal_scope
from psops.delivery.models import Project
from psops.delivery.selectors import UNDELIVERED

ZERO = Decimal("0.00")


# --- Pipeline and bookings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTotal:
    stage: str
    label: str
    currency: str
    count: int
    amount: Decimal


def pipeline_by_stage(*, user: Any) -> list[StageTotal]:
    """Open PS opportunities by PS stage (in process order) and currency: how many, and their PS amounts."""
    rows = (PSOpportunity.objects.filter(deal_scope(user, via="parent__"), stage__in=PS_OPEN_STAGES).order_by()
            .values("stage", "currency").annotate(count=Count("pk"), amount=Sum("ps_amount")))
    order: dict[str, int] = {stage: i for i, stage in enumerate(PS_OPEN_STAGES)}
    result = [StageTotal(r["stage"], PSStage(r["stage"]).label, r["currency"], r["count"], r["amount"] or ZERO)
              for r in rows]
    return sorted(result, key=lambda r: (order[r.stage], r.currency))


@dataclass(frozen=True)
class MonthTotal:
    month: dt.date  # the first day of the month
    currency: str
    count: int
    amount: Decimal


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def bookings_by_month(*, user: Any, today: dt.date | None = None, months: int = 12) -> list[MonthTotal]:
    """Closed Won PS amounts by month of closing, the last `months` months (months without a booking as 0)."""
    today = today or timezone.localdate()
    starts = _month_starts(today, months)
    since = timezone.make_aware(dt.datetime.combine(starts[0], dt.time.min))
    rows = (PSOpportunity.objects.filter(deal_scope(user, via="parent__"), stage=PSStage.CLOSED_WON,
                                         closed_at__gte=since)
            .annotate(month=TruncMonth("closed_at")).order_by()
            .values("month", "currency").annotate(count=Count("pk"), amount=Sum("ps_amount")))
    found: dict[tuple[dt.date, str], MonthTotal] = {}
    for r in rows:
        month = r["month"].date() if isinstance(r["month"], dt.datetime) else r["month"]
        found[(month, r["currency"])] = MonthTotal(month, r["currency"], r["count"], r["amount"] or ZERO)
    currencies = sorted({c for _, c in found} | {settings.PSOPS["DEFAULT_CURRENCY"]})
    return [found.get((m, c)) or MonthTotal(m, c, 0, ZERO) for c in currencies for m in starts]


# --- Backlog -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacklogTotal:
    state: str
    label: str
    currency: str
    count: int
    amount: Decimal


def backlog(*, user: Any) -> list[BacklogTotal]:
    """Signed work not yet delivered: the SOW price of every project not yet completed (nor closed or cancelled),
    by project state."""
    rows = (Project.objects.filter(deal_scope(user, via="ps_opportunity__parent__"), state__in=UNDELIVERED).order_by()
            .values("state", "currency").annotate(count=Count("pk"), amount=Sum("sow__price")))
    order: dict[str, int] = {state: i for i, state in enumerate(UNDELIVERED)}
    result = [BacklogTotal(r["state"], Project.State(r["state"]).label, r["currency"], r["count"],
                           r["amount"] or ZERO) for r in rows]
    return sorted(result, key=lambda r: (order[r.state], r.currency))


# --- Approvals waiting -------------------------------------------------------------------------------------------

AGE_BUCKETS = [("0-1", 0, 1), ("2-3", 2, 3), ("4-5", 4, 5), ("6-10", 6, 10), ("over 10", 11, None)]


@dataclass(frozen=True)
class Waiting:
    count: int
    overdue: int  # over the service level
    by_age: list[tuple[str, int]]  # (business days, how many)
    oldest: list[ApprovalRequest]  # the five oldest, with `age_days`


def approvals_waiting(*, user: Any, today: dt.date | None = None) -> Waiting:
    """The pending approval requests this user may see (`approval_scope`: those they may decide, sent or wrote, or
    on deals they see) by their age in business days, against the 3-day service level."""
    pending = with_age(ApprovalRequest.objects.filter(approval_scope(user), state=ApprovalRequest.State.PENDING)
                       .order_by("submitted_at"), today=today)
    ages: list[int] = [r.age_days for r in pending]  # type: ignore[attr-defined]
    by_age = [(label, sum(1 for age in ages if low <= age and (high is None or age <= high)))
              for label, low, high in AGE_BUCKETS]
    return Waiting(len(pending), sum(1 for age in ages if age > SERVICE_LEVEL_DAYS), by_age, pending[:5])


# --- Time spent in each step -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepTime:
    code: str
    label: str
    count: int  # how many finished the step
    median_days: int | None  # business days (0: finished the same business day it started)
    p90_days: int | None


def _events_seen(user: Any) -> Q:
    """Timeline records (events, step clocks) of the deals this user sees: each is filed under its deal's thread
    (psops.crm.services.record), rooted at the opportunity."""
    if deal_reach(user) == ALL:
        return Q()
    return Q(thread__root_type__app_label=Opportunity._meta.app_label,
             thread__root_type__model=Opportunity._meta.model_name,
             thread__root_id__in=Opportunity.objects.filter(deal_scope(user)).values("pk"))


def step_times(*, user: Any) -> list[StepTime]:
    """Median and 90th percentile (nearest rank), in business days (the unit of the service levels), of the time
    each step took on the deals this user sees: a ROM from its creation to its approval, a quote from sent to
    accepted, a SOW from drafted to signed, a project from created to completed. From the step clocks the timeline
    keeps (`activity.steps`): one grouped count, then each percentile is the n-th duration read through the clocks'
    index. Nine queries, whatever the number of records."""
    finished = StepClock.objects.filter(_events_seen(user), business_days__isnull=False)
    counts = dict(finished.order_by().values("step").annotate(n=Count("pk")).values_list("step", "n"))

    def nearest_rank(step: str, share: float) -> int | None:
        n = counts.get(step, 0)
        rank = max(math.ceil(share * n) - 1, 0)
        found = list(finished.filter(step=step).order_by("business_days")
                     .values_list("business_days", flat=True)[rank:rank + 1])
        return found[0] if n and found else None

    return [StepTime(step.code, step.label, counts.get(step.code, 0), nearest_rank(step.code, 0.5),
                     nearest_rank(step.code, 0.9)) for step in STEPS]


# --- Receivables ---------------------------------------------------------------------------------------------


def sees_finance(user: Any) -> bool:
    """Finance figures (receivables) are for Finance, the controller and administrators (superusers)."""
    return may_list_invoices(user)


def receivables_ageing(*, user: Any, today: dt.date | None = None,
                       as_of: dt.date | None = None) -> dict[str, dict[str, Decimal]] | None:
    """Open balances by currency and ageing bucket (now, or at the end of `as_of`), the default currency first, or
    None for someone who does not see Finance figures."""
    return ageing_by_currency(user=user, today=today, as_of=as_of) if sees_finance(user) else None

