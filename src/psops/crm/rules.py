"""Who may act on accounts and deals."""

import rules

from psops.accounts import roles
from psops.accounts.rules import is_administrator, role

from . import scope


@rules.predicate
def owns_deal(user, deal) -> bool:
    """The deal's owner, or the owner's manager."""
    return scope.is_owner_or_manager(user, deal)


is_sales = role(roles.SALES_REP)
is_scoper = role(roles.SALES_REP, roles.SOLUTIONS_ARCHITECT, roles.TAM)

rules.add_perm("crm.create_account", is_sales | is_administrator)
rules.add_perm("crm.create_opportunity", is_sales | is_administrator)
rules.add_perm("crm.advance_opportunity", (is_sales & owns_deal) | is_administrator)
rules.add_perm("crm.reopen_opportunity", is_administrator)
rules.add_perm("crm.name_deal_team", owns_deal | is_administrator)
rules.add_perm("crm.create_ps_opportunity", is_sales & owns_deal)
rules.add_perm("crm.submit_rom", is_sales & owns_deal)
rules.add_perm("crm.change_ps_opportunity", is_sales & owns_deal)
# Step 2: the SAL or the SA (the TAM where there is no SA) builds the ROM for a deal.
# A sales rep estimates their own deals; architects and TAMs scope any deal.
rules.add_perm("crm.estimate_opportunity", (is_sales & owns_deal) | role(roles.SOLUTIONS_ARCHITECT, roles.TAM))


@rules.predicate
def sees_deal(user, deal) -> bool:
    """The deal is within the user's reach (psops.crm.scope: sales reps their own deals and their reports', other
    internal roles every deal, someone without a role none)."""
    return scope.sees(user, deal)


rules.add_perm("crm.view_deal", sees_deal)
