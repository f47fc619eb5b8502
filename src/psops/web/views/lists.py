"""The list pages: deals, approvals, projects, invoices and collections. Each reads through its selector (which scopes
the rows to the user), filters with a GET form, sorts by a whitelisted column and shows 25 rows a page.

Each home queue that holds more than it shows links to one of these pages filtered to the whole queue; those filters
(`mine`, `waiting`, `advance`, `overdue`) are the queues' own definitions in psops.workflow.selectors."""

from __future__ import annotations

import rules
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from psops.approvals.selectors import SERVICE_LEVEL_DAYS, approval_rows
from psops.billing.models import Invoice
from psops.billing.selectors import REMINDER_EVERY, collection_rows, invoice_rows
from psops.billing.services import (
    BATCH_MAX,
    collection_remind_due,
    collection_remind_due_check,
    invoices_issue_check,
    payment_record_check,
    reminder_run_summary,
)

from .. import exports
from ..lists import APPROVALS, COLLECTIONS, DEALS, INVOICES, LISTINGS, PROJECTS, Listing, filters_of, sort_of
from .common import allows, attempt, paginate, role_required


def _rows(request, listing: Listing):
    """The rows of `listing` as the request filters and sorts them (403 with the list's own reason for someone who
    may not read it)."""
    if not listing.may(request.user):
        raise PermissionDenied(listing.refusal)
    form = listing.form(request.GET)
    sort = sort_of(request, listing.sorts, listing.default_sort)
    filters = filters_of(form)
    return listing.rows(request.user, filters).order_by(*sort.order_by), form, sort, filters


def _page(request, listing: Listing):
    rows, form, sort, filters = _rows(request, listing)
    page = paginate(request, rows)
    return page, {"form": form, "sort": sort, "page": page, "filtered": bool(filters), "export_name": listing.name}


@login_required
@role_required
def export(request, name: str, fmt: str):
    """The whole list, as filtered and sorted on its page, as a CSV or XLSX file (psops.web.exports)."""
    listing = LISTINGS[name]
    rows, _form, _sort, _filters = _rows(request, listing)
    rows = rows.prefetch_related(None)
    columns = exports.COLUMNS[name]
    filename = f"{name}-{timezone.localdate():%Y-%m-%d}.{fmt}"
    if fmt == "csv":
        return exports.csv_response(filename, rows, columns)
    return exports.xlsx_response(filename, rows, columns, title=name.capitalize())


@login_required
@role_required
def deals(request):
    user = request.user
    page, context = _page(request, DEALS)
    rows = list(page.object_list)
    for deal in rows:  # the calculator link is offered where the calculator would accept the deal
        deal.can_estimate = deal.is_open and user.has_perm("crm.estimate_opportunity", deal)
    # Asked of the rules alone: the deal list costs the same whoever looks at it.
    can_create = rules.has_perm("crm.create_opportunity", user)
    return render(request, "web/lists/deals.html", {**context, "rows": rows, "can_create": can_create})


@login_required
@role_required
def approvals(request):
    page, context = _page(request, APPROVALS)
    return render(request, "web/lists/approvals.html",
                  {**context, "rows": approval_rows(page.object_list), "service_level": SERVICE_LEVEL_DAYS})


@login_required
@role_required
def projects(request):
    page, context = _page(request, PROJECTS)
    return render(request, "web/lists/projects.html", {**context, "rows": list(page.object_list)})


@login_required
@role_required
def invoices(request):
    page, context = _page(request, INVOICES)
    rows = invoice_rows(list(page.object_list))
    # Drafts are issued from here in a billing run, and payments recorded from a bank file, by whoever may.
    can_issue = (any(i.state == Invoice.State.DRAFT for i in rows)
                 and allows(invoices_issue_check, user=request.user))
    return render(request, "web/lists/invoices.html", {
        **context, "rows": rows, "can_issue": can_issue, "can_import": allows(payment_record_check, user=request.user),
        "batch_max": f"{BATCH_MAX:,}"})


@login_required
@role_required
def collections(request):
    page, context = _page(request, COLLECTIONS)
    # the reminder run is offered to whoever the service lets run it
    can_remind = allows(collection_remind_due_check, user=request.user)
    return render(request, "web/lists/collections.html",
                  {**context, "rows": collection_rows(list(page.object_list)), "can_remind": can_remind,
                   "remind_every": REMINDER_EVERY.days})


@require_POST
@login_required
@role_required
def collections_remind(request):
    """The reminder run, started from the collections page; the page says what it sent."""
    attempt(request, lambda: collection_remind_due(user=request.user), success=reminder_run_summary)
    return redirect("web:collections")
