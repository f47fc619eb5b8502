"""Who may make documents and edit their templates. Seeing and downloading a document follows its deal
(crm.view_deal): whoever sees the deal sees its documents."""

import rules

from psops.accounts import roles
from psops.accounts.rules import is_administrator, role

from .models import Kind

# Who may (re)generate each kind of document: the people who work the record it prints.
GENERATORS = {
    Kind.ROM_SUMMARY: role(roles.SALES_REP, roles.SOLUTIONS_ARCHITECT, roles.TAM, roles.PS_MANAGER, roles.DIR_CS),
    Kind.QUOTE: role(roles.SALES_REP, roles.DIR_CS),
    Kind.SOW: role(roles.PS_ENGINEER, roles.PS_MANAGER, roles.SALES_REP),
    Kind.INVOICE: role(roles.FINANCE, roles.CONTROLLER),
    Kind.CREDIT_NOTE: role(roles.FINANCE, roles.CONTROLLER),
    Kind.SIGN_OFF: role(roles.SALES_REP, roles.TAM, roles.PS_MANAGER),
}


def generate_perm(kind: str) -> str:
    return f"documents.generate_{Kind(kind).value.replace('-', '_')}"


for _kind, _who in GENERATORS.items():
    rules.add_perm(generate_perm(_kind), _who | is_administrator)

rules.add_perm("documents.edit_template", is_administrator)
