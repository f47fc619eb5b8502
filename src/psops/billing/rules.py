import rules

from psops.accounts import roles
from psops.accounts.rules import role

is_finance = role(roles.FINANCE)
rules.add_perm("billing.manage_invoices", is_finance)
rules.add_perm("billing.approve_write_off", role(roles.CONTROLLER))
