"""The list pages: deals, approvals, projects, invoices and collections. Each reads through its selector (which scopes
the rows to the user), filters with a GET form, sorts by a whitelisted column and shows 25 rows a page.

Each home queue that holds more than it shows links to one of these pages filtered to the whole queue; those filters
(`mine`, `waiting`, `advance`, `overdue`) are the queues' own definitions in psops.workflow.selectors."""

from __future__ import annotations

import rules
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from psops.approvals.selectors import SERVICE_LEVEL_DAYS, approval_list, approval_rows, may_list_approvals
from psops.billing.models import Invoice
from psops.billing.selectors import (
    REMINDER_EVERY,
    collection_cases,
    collection_rows,
    invoice_list,
    invoice_rows,
    may_list_invoices,
)
from psops.billing.services import (
    BATCH_MAX,
    collection_remind_due,
    collection_remind_due_check,
    invoices_issue_check,
    payment_record_check,
    reminder_run_summary,
)
from psops.crm.selectors import may_list_deals, opportunity_list
from psops.delivery.selectors import may_list_projects, project_list
from psops.workflow.selectors import invoices_overdue, my_open_deals, projects_of_engineer, projects_to_advance

from ..lists import (
    ApprovalFilterForm,
    CollectionFilterForm,
    DealFilterForm,
    InvoiceFilterForm,
    ProjectFilterForm,
    filters_of,
    sort_of,
)
from .common import allows, attempt, paginate, role_required

DEAL_SORTS = {"account": "account__name", "deal": "name", "stage": "stage", "segment": "segment",
              "owner": "owner__username", "close": "close_date", "amount": "amount", "ps": "ps_total"}
APPROVAL_SORTS = {"request": "title", "kind": "kind", "state": "state", "submitted": "submitted_at",
                  "decided": "decided_at"}
PROJECT_SORTS = {"project": "name", "account": "ps_opportunity__parent__account__name", "state": "state",
                 "complete": "percent_complete", "go-live": "go_live_date", "value": "sow__price",
                 "created": "created_at"}
INVOICE_SORTS = {"invoice": "number", "account": "project__ps_opportunity__parent__account__name", "state": "state",
                 "amount": "amount", "balance": "balance", "issued": "issue_date", "due": "due_date",
                 "created": "created_at"}
COLLECTION_SORTS = {"project": "project__name", "account": "project__ps_opportunity__parent__account__name",
                    "outstanding": "outstanding", "due": "oldest_due", "reminders": "reminder_level",
                    "reminded": "last_reminder_at", "opened": "opened_at"}


def _page(request, *, form, sort, rows_qs):
    page = paginate(request, rows_qs.order_by(*sort.order_by))
    return page, {"form": form, "sort": sort, "page": page, "filtered": bool(filters_of(form))}


@login_required
@role_required
def deals(request):
    user = request.user
    if not may_list_deals(user):
        raise PermissionDenied("The deals list is for people who hold a role.")
    form = DealFilterForm(request.GET)
    sort = sort_of(request, DEAL_SORTS, "close")
    filters = filters_of(form)
    rows_qs = opportunity_list(user=user, filters=filters)
    if filters.get("mine"):
        rows_qs = rows_qs.filter(my_open_deals(user))
    page, context = _page(request, form=form, sort=sort, rows_qs=rows_qs)
    rows = list(page.object_list)
    for deal in rows:  # the calculator link is offered where the calculator would accept the deal
        deal.can_estimate = deal.is_open and user.has_perm("crm.estimate_opportunity", deal)
    # Asked of the rules alone: the deal list costs the same whoever looks at it.
    can_create = rules.has_perm("crm.create_opportunity", user)
    return render(request, "web/lists/deals.html", {**context, "rows": rows, "can_create": can_create})


@login_required
@role_required
def approvals(request):
    if not may_list_approvals(request.user):
        raise PermissionDenied("The approvals list is for approvers and the people who ask for approvals.")
    form = ApprovalFilterForm(request.GET)
    sort = sort_of(request, APPROVAL_SORTS, "-submitted")
    page, context = _page(request, form=form, sort=sort,
                          rows_qs=approval_list(user=request.user, filters=filters_of(form)))
    return render(request, "web/lists/approvals.html",
                  {**context, "rows": approval_rows(page.object_list), "service_level": SERVICE_LEVEL_DAYS})


@login_required
@role_required
def projects(request):
    if not may_list_projects(request.user):
        raise PermissionDenied("The projects list is for delivery, sales, Finance and their managers.")
    form = ProjectFilterForm(request.GET)
    sort = sort_of(request, PROJECT_SORTS, "-created")
    filters = filters_of(form)
    rows_qs = project_list(user=request.user, filters=filters)
    if filters.get("advance"):
        rows_qs = rows_qs.filter(projects_to_advance())
    if filters.get("mine"):
        rows_qs = rows_qs.filter(projects_of_engineer(request.user))
    page, context = _page(request, form=form, sort=sort, rows_qs=rows_qs)
    return render(request, "web/lists/projects.html", {**context, "rows": list(page.object_list)})


@login_required
@role_required
def invoices(request):
    if not may_list_invoices(request.user):
        raise PermissionDenied("Invoices are for Finance and the controller.")
    form = InvoiceFilterForm(request.GET)
    sort = sort_of(request, INVOICE_SORTS, "-created")
    filters = filters_of(form)
    rows_qs = invoice_list(user=request.user, filters=filters)
    if filters.get("overdue"):
        rows_qs = rows_qs.filter(invoices_overdue())
    page, context = _page(request, form=form, sort=sort, rows_qs=rows_qs)
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
    if not may_list_invoices(request.user):
        raise PermissionDenied("Collections are for Finance and the controller.")
    form = CollectionFilterForm(request.GET)
    sort = sort_of(request, COLLECTION_SORTS, "due")
    page, context = _page(request, form=form, sort=sort,
                          rows_qs=collection_cases(user=request.user, filters=filters_of(form)))
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
