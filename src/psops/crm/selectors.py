"""Reads of deals, shaped and scoped for the people who look at them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from psops.accounts import roles
from psops.accounts.roles import has_role

from .choices import OPEN_STAGES
from .models import Account, Contact, Opportunity, PSOpportunity
from .scope import NONE, account_scope, deal_reach, deal_scope, owned_by

ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=16, decimal_places=2))


def with_ps_total(qs: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    """Annotate each deal with the sum of its PS children's amounts (lost ones excluded). A subquery per deal, not a
    join grouped over every deal: a page of 25 sorted by anything else sums 25 deals' children, whatever the size."""
    children = (PSOpportunity.objects.filter(parent=OuterRef("pk")).exclude(stage="closed-lost").order_by()
                .values("parent").annotate(t=Sum("ps_amount")).values("t"))
    return qs.annotate(ps_total=Coalesce(Subquery(children, output_field=ZERO.output_field), ZERO))


def ps_total(opportunity: Opportunity) -> Decimal:
    total = (PSOpportunity.objects.filter(parent=opportunity).exclude(stage="closed-lost")
             .aggregate(t=Sum("ps_amount"))["t"])
    return total or Decimal("0.00")


def opportunity_list(*, user: Any, filters: dict | None = None) -> QuerySet[Opportunity]:
    """The deals this user sees (psops.crm.scope: a sales rep their own and their reports', other roles all, someone
    without a role none), with their PS totals. Filters: `stage`, `segment`, `q` (deal or account name)."""
    qs = with_ps_total(Opportunity.objects.filter(deal_scope(user)).select_related("account", "owner"))
    filters = filters or {}
    if filters.get("stage"):
        qs = qs.filter(stage=filters["stage"])
    if filters.get("segment"):
        qs = qs.filter(segment=filters["segment"])
    if filters.get("q"):
        qs = qs.filter(matching(filters["q"]))
    return qs


ACCOUNTS_MATCHED = 500  # a deal is found by its account's name among this many matching accounts at most


def matching(q: str) -> Q:
    """Deals whose name, or whose account's name, contains `q`. The accounts are found first (through the trigram
    index on PostgreSQL), so the deals are read through two indexes rather than by joining every deal to its
    account; a search matching more than ACCOUNTS_MATCHED accounts finds deals by the first of them only."""
    accounts = list(Account.objects.filter(name__icontains=q).order_by("pk").values_list("pk", flat=True)
                    [:ACCOUNTS_MATCHED])
    return Q(name__icontains=q) | Q(account_id__in=accounts)


def estimable_opportunity_list(*, user: Any) -> QuerySet[Opportunity]:
    """Open deals this user may build a ROM for (step 2), as `crm.estimate_opportunity` says: a sales rep their own
    and their reports' deals, a solutions architect or TAM any deal."""
    qs = Opportunity.objects.filter(stage__in=OPEN_STAGES).select_related("account").order_by("account__name", "name")
    if user.is_superuser or has_role(user, roles.SOLUTIONS_ARCHITECT, roles.TAM):
        return qs
    if has_role(user, roles.SALES_REP):
        return qs.filter(owned_by(user))
    return qs.none()


def may_list_deals(user: Any) -> bool:
    """Anyone who holds a role reads the deals list (a sales rep sees only their own rows, as `opportunity_list`
    scopes them); an account without any role sees none."""
    return deal_reach(user) != NONE


def account_search(*, user: Any, q: str, limit: int = 25) -> list[Account]:
    """Accounts whose name contains `q`, among those this user sees (psops.crm.scope.account_scope)."""
    return list(Account.objects.filter(account_scope(user), name__icontains=q).order_by("name")[:limit])


def contact_search(*, user: Any, q: str, limit: int = 25) -> list[Contact]:
    """Contacts whose name or e-mail contains `q`, at the accounts this user sees."""
    return list(Contact.objects.filter(account_scope(user, via="account__"))
                .filter(Q(name__icontains=q) | Q(email__icontains=q))
                .select_related("account").order_by("name")[:limit])
