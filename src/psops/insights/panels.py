"""The dashboard's panels: each figure from the selectors drawn as a chart, with a table that says the same.

The table is the chart's fallback for screen readers, printing and copying numbers out; both are built here from
the same rows so they never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString

from psops.approvals.selectors import SERVICE_LEVEL_DAYS
from psops.billing.ageing import BUCKETS
from psops.core.money import fmt
from psops.crm.choices import PS_OPEN_STAGES, PSStage
from psops.delivery.models import Project
from psops.delivery.selectors import UNDELIVERED

from . import selectors
from .charts import Number, Series, bar_chart, compact, hbar_chart


@dataclass
class Column:
    heading: str
    numeric: bool = False


@dataclass
class Panel:
    key: str
    title: str
    lead: str
    chart: SafeString
    columns: list[Column]
    rows: list[list[str]] = field(default_factory=list)
    empty: str = ""  # what to do when there is nothing to show
    controls: str = ""  # a template with the panel's own controls (e.g. the ageing's "as of" day), or none


def _money(currency: str):
    def format_(value: Number) -> str:
        return fmt(Decimal(str(value)), currency)
    return format_


def _currencies(default: str, rows: list) -> list[str]:
    """The currencies to draw, the default first: amounts in different currencies get charts of their own, never
    one sum."""
    return [default, *sorted({r.currency for r in rows} - {default})]


def _listed(parts: list[str]) -> str:
    """"USD 1,000.00", or "USD 1,000.00 and EUR 200.00", or "A, B and C"."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _totals(rows: list, currencies: list[str]) -> str:
    """"USD 1,000.00 and EUR 200.00": each currency's total, the default first."""
    return _listed([fmt(sum((r.amount for r in rows if r.currency == c), Decimal("0.00")), c) for c in currencies])


def _charts(charts: list[SafeString]) -> SafeString:
    return SafeString("".join(charts))


def _hbars_by_currency(rows: list, currencies: list[str], *, key: str, order: Sequence[str], labels: list[str],
                       chart: str, title: str, series: str, empty: str) -> SafeString:
    """One horizontal bar chart per currency of the amounts of `rows` by their `key` (a stage, a state), in
    `order`."""
    charts = []
    for cur in currencies:
        amounts = {getattr(r, key): r.amount for r in rows if r.currency == cur}
        charts.append(hbar_chart(chart_id=f"chart-{chart}-{cur.lower()}", title=f"{title} ({cur})",
                                 labels=labels if rows else [],
                                 series=Series(series, [amounts.get(k, 0) for k in order]),
                                 value_format=_money(cur), empty_text=empty))
    return _charts(charts)


def pipeline(user: Any, currency: str) -> Panel:
    rows = selectors.pipeline_by_stage(user=user)
    currencies = _currencies(currency, rows)
    charts = _hbars_by_currency(rows, currencies, key="stage", order=PS_OPEN_STAGES,
                                labels=[PSStage(s).label for s in PS_OPEN_STAGES], chart="pipeline",
                                title="Pipeline by PS stage", series="PS amount", empty="No open PS opportunities")
    return Panel(
        "pipeline", "Pipeline by PS stage",
        f"Open PS opportunities and their PS amounts, stage by stage: {_totals(rows, currencies)} in all.",
        charts, [Column("PS stage"), Column("Open", True), Column("PS amount", True)],
        [[r.label, str(r.count), fmt(r.amount, r.currency)] for r in rows],
        "No open PS opportunity yet: a PS opportunity opens from a ROM (step 4).")


