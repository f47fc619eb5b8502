import rules

from psops.accounts import roles
from psops.accounts.rules import role
from psops.crm.rules import owns_deal


@rules.predicate
def on_project(user, project) -> bool:
    return project is not None and project.assignments.filter(engineer_id=user.pk).exists()


@rules.predicate
def owns_project_deal(user, project) -> bool:
    return project is not None and owns_deal(user, project.ps_opportunity)


is_ps_manager = role(roles.PS_MANAGER)
is_pse = role(roles.PS_ENGINEER)
is_sal_or_tam = role(roles.SALES_REP, roles.TAM)

rules.add_perm("delivery.manage_project", is_ps_manager)
rules.add_perm("delivery.deliver_project", (is_pse & on_project) | is_ps_manager)
rules.add_perm("delivery.log_time", is_pse & on_project)
rules.add_perm("delivery.send_sign_off", (role(roles.SALES_REP) & owns_project_deal) | role(roles.TAM))
