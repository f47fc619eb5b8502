"""Dashboards: the figures of the whole chain as server-rendered SVG charts, each with a table that says the same."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from psops.insights.panels import dashboard_kept
from psops.insights.selectors import sees_finance

from .common import role_required


def as_of_day(raw: str, today: dt.date) -> tuple[dt.date | None, str]:
    """The day receivables are aged at (None: now), or the reason the one asked for is refused (the page and the
    API ask this one)."""
    if not raw:
        return None, ""
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None, f"'{raw[:20]}' is not a date (use YYYY-MM-DD)"
    if day > today:
        return None, f"{day:%Y-%m-%d} has not ended yet"
    return (None if day == today else day), ""


@login_required
@role_required
def dashboards(request):
    today = timezone.localdate()
    as_of, refusal = as_of_day(request.GET.get("as_of", "").strip(), today)
    if refusal:
        refusal += "; receivables are shown as of now."
    kept = dashboard_kept(user=request.user, today=today, as_of=as_of, fresh=request.GET.get("fresh") == "1")
    response = render(request, "web/dashboards.html",
                      {"panels": kept.panels, "kept": kept, "sees_finance": sees_finance(request.user),
                       "as_of": as_of, "today": today, "refusal": refusal})
    if refusal:
        response.status_code = 400
    return response