def bookings(user: Any, currency: str, today: dt.date) -> Panel:
    rows = selectors.bookings_by_month(user=user, today=today)
    won = [r for r in rows if r.count]
    currencies = _currencies(currency, won)
    months = [r for r in rows if r.currency == currency]
    charts = [bar_chart(chart_id=f"chart-bookings-{cur.lower()}", title=f"Bookings by month ({cur})",
                        labels=[r.month.strftime("%b") for r in rows if r.currency == cur] if won else [],
                        series=Series("Closed Won", [r.amount for r in rows if r.currency == cur]),
                        value_format=_money(cur), axis_format=compact,
                        empty_text="Nothing closed won in the last 12 months") for cur in currencies]
    return Panel(
        "bookings", "Bookings by month",
        f"PS amounts marked Closed Won, by month of closing, {months[0].month:%B %Y} to {months[-1].month:%B %Y}: "
        f"{_totals(won, currencies)}.",
        _charts(charts), [Column("Month"), Column("Deals won", True), Column("PS amount", True)],
        [[r.month.strftime("%B %Y"), str(r.count), fmt(r.amount, r.currency)] for r in won],
        "Nothing was closed won in the last 12 months: a PS opportunity is won once its SOW is signed (step 10).")


def backlog(user: Any, currency: str) -> Panel:
    rows = selectors.backlog(user=user)
    currencies = _currencies(currency, rows)
    charts = _hbars_by_currency(rows, currencies, key="state", order=UNDELIVERED,
                                labels=[Project.State(s).label.split(" (")[0] for s in UNDELIVERED], chart="backlog",
                                title="Backlog by project state", series="SOW value",
                                empty="No signed work waiting for delivery")
    return Panel(
        "backlog", "Backlog",
        f"Signed SOW value not yet delivered (projects not yet completed): {_totals(rows, currencies)}.",
        charts, [Column("Project state"), Column("Projects", True), Column("SOW value", True)],
        [[r.label, str(r.count), fmt(r.amount, r.currency)] for r in rows],
        "No backlog: every signed project is completed, or none is signed yet.")


def approvals(user: Any, today: dt.date) -> Panel:
    waiting = selectors.approvals_waiting(user=user, today=today)
    labels = [f"{label} days" for label, _ in waiting.by_age]
    chart = bar_chart(chart_id="chart-approvals", title="Approvals waiting, by age in business days",
                      labels=labels if waiting.count else [],
                      series=Series("Waiting", [n for _, n in waiting.by_age]), value_format=str, counts=True,
                      empty_text="No approval is waiting")
    oldest = waiting.oldest[0] if waiting.oldest else None
    lead = (f"{waiting.count} waiting; {waiting.overdue} over the {SERVICE_LEVEL_DAYS}-business-day service level."
            + (f" Oldest: {oldest.title} ({oldest.age_days} business days)."  # type: ignore[attr-defined]
               if oldest else ""))
    return Panel("approvals", "Approvals waiting", lead, chart,
                 [Column("Waiting for (business days)"), Column("Requests", True)],
                 [[label, str(n)] for label, n in waiting.by_age] if waiting.count else [],
                 "Nothing waits for a decision.")


def business_days(days: Number | None) -> str:
    """A step's length as the service levels count it."""
    if days is None:
        return "—"
    value = int(days)
    return "same day" if value == 0 else f"{value} business day{'s' * (value != 1)}"


def step_times(user: Any) -> Panel:
    steps = selectors.step_times(user=user)
    done = [s for s in steps if s.count]
    chart = hbar_chart(chart_id="chart-steps", title="Business days spent in each step",
                       labels=[s.label for s in steps] if done else [],
                       series=[Series("Median", [s.median_days or 0 for s in steps]),
                               Series("90th percentile", [s.p90_days or 0 for s in steps])],
                       value_format=business_days, empty_text="No step finished yet")
    return Panel(
        "steps", "Time spent in each step",
        f"Median and 90th percentile, in business days (weekends and holidays left out, as the "
        f"{SERVICE_LEVEL_DAYS}-business-day service levels count), from the start to the end of each step.",
        chart, [Column("Step"), Column("Finished", True), Column("Median", True), Column("90th percentile", True)],
        [[s.label, str(s.count), business_days(s.median_days), business_days(s.p90_days)] for s in steps]
        if done else [],
        "No step has finished yet: times appear once a ROM is approved, a quote accepted, a SOW signed or a "
        "project completed.")


