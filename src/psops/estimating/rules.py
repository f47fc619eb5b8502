import rules

from psops.accounts import roles
from psops.accounts.rules import role
from psops.crm.rules import owns_deal


@rules.predicate
def scopes_deal(user, rom) -> bool:
    """The ROM's author, or the deal's owner (or the owner's manager)."""
    return rom is not None and (rom.created_by_id == user.pk or owns_deal(user, rom.opportunity))


is_scoper = role(roles.SALES_REP, roles.SOLUTIONS_ARCHITECT, roles.TAM)
rules.add_perm("estimating.revise_rom", is_scoper & scopes_deal)

# Beyond the calculator's tables, the engagement manager (a PS manager) prices the ROM.
rules.add_perm("estimating.estimate_manually", role(roles.PS_MANAGER))
