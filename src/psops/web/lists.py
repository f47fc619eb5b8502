"""What the list pages share: their filter forms (GET) and sorting by a whitelist of columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest

from psops.approvals.models import ApprovalRequest
from psops.approvals.selectors import approval_list, may_list_approvals
from psops.billing.models import Invoice
from psops.billing.selectors import collection_cases, invoice_list, may_list_invoices
from psops.crm.choices import Segment, Stage
from psops.crm.selectors import may_list_deals, opportunity_list
from psops.delivery.models import Project
from psops.delivery.selectors import may_list_projects, project_list
from psops.workflow.selectors import invoices_overdue, my_open_deals, projects_of_engineer, projects_to_advance


def _any(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


class DealFilterForm(forms.Form):
    q = forms.CharField(label="Account or deal", required=False, max_length=100)
    stage = forms.ChoiceField(label="Stage", required=False, choices=_any("Any stage", Stage.choices))
    segment = forms.ChoiceField(label="Segment", required=False, choices=_any("Any segment", Segment.choices))
    mine = forms.BooleanField(label="My open deals (and my reports')", required=False)


class ApprovalFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False,
                              choices=_any("Any state", ApprovalRequest.State.choices))
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "ROMs and quotes"), ("rom", "ROM"),
                                                                   ("quote", "Quote")])
    waiting = forms.BooleanField(label="Waiting for my decision", required=False)


class ProjectFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=_any("Any state", Project.State.choices))
    advance = forms.BooleanField(label="To staff or advance (PS manager)", required=False)
    mine = forms.BooleanField(label="My open projects", required=False)


class InvoiceFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=_any("Any state", Invoice.State.choices))
    overdue = forms.BooleanField(label="Overdue", required=False)


class CollectionFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=[("", "Open"), ("closed", "Closed (paid)"),
                                                                     ("all", "Open and closed")])
    disputed = forms.BooleanField(label="Disputed", required=False)
    due = forms.BooleanField(label="Due for a reminder", required=False)


def filters_of(form: forms.Form) -> dict:
    """The filters the user set, leaving out any that did not validate (the form shows why beside them)."""
    form.is_valid()
    return {name: value for name, value in getattr(form, "cleaned_data", {}).items() if value}


@dataclass(frozen=True)
class Sort:
    key: str  # as it stands in the address: "close" or "-close"
    order_by: tuple[str, ...]

    @property
    def column(self) -> str:
        return self.key.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.key.startswith("-")


def sort_of(request: HttpRequest, columns: dict[str, str], default: str) -> Sort:
    """The ?sort= of the request when it names a column of the whitelist (a leading "-" sorts descending), else the
    default. Ties are broken by id, so pages never overlap."""
    key = (request.GET.get("sort") or "").strip()
    if key.removeprefix("-") not in columns:
        key = default
    field = columns[key.removeprefix("-")]
    sign = "-" if key.startswith("-") else ""
    return Sort(key, (f"{sign}{field}", f"{sign}pk"))


# --- The lists themselves: one definition each, read by the list pages and the API alike ----------------------------

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


@dataclass(frozen=True)
class Listing:
    """A list: who may read it (`may`, else `refusal`), its filters (a GET form), the columns it sorts by, and its
    rows for a user and the filters they set (scoped in SQL by the selector)."""

    form: type[forms.Form]
    sorts: dict[str, str]
    default_sort: str
    may: Callable[[Any], bool]
    refusal: str
    rows: Callable[[Any, dict], QuerySet]
    name: str = ""  # the page's address and its exports' ("deals": /deals/, /deals/export.csv)


def _deals(user, filters: dict) -> QuerySet:
    rows = opportunity_list(user=user, filters=filters)
    return rows.filter(my_open_deals(user)) if filters.get("mine") else rows


def _projects(user, filters: dict) -> QuerySet:
    rows = project_list(user=user, filters=filters)
    if filters.get("advance"):
        rows = rows.filter(projects_to_advance())
    if filters.get("mine"):
        rows = rows.filter(projects_of_engineer(user))
    return rows


def _invoices(user, filters: dict) -> QuerySet:
    rows = invoice_list(user=user, filters=filters)
    return rows.filter(invoices_overdue()) if filters.get("overdue") else rows


DEALS = Listing(DealFilterForm, DEAL_SORTS, "close", may_list_deals, "The deals list is for people who hold a role.",
                _deals, "deals")
APPROVALS = Listing(ApprovalFilterForm, APPROVAL_SORTS, "-submitted", may_list_approvals,
                    "The approvals list is for approvers and the people who ask for approvals.",
                    lambda user, filters: approval_list(user=user, filters=filters), "approvals")
PROJECTS = Listing(ProjectFilterForm, PROJECT_SORTS, "-created", may_list_projects,
                   "The projects list is for delivery, sales, Finance and their managers.", _projects,
                   "projects")
INVOICES = Listing(InvoiceFilterForm, INVOICE_SORTS, "-created", may_list_invoices,
                   "Invoices are for Finance and the controller.", _invoices, "invoices")
COLLECTIONS = Listing(CollectionFilterForm, COLLECTION_SORTS, "due", may_list_invoices,
                      "Collections are for Finance and the controller.",
                      lambda user, filters: collection_cases(user=user, filters=filters), "collections")
LISTINGS = {listing.name: listing for listing in (DEALS, APPROVALS, PROJECTS, INVOICES, COLLECTIONS)}
