"""Who sees which deals: the one rule behind every list, search, figure and record page (decision 0008).

A person's *reach* follows their job:
- a sales rep sees the deals they own and those of the people who report to them;
- every other internal role works across the whole book (architects and TAMs scope any deal, PS delivers and
  reviews any, Finance bills any, directors and VPs oversee all), so sees every deal; so does a superuser;
- an account that holds no role yet sees nothing.
One person may hold several roles: the widest reach wins.

Everything else is seen through its deal: a PS opportunity, ROM, quote, SOW, project or invoice is visible exactly
when its deal is. `deal_scope` is the filter for querysets (in SQL, so lists and figures keep a fixed cost), `sees`
the same rule asked of one deal already in memory (record pages, `crm.view_deal`).
"""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Q

from psops.accounts import roles

from .models import Opportunity

Reach = Literal["all", "own", "none"]
ALL: Reach = "all"
OWN: Reach = "own"
NONE: Reach = "none"

# Every role is named in exactly one of these (tests/web/test_visibility.py checks), so a role added later must be
# given a reach on purpose rather than inherit one.
SEES_EVERY_DEAL = frozenset({
    roles.SOLUTIONS_ARCHITECT, roles.TAM, roles.TECHNICAL_ARCHITECT,
    roles.PS_MANAGER, roles.PS_ENGINEER, roles.DIRECTOR_PS, roles.DIR_CS,
    roles.FINANCE, roles.CONTROLLER,
    roles.VP_SALES, roles.VP_GLOBAL_SERVICES, roles.ADMINISTRATOR,
})
SEES_OWN_DEALS = frozenset({roles.SALES_REP})


def deal_reach(user: Any) -> Reach:
    if user is None or not getattr(user, "is_authenticated", False):
        return NONE
    if user.is_superuser:
        return ALL
    mine = roles.roles_of(user)
    if mine & SEES_EVERY_DEAL:
        return ALL
    if mine & SEES_OWN_DEALS:
        return OWN
    return NONE


def owned_by(user: Any, *, via: str = "") -> Q:
    """Records owned by `user` or by someone who reports to them (`via` leads from the model to the owner's record,
    e.g. "parent__" from a PS opportunity to its deal). Asked as "owner among these people", so the database reads
    the owner's index for the handful of people instead of joining every owner to test their manager."""
    from django.contrib.auth import get_user_model

    people = get_user_model().objects.filter(Q(pk=user.pk) | Q(manager=user)).values("pk")
    return Q(**{f"{via}owner__in": people})


def is_owner_or_manager(user: Any, record: Any) -> bool:
    """`owned_by` asked of one record that has an `owner`."""
    if record is None:
        return False
    if record.owner_id == user.pk:
        return True
    owner = record.owner
    return owner.manager_id is not None and owner.manager_id == user.pk


def deal_scope(user: Any, *, via: str = "") -> Q:
    """A filter keeping the deals `user` sees: for `Opportunity` itself, or with `via` for a model that reaches its
    deal through that path (`"parent__"` for PS opportunities, `"ps_opportunity__parent__"` for quotes, SOWs and
    projects). An empty filter for those who see every deal, so their queries are unchanged."""
    reach = deal_reach(user)
    if reach == ALL:
        return Q()
    if reach == OWN:
        return owned_by(user, via=via)
    return Q(**{f"{via}pk__in": []})


def sees(user: Any, deal: Opportunity | None) -> bool:
    """`deal_scope` asked of one deal."""
    if deal is None:
        return False
    reach = deal_reach(user)
    return reach == ALL or (reach == OWN and is_owner_or_manager(user, deal))


def account_scope(user: Any, *, via: str = "") -> Q:
    """A filter keeping the customer accounts `user` sees (and, with `via="account__"`, their contacts): every
    account for those who see every deal; for a sales rep, the accounts of the deals they see and the accounts they
    (or their reports) own; none for someone without a role."""
    reach = deal_reach(user)
    if reach == ALL:
        return Q()
    if reach == OWN:
        deals = Opportunity.objects.filter(deal_scope(user)).values("account_id")
        return owned_by(user, via=via) | Q(**{f"{via}pk__in": deals})
    return Q(**{f"{via}pk__in": []})
