import rules

from psops.accounts import roles
from psops.accounts.rules import role
from psops.crm.rules import owns_deal


@rules.predicate
def owns_quote_deal(user, quote) -> bool:
    return quote is not None and owns_deal(user, quote.ps_opportunity)


@rules.predicate
def writes_sow(user, sow) -> bool:
    return sow is not None and sow.author_id == user.pk


@rules.predicate
def owns_sow_deal(user, sow) -> bool:
    return sow is not None and owns_deal(user, sow.ps_opportunity)


is_sales = role(roles.SALES_REP)
is_pse = role(roles.PS_ENGINEER)
is_sow_reviewer = role(roles.PS_MANAGER, roles.DIR_CS, roles.DIRECTOR_PS)

rules.add_perm("sales.manage_quote", is_sales & owns_quote_deal)
rules.add_perm("sales.write_sow", is_pse)
rules.add_perm("sales.edit_sow", is_pse & writes_sow)
rules.add_perm("sales.review_sow", is_sow_reviewer)
rules.add_perm("sales.send_sow", (is_pse & writes_sow) | (is_sales & owns_sow_deal))