def receivables(user: Any, today: dt.date, as_of: dt.date | None = None) -> Panel | None:
    by_currency = selectors.receivables_ageing(user=user, today=today, as_of=as_of)
    if by_currency is None:
        return None
    owed = {cur: sum(totals.values(), Decimal("0.00")) for cur, totals in by_currency.items()}
    shown = [cur for cur in by_currency if owed[cur] or cur == next(iter(by_currency))]
    when = f"at the end of {as_of:%Y-%m-%d}" if as_of else "now"
    charts = [bar_chart(chart_id=f"chart-ageing-{cur.lower()}", title=f"Accounts receivable by age, {when} ({cur})",
                        labels=BUCKETS if owed[cur] else [],
                        series=Series("Open balance", [by_currency[cur][b] for b in BUCKETS]),
                        value_format=_money(cur), axis_format=compact, empty_text="Nothing is owed")
              for cur in shown]
    total = _listed([fmt(owed[cur], cur) for cur in shown])
    anything = any(owed.values())
    return Panel(
        "ageing", "Accounts receivable ageing",
        f"Open balances of issued invoices by days past due, {when}: {total} owed.",
        _charts(charts), [Column("Days past due"), Column("Open balance", True)],
        [[b, fmt(by_currency[cur][b], cur)] for cur in shown for b in BUCKETS if owed[cur]] if anything else [],
        f"Nothing was owed {when}." if as_of else "Nothing is owed: issued invoices are all paid.",
        controls="web/panels/ageing_as_of.html")


@dataclass(frozen=True)
class Dashboard:
    panels: list[Panel]
    computed_at: dt.datetime  # when these figures were read from the database
    kept_for: int  # seconds they are shown again before being read anew (0: never kept)

    @property
    def kept_for_minutes(self) -> str:
        if self.kept_for % 60:
            return f"{self.kept_for} seconds"
        minutes = self.kept_for // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"


def dashboard_kept(*, user: Any, today: dt.date | None = None, as_of: dt.date | None = None,
                   fresh: bool = False) -> Dashboard:
    """The dashboard of `dashboard`, kept in the cache for settings.PSOPS_DASHBOARD_SECONDS per person, day and
    as-of day, so the aggregates over a firm's whole history run once in that while, not on every view; `fresh`
    reads them anew, unless they were read less than settings.PSOPS_DASHBOARD_FRESH_AFTER seconds ago (asking again
    and again, by hand or by a script, reads them at most that often). The key names the person's roles too: a role
    given or taken shows at once."""
    from django.core.cache import cache

    from psops.accounts.roles import roles_of

    today = today or timezone.localdate()
    seconds = int(settings.PSOPS_DASHBOARD_SECONDS)
    key = (f"psops:dashboard:{user.pk}:{'-'.join(sorted(roles_of(user)))}:{int(user.is_superuser)}:{today}:"
           f"{as_of or ''}")
    kept = cache.get(key) if seconds else None
    if kept is not None and fresh and timezone.now() - kept.computed_at >= dt.timedelta(
            seconds=int(settings.PSOPS_DASHBOARD_FRESH_AFTER)):
        kept = None
    if kept is None:
        kept = Dashboard(dashboard(user=user, today=today, as_of=as_of), timezone.now(), seconds)
        if seconds:
            cache.set(key, kept, seconds)
    return kept


def dashboard(*, user: Any, today: dt.date | None = None, as_of: dt.date | None = None) -> list[Panel]:
    """Every panel this user may see, in the order of the process (receivables as of the end of `as_of`, when
    given)."""
    today = today or timezone.localdate()
    currency = settings.PSOPS["DEFAULT_CURRENCY"]
    panels = [pipeline(user, currency), approvals(user, today), step_times(user), bookings(user, currency, today),
              backlog(user, currency), receivables(user, today, as_of)]
    return [p for p in panels if p is not None]
