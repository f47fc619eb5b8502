"""The PS manager's time review: the hours waiting for approval, one row per engineer and week, each approved with
one click; a row opens onto its entries. Approved time feeds time-and-materials billing and the wrap-up's hours."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from psops.core.errors import ApplicationError
from psops.delivery.selectors import time_to_approve, time_weeks
from psops.delivery.services import time_approve_week, time_approve_week_check

from ..forms import WeekForm
from .common import attempt, paginate, role_required

WEEKS_PER_PAGE = 25


def _allowed(request) -> None:
    """The pages are offered to whom the service lets approve time (its own check), and refused with its words."""
    try:
        time_approve_week_check(user=request.user)
    except ApplicationError as refusal:
        raise PermissionDenied(refusal.message) from refusal


@login_required
@role_required
def time_review(request):
    _allowed(request)
    chosen = WeekForm(request.GET) if "engineer" in request.GET or "week" in request.GET else None
    if chosen is not None and chosen.is_valid():
        engineer, week = chosen.cleaned_data["engineer"], chosen.cleaned_data["week"]
        entries = (time_to_approve(user=request.user)
                   .filter(engineer=engineer, date__gte=week, date__lt=week + dt.timedelta(days=7))
                   .select_related("project").order_by("date", "pk"))
        page = paginate(request, entries)
        return render(request, "web/time.html", {
            "engineer": engineer, "week": week, "week_end": week + dt.timedelta(days=6), "page": page,
            "entries": list(page.object_list)})
    weeks = Paginator(time_weeks(user=request.user), WEEKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{**row, "week_end": row["week"] + dt.timedelta(days=6),
             "name": " ".join(p for p in (row["engineer__first_name"], row["engineer__last_name"]) if p)
             or row["engineer__username"]} for row in weeks.object_list]
    return render(request, "web/time.html", {"page": weeks, "weeks": rows,
                                             "refused": chosen.errors if chosen is not None else None},
                  status=400 if chosen is not None else 200)


@require_POST
@login_required
@role_required
def time_approve(request):
    _allowed(request)
    form = WeekForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(request, f"Choose a week from the list to approve ({problems}). Nothing was approved.")
        response = time_review(request)
        response.status_code = 400
        return response
    engineer, week = form.cleaned_data["engineer"], form.cleaned_data["week"]
    done = attempt(request, lambda: time_approve_week(user=request.user, engineer=engineer, week=week),
                   success=lambda n: f"Approved {n} time entr{'y' if n == 1 else 'ies'} of {engineer}, week of "
                                     f"{week:%Y-%m-%d}.", forbidden_in_page=True)
    if done is None:
        response = time_review(request)
        response.status_code = getattr(getattr(request, "psops_refusal", None), "http_status", 400)
        return response
    return redirect(reverse("web:time"))
