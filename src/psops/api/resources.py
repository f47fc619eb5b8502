"""What the API reads: each kind of record, the model behind it, how it reaches its deal, and its list.

The four lists that have a page (deals, approvals, projects, invoices) are those pages' own definitions
(psops.web.lists): the same filters, sort columns, scope and "who may read it". The others are read through their
deal (psops.crm.scope.deal_scope), by anyone who holds a role, filtered by state and deal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db import models

from psops.approvals.models import ApprovalRequest
from psops.billing.models import CollectionCase, Invoice
from psops.crm.models import Account, Contact, Opportunity, PSOpportunity
from psops.crm.scope import account_scope, deal_scope
from psops.crm.selectors import may_list_deals
from psops.delivery.models import Project
from psops.estimating.models import Rom
from psops.sales.models import Quote, Sow
from psops.web import lists
from psops.web.lists import Listing


@dataclass(frozen=True)
class Resource:
    model_name: str  # the record page's kind, or "account"/"contact" (read-only, no page of their own)
    path: str
    model: type[models.Model]
    title: str  # for the OpenAPI tags: "Deals"
    listing: Listing
    exclude: tuple[str, ...] = ()
    every: tuple[tuple[str, str], ...] = ()  # the list's filters that show every record (the detail reads through)


def _through_deal(model: type[models.Model], via: str, state_field: str) -> Listing:
    states: Any = getattr(model._meta.get_field(state_field), "choices", None) or []

    class Filters(forms.Form):
        state = forms.ChoiceField(required=False, choices=[("", "Any"), *states])
        deal = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                  help_text="Only the records of this deal (opportunity id).")

    def rows(user, filters: dict):
        qs = model._default_manager.filter(deal_scope(user, via=via))
        if filters.get("state"):
            qs = qs.filter(**{state_field: filters["state"]})
        if filters.get("deal"):
            qs = qs.filter(**{f"{via}pk": filters["deal"]})
        return qs

    Filters.__name__ = f"{model.__name__}Filters"
    return Listing(Filters, {"created": "created_at", "state": state_field}, "-created", may_list_deals,
                   "Lists are for people who hold a role.", rows)


def _accounts() -> Listing:
    class Filters(forms.Form):
        q = forms.CharField(required=False, max_length=100, help_text="Part of the account's name.")

    def rows(user, filters: dict):
        qs = Account.objects.filter(account_scope(user))
        return qs.filter(name__icontains=filters["q"]) if filters.get("q") else qs

    return Listing(Filters, {"name": "name", "created": "created_at"}, "name", may_list_deals,
                   "Lists are for people who hold a role.", rows)


def _contacts() -> Listing:
    class Filters(forms.Form):
        account = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
        q = forms.CharField(required=False, max_length=100, help_text="Part of the name or e-mail.")

    def rows(user, filters: dict):
        qs = Contact.objects.filter(account_scope(user, via="account__"))
        if filters.get("account"):
            qs = qs.filter(account_id=filters["account"])
        if filters.get("q"):
            qs = qs.filter(models.Q(name__icontains=filters["q"]) | models.Q(email__icontains=filters["q"]))
        return qs

    return Listing(Filters, {"name": "name", "email": "email"}, "name", may_list_deals,
                   "Lists are for people who hold a role.", rows)


RESOURCES: list[Resource] = [
    Resource("account", "accounts", Account, "Accounts", _accounts()),
    Resource("contact", "contacts", Contact, "Contacts", _contacts()),
    Resource("opportunity", "opportunities", Opportunity, "Deals", lists.DEALS,
             exclude=("inactivity_warned_at",)),
    Resource("psopportunity", "ps-opportunities", PSOpportunity, "PS opportunities",
             _through_deal(PSOpportunity, "parent__", "stage")),
    Resource("rom", "roms", Rom, "ROMs", _through_deal(Rom, "opportunity__", "status")),
    Resource("approvalrequest", "approvals", ApprovalRequest, "Approvals", lists.APPROVALS),
    Resource("quote", "quotes", Quote, "Quotes", _through_deal(Quote, "ps_opportunity__parent__", "state")),
    Resource("sow", "sows", Sow, "Statements of work", _through_deal(Sow, "ps_opportunity__parent__", "state")),
    Resource("project", "projects", Project, "Projects", lists.PROJECTS),
    Resource("invoice", "invoices", Invoice, "Invoices", lists.INVOICES),
    Resource("collectioncase", "collections", CollectionCase, "Collections", lists.COLLECTIONS,
             every=(("state", "all"),)),
]
